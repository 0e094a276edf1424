"""pyvirsh's entry point: global options, the root click group, and the run modes.

    pyvirsh [OPTIONS]                        interactive shell (or a script on stdin)
    pyvirsh [OPTIONS] 'cmd a; cmd b'         one command string
    pyvirsh [OPTIONS] cmd arg...             one command, each argument one word

Global options are read the way virsh reads them (getopt: short options may be
bundled, long options may be abbreviated, the first non-option word ends them),
so the error messages are virsh's. Commands are loaded lazily from the static
table in pyvirsh.commands: a one-shot command imports only its own module.
"""

from __future__ import annotations

import os
import sys
import time

from .lazyimport import defer

defer("inspect")        # see pyvirsh/lazyimport.py: click needs it only at run time

import click  # noqa: E402

from . import __version__
from .commands import GROUPS, TABLE
from .errors import CommandError, ConnectError
from .parsing import ArgvTokenizer, CommandTable, ParseError, StringTokenizer, bind
from .session import Session


class RootGroup(click.Group):
    """The root of the command tree; commands come from the static table on demand."""

    def get_command(self, ctx, name):
        entry = TABLE.get(name)
        if entry is None:
            return None
        from .declare import REGISTRY
        if name not in REGISTRY:
            __import__("pyvirsh.commands." + entry[0])
        return REGISTRY[name]


root = RootGroup("pyvirsh", help="virsh-compatible virtualization shell")


class _TreeTable(CommandTable):
    """The binder's view of the click tree."""

    def options(self, command):
        cmd = root.get_command(None, command)
        return None if cmd is None else cmd.specs


TREE = _TreeTable()


# --------------------------------------------------------------------------
# Running bound commands
# --------------------------------------------------------------------------

def _canonical_args(cmd, values: dict) -> list[str]:
    """The bound options as an unambiguous click argv: --name=value, --flag."""
    args = []
    for spec in cmd.specs:
        value = values.get(spec.name)
        if value is None or value is False:
            continue
        if value is True:
            args.append("--" + spec.name)
        elif isinstance(value, list):
            args.extend("--%s=%s" % (spec.name, v) for v in value)
        else:
            args.append("--%s=%s" % (spec.name, value))
    return args


def run_one(ctl: Session, bound) -> bool:
    """Run one bound command; report its failure as virsh does. True on success."""
    from .drivers.api import DriverError

    cmd = root.get_command(None, bound.name)
    try:
        if cmd.needs_connection and not ctl.connected:
            raise CommandError("no valid connection")
        parent = click.Context(root, info_name="pyvirsh", obj=ctl)
        with cmd.make_context(bound.name, _canonical_args(cmd, bound.values), parent=parent) as ctx:
            result = cmd.invoke(ctx)
        return result is not False
    except CommandError as err:
        for line in err.lines:
            ctl.error(line)
    except DriverError as err:
        ctl.error(str(err))
    except ConnectError as err:
        report_connect_error(ctl, err)
    except click.ClickException as err:     # a declaration bug, never user input
        ctl.error("internal error: %s" % err.format_message())
    except BrokenPipeError:
        raise
    except Exception as err:                 # noqa: BLE001 - no traceback reaches a user
        report_internal_error(ctl, err)
    return False


def report_internal_error(ctl: Session, err: Exception) -> None:
    """A bug, not bad input: one error line; the traceback only when asked for (-d N)."""
    ctl.error("internal error: %s: %s" % (type(err).__name__, err))
    if ctl.debug >= 0 or os.environ.get("PYVIRSH_TRACEBACK"):
        import traceback
        traceback.print_exc()


def run_commands(ctl: Session, commands) -> bool:
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


def parse_string(text: str):
    return bind(StringTokenizer(text), TREE)


# --------------------------------------------------------------------------
# Global options (virsh's getopt_long with "+:c:d:e:hk:K:l:qrtvV")
# --------------------------------------------------------------------------

# (long name, short letter, argument: "no" | "required" | "optional", help for completion);
# the one table the parser below and shell completion read. usage_text() keeps
# virsh's own layout of the same options.
GLOBAL_OPTIONS = [
    ("connect", "c", "required", "hypervisor connection URI"),
    ("debug", "d", "required", "debug level [0-4]"),
    ("escape", "e", "required", "set escape sequence for console"),
    ("help", "h", "no", "this help"),
    ("keepalive-interval", "k", "required", "keepalive interval in seconds, 0 for disable"),
    ("keepalive-count", "K", "required", "number of possible missed keepalive messages"),
    ("log", "l", "required", "output logging to file"),
    ("quiet", "q", "no", "quiet mode"),
    ("readonly", "r", "no", "connect readonly"),
    ("timing", "t", "no", "print timing information"),
    ("version", "v", "optional", "short version (--version=long: long version)"),
    (None, "V", "no", "long version"),
    # pyvirsh's own, beyond virsh (long form only):
    ("json", None, "no", "print results as JSON"),
    ("no-color", None, "no", "never colour the output"),
]
# long name -> (the letter it stands for, or the long name itself; argument kind)
_LONG_OPTIONS = {long: (short or long, kind) for long, short, kind, _ in GLOBAL_OPTIONS if long}
_SHORT_WITH_ARG = {short for _, short, kind, _ in GLOBAL_OPTIONS if short and kind == "required"}
_SHORT_FLAGS = {short for _, short, kind, _ in GLOBAL_OPTIONS if short and kind != "required"}


class UsageError(Exception):
    def __init__(self, message: str, missing_argument_of: str | None = None):
        super().__init__(message)
        self.missing_argument_of = missing_argument_of     # long name, when the last option lacks its value


