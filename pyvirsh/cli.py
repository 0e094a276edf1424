"""pyvirsh's entry point: the global options, then one of the run modes.

    pyvirsh [OPTIONS]                        interactive shell (or a script on stdin)
    pyvirsh [OPTIONS] 'cmd a; cmd b'         one command string
    pyvirsh [OPTIONS] cmd arg...             one command, each argument one word

Nothing imports this module: the global options are pyvirsh.globalopts, the
command tree pyvirsh.tree, running commands pyvirsh.runner. A one-shot command
imports its own command module and what it uses, nothing else (no click).
"""

from __future__ import annotations

import gc
import os
import sys

from . import __version__
from .errors import ConnectError
from .globalopts import UsageError, read_globals
from .parsing import ArgvTokenizer, ParseError, StringTokenizer, bind
from .runner import report_connect_error, report_internal_error, run_commands
from .session import Session
from .tree import TREE


def _parse_escape(value: str) -> bool:
    if len(value) == 1:
        return True
    return len(value) == 2 and value[0] == "^" and (value[1].isalpha() or value[1] in "@[\\]^_")


def long_version() -> str:
    return ("pyvirsh command line tool %s\n"
            "A virsh-compatible shell without a daemon.\n"
            "\n"
            "Compiled with support for:\n"
            " Hypervisors: QEMU/KVM Test\n"
            " Storage: Dir\n"
            " Miscellaneous: Readline\n" % __version__)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    whole_process = argv is None        # bin/pyvirsh, python -m pyvirsh; not a test's call
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--driver-stdio"]:
        # The far end of a DRIVER+ssh:// connection (drivers/remote/server.py), not a shell.
        from .drivers.remote.server import main as serve_stdio
        return serve_stdio(argv[1:])
    if argv[:1] == ["--driver-serve"]:
        # The warm far server of shared DRIVER+ssh:// connections (drivers/remote/farserver.py).
        from .drivers.remote.farserver import main as serve_shared
        return serve_shared(argv[1:])
    instruction = os.environ.get("_PYVIRSH_COMPLETE")
    if instruction:
        # A TAB in bash, zsh or fish (see pyvirsh/shellscripts.py): answer and stop.
        from .shellscripts import answer
        try:
            sys.stdout.write(answer(instruction))
        except Exception:       # noqa: BLE001, S110 - completion never shows a traceback
            pass
        return 0
    # Start-up (the command's module, the driver) makes thousands of objects that live as long
    # as the process and are no garbage: the cycle collector's passes over them cost a one-shot
    # command some 1.5 ms for nothing. It collects again once the commands run (collect_again).
    collecting = gc.isenabled()
    gc.disable()

    def collect_again() -> None:
        if collecting and not gc.isenabled():
            if whole_process:
                # they stay out of every later pass too (in a test's process, whose objects
                # are not all pyvirsh's, they are left where they are)
                gc.freeze()
            gc.enable()

    ctl = Session()
    try:
        return _main(ctl, argv, collect_again)
    except BrokenPipeError:
        # A reader that went away (pyvirsh list | head -1): stop quietly, like virsh.
        try:
            # Replaces the closed stdout for the rest of the process: no `with`.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 1
    except KeyboardInterrupt:
        ctl.out.flush()
        return 130
    except Exception as err:        # noqa: BLE001 - no Python traceback ever reaches a user
        report_internal_error(ctl, err)
        return 1
    finally:
        collect_again()
        ctl.close()
        ctl.out.flush_json_errors()
        ctl.out.flush()


def _main(ctl: Session, argv: list[str], collect_again) -> int:
    try:
        opts, first = read_globals(argv)
    except UsageError as err:
        ctl.error(str(err))
        return 1
    hosts = [value for letter, value in opts if letter == "hosts"]
    if hosts:
        # One command line on many hosts in parallel (pyvirsh/fanout.py): the other global
        # options and the command go to every host.
        from .fanout import run as fan_out
        from .globalopts import without_option
        collect_again()
        return fan_out([hosts[-1]] + without_option(argv, first, "hosts") + argv[first:], main)

    keepalive = False
    for letter, value in opts:
        if letter == "c":
            ctl.requested_uri = value
        elif letter == "d":
            level = _to_int(value)
            if level is None:
                ctl.error("option -d takes a numeric argument")
                return 1
            if not 0 <= level <= 4:
                ctl.error("ignoring debug level %d out of range [0-4]" % level)
            else:
                ctl.debug = level
        elif letter == "e":
            if not _parse_escape(value):
                ctl.error("Invalid string '%s' for escape sequence" % value)
                return 1
            ctl.escape = value
        elif letter in "kK":
            number = _to_int(value)
            if number is None:
                ctl.error("Invalid value for option -%s" % letter)
                return 1
            if number < 0:
                ctl.error("option -%s requires a positive integer argument" % letter)
                return 1
            if letter == "K" or number > 0:
                keepalive = True
        elif letter == "h":
            from .commands.helptext import usage_text
            ctl.print(usage_text())
            return 0
        elif letter == "q":
            ctl.out.quiet = True
        elif letter == "r":
            ctl.readonly = True
        elif letter == "t":
            ctl.timing = True
        elif letter == "v":
            if value == "long":
                ctl.print(long_version())
            else:
                ctl.print(__version__ + "\n")
            return 0
        elif letter == "V":
            ctl.print(long_version())
            return 0
        elif letter == "json":
            ctl.out.json = True
        elif letter == "no-color":
            ctl.out.colour_allowed = False
        # -l FILE is accepted for compatibility; pyvirsh keeps no client log.
    ctl.keepalive = keepalive

    words = argv[first:]
    if not words:
        from .shell import run_shell
        collect_again()
        return run_shell(ctl)

    if len(words) == 1:
        if words[0] == "":
            return 1
        tokenizer = StringTokenizer(words[0])
    else:
        tokenizer = ArgvTokenizer(words)
    try:
        commands = bind(tokenizer, TREE)
    except ParseError as err:
        for message in err.messages:
            ctl.error(message)
        return 1

    try:
        ctl.connect()
    except ConnectError as err:
        report_connect_error(ctl, err)
        return 1
    collect_again()
    return 0 if run_commands(ctl, commands) else 1


def _to_int(text):
    from .values import to_int
    return to_int(text, -2**31, 2**31 - 1)


def finish(code: int) -> None:
    """End the process with main's exit status. Python's own teardown frees every module and
    object one by one (tens of milliseconds after a command that loaded the QEMU driver) and
    nobody waits for it: once the output is flushed, and when no thread, atexit handler,
    profiler or tracer (cProfile, coverage) is left to run, the process ends at once; otherwise
    the ordinary way."""
    import atexit
    threading = sys.modules.get("threading")
    if getattr(atexit, "_ncallbacks", lambda: 1)() == 0 and (threading is None or threading.active_count() == 1) \
            and sys.getprofile() is None and sys.gettrace() is None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass            # the ordinary exit reports it as it always did
        else:
            os._exit(code)
    sys.exit(code)
