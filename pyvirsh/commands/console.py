"""Domain Management: console, virsh's interactive serial console (cmdConsole and
cmdRunConsole in virsh 9.0). The terminal work is pyvirsh.consoleterm; the device, its
exclusive use and --force are the driver's (Domain.open_console)."""

from __future__ import annotations

import sys

from ..declare import command, flag, string
from ..errors import CommandError
from .common import domain_option, flag_bits, lookup_domain


@command("console", "Connect the virtual serial console for the guest")
@domain_option()
@string("devname", "character device name", empty_ok=True)
@flag("force", "force console connection (disconnect already connected sessions)")
@flag("safe", "only connect if safe console handling is supported")
def console(ctl, domain, devname, force, safe):
    from ..drivers.api import ConsoleFlags

    dom = lookup_domain(ctl, domain)
    if devname == "":       # virsh reads --devname after the domain
        raise CommandError("Failed to get option 'devname': Option argument is empty")
    run_console(ctl, dom, devname, flag_bits((force, ConsoleFlags.FORCE), (safe, ConsoleFlags.SAFE)))
    return True


class SessionFailed(CommandError):
    """The session could not start or ended badly: libvirt's error (virsh prints it only when
    the command fails, so `create --console` stays silent about it)."""


def run_console(ctl, dom, devname: str | None = None, flags: int = 0) -> None:
    """virsh's cmdRunConsole: the checks and greeting (CommandError: virsh's own errors,
    printed at once), then the session (SessionFailed)."""
    from ..drivers.api import DomainState, DriverError

    try:
        state, _ = dom.get_state()
    except DriverError:
        raise CommandError("Unable to get domain status") from None
    if state == DomainState.SHUTOFF:
        raise CommandError("The domain is not running")
    if not sys.stdin.isatty():
        raise CommandError("Cannot run interactive console without a controlling TTY")
    escape = ctl.escape
    ctl.print_extra("Connected to domain '%s'\n" % dom.name)
    ctl.print_extra("Escape character is %s" % escape)
    if escape.startswith("^"):
        ctl.print_extra(" (Ctrl + %s)" % escape[1])
    ctl.print_extra("\n")
    ctl.out.flush()
    _session(dom, devname, flags, escape)


def _session(dom, devname, flags: int, escape: str) -> None:
    from .. import consoleterm
    from ..drivers.api import DriverError

    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    # As virsh: raw mode first, then the device; an error is shown on the restored terminal.
    with consoleterm.RawTerminal(stdin):
        try:
            stream = dom.open_console(devname, flags)
        except DriverError as err:
            failure = SessionFailed(str(err))
        else:
            failure = None
            try:
                consoleterm.relay(stream, consoleterm.escape_byte(escape), stdin, stdout)
            except DriverError as err:
                failure = SessionFailed(str(err))
            except consoleterm.StdinClosed:
                failure = SessionFailed("internal error: EOF on stdin")
            except consoleterm.Signalled as sig:
                failure = SystemExit(128 + sig.signum)
            finally:
                stream.close()
    if failure is not None:
        raise failure