def _read_globals(argv: list[str]):
    """Yield (letter, argument) pairs and return the index of the first command word."""
    opts = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return opts, i + 1
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            matches = [n for n in _LONG_OPTIONS if n == name] or \
                [n for n in _LONG_OPTIONS if n.startswith(name)]
            if len(matches) != 1 or not name:
                raise UsageError("unsupported option '%s'. See --help." % word)
            letter, kind = _LONG_OPTIONS[matches[0]]
            if kind == "no" and eq:
                raise UsageError("unsupported option '%s'. See --help." %
                                 (("-" + letter) if len(letter) == 1 else word))
            if kind == "required" and not eq:
                if i + 1 >= len(argv):
                    raise UsageError("option '-%s'/'--%s' requires an argument" % (letter, matches[0]), matches[0])
                i += 1
                value = argv[i]
                eq = "="
            opts.append((letter, value if eq else None))
            i += 1
            continue
        if word.startswith("-") and len(word) > 1:
            j = 1
            while j < len(word):
                letter = word[j]
                if letter in _SHORT_WITH_ARG:
                    value = word[j + 1:]
                    if not value:
                        if i + 1 >= len(argv):
                            long_name = next(n for n, (s, _) in _LONG_OPTIONS.items() if s == letter)
                            raise UsageError("option '-%s'/'--%s' requires an argument" % (letter, long_name),
                                             long_name)
                        i += 1
                        value = argv[i]
                    opts.append((letter, value))
                    break
                if letter in _SHORT_FLAGS:
                    opts.append((letter, None))
                    j += 1
                    continue
                raise UsageError("unsupported option '-%s'. See --help." % letter)
            i += 1
            continue
        return opts, i
    return opts, i


def _parse_escape(value: str) -> bool:
    if len(value) == 1:
        return True
    return len(value) == 2 and value[0] == "^" and (value[1].isalpha() or value[1] in "@[\\]^_")


def usage_text() -> str:
    lines = [
        "",
        "pyvirsh [options]... [<command_string>]",
        "pyvirsh [options]... <command> [args...]",
        "",
        "  options:",
        "    -c | --connect=URI      hypervisor connection URI",
        "    -d | --debug=NUM        debug level [0-4]",
        "    -e | --escape <char>    set escape sequence for console",
        "    -h | --help             this help",
        "    -k | --keepalive-interval=NUM",
        "                            keepalive interval in seconds, 0 for disable",
        "    -K | --keepalive-count=NUM",
        "                            number of possible missed keepalive messages",
        "    -l | --log=FILE         output logging to file",
        "    -q | --quiet            quiet mode",
        "    -r | --readonly         connect readonly",
        "    -t | --timing           print timing information",
        "    -v                      short version",
        "    -V                      long version",
        "         --version[=TYPE]   version, TYPE is short or long (default short)",
        "         --json             print results as JSON (list, dominfo, domstate, domblklist,",
        "                            domblkinfo, blockjob, snapshot-list, snapshot-info, nodeinfo)",
        "         --no-color         never colour the output (also: NO_COLOR=1)",
        "  commands (non interactive mode):",
        "",
    ]
    from .commands.helptext import command_lines
    for keyword, title in GROUPS.items():
        lines += [" %s (help keyword '%s')" % (title, keyword)] + command_lines(keyword) + [""]
    lines += ["", "  (specify help <group> for details about the commands in the group)", "",
              "  (specify help <command> for details about the command)", ""]
    return "\n".join(lines) + "\n"


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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--driver-stdio"]:
        # The far end of a DRIVER+ssh:// connection (drivers/remote/server.py), not a shell.
        from .drivers.remote.server import main as serve_stdio
        return serve_stdio(argv[1:])
    if argv[:1] == ["--hosts"] or argv[:1] and argv[0].startswith("--hosts="):
        # One command line on many hosts in parallel (pyvirsh/fanout.py).
        from .fanout import main as fan_out
        return fan_out(argv[1:] if argv[0] == "--hosts" else [argv[0][len("--hosts="):]] + argv[1:])
    instruction = os.environ.get("_PYVIRSH_COMPLETE")
    if instruction:
        # A TAB in bash, zsh or fish (see pyvirsh/shellscripts.py): answer and stop.
        from .shellscripts import answer
        try:
            sys.stdout.write(answer(instruction))
        except Exception:       # noqa: BLE001 - completion never shows a traceback
            pass
        return 0
    ctl = Session()
    try:
        return _main(ctl, argv)
    except BrokenPipeError:
        # A reader that went away (pyvirsh list | head -1): stop quietly, like virsh.
        try:
            sys.stdout = open(os.devnull, "w")
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
        ctl.close()
        ctl.out.flush_json_errors()
        ctl.out.flush()


def _main(ctl: Session, argv: list[str]) -> int:
    try:
        opts, first = _read_globals(argv)
    except UsageError as err:
        ctl.error(str(err))
        return 1

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
        ctl.error(str(err))
        return 1

    try:
        ctl.connect()
    except ConnectError as err:
        report_connect_error(ctl, err)
        return 1
    return 0 if run_commands(ctl, commands) else 1


def report_connect_error(ctl: Session, err: ConnectError) -> None:
    if err.preamble:
        ctl.out.stdout.flush()
        ctl.out.stderr.write(err.preamble)
    for line in err.lines:
        ctl.error(line)


def _to_int(text):
    from .values import to_int
    return to_int(text, -2**31, 2**31 - 1)
