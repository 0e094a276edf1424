"""Running bound commands, and reporting their failures as virsh does.

The binder (pyvirsh.parsing) has already read every command of the input; a
command's function gets the bound values as they are (pyvirsh.declare.Command.call).
The one-shot entry point (pyvirsh.cli) and the shell (pyvirsh.shell) both run here.
"""

from __future__ import annotations

import os
import time

from .errors import CommandError, ConnectError
from .parsing import StringTokenizer, bind
from .tree import TREE, command


def parse_string(text: str):
    """A command string's commands, bound; raises ParseError."""
    return bind(StringTokenizer(text), TREE)


def run_one(ctl, bound) -> bool:
    """Run one bound command; report its failure as virsh does. True on success."""
    from .drivers.api import DriverError

    cmd = command(bound.name)
    try:
        if cmd.needs_connection and not ctl.connected:
            raise CommandError("no valid connection")
        ok = cmd.call(ctl, bound.values) is not False
        show_notices(ctl)
        return ok
    except CommandError as err:
        show_notices(ctl)
        for line in err.lines:
            ctl.error(line)
    except DriverError as err:
        show_notices(ctl)
        ctl.error(str(err))
    except ConnectError as err:
        report_connect_error(ctl, err)
    except BrokenPipeError:
        raise
    except Exception as err:                 # noqa: BLE001 - no traceback reaches a user
        report_internal_error(ctl, err)
    return False


def show_notices(ctl) -> None:
    """What the driver repaired on its own during the command (drivers/notices.py), as
    `warning: ...` lines on stderr before any error of the command."""
    from .drivers.notices import take
    for message in take():
        ctl.out.flush()
        ctl.out.stderr.write("warning: %s\n" % message)


def run_commands(ctl, commands) -> bool:
    """Run commands in order; the result is the last one's (vshCommandRun)."""
    ok = True
    for bound in commands:
        before = time.perf_counter()
        ok = run_one(ctl, bound)
        after = time.perf_counter()
        if ctl.quit_requested:
            return ok
        if ctl.out.json:
            ctl.out.flush_json_errors()     # JSON output is one document per command, no blank line
        elif ctl.timing:
            ctl.print("\n(Time: %.3f ms)\n\n" % ((after - before) * 1000.0))
        else:
            ctl.print_extra("\n")
    return ok


def connect(ctl) -> bool:
    """Open the session's connection; report a failure as virsh does."""
    try:
        ctl.connect()
    except ConnectError as err:
        report_connect_error(ctl, err)
        return False
    return True


def report_connect_error(ctl, err: ConnectError) -> None:
    if err.preamble:
        ctl.out.stdout.flush()
        ctl.out.stderr.write(err.preamble)
    for line in err.lines:
        ctl.error(line)


def report_internal_error(ctl, err: Exception) -> None:
    """A bug, not bad input: one error line; the traceback only when asked for (-d N)."""
    ctl.error("internal error: %s: %s" % (type(err).__name__, err))
    if ctl.debug >= 0 or os.environ.get("PYVIRSH_TRACEBACK"):
        import traceback
        traceback.print_exc()
