"""The interactive shell: prompt_toolkit on a terminal, virsh's line-by-line
script mode when stdin is a pipe. Both parse with virsh's command language and
run through the same command tree and the same connection."""

from __future__ import annotations

import os
import sys

from .parsing import ParseError
from .values import to_int

BANNER = ("Welcome to pyvirsh, the virtualization interactive terminal.\n\n"
          "Type:  'help' for help with commands\n"
          "       'quit' to quit\n\n")
DEFAULT_HISTSIZE = 500


def prompt_text(ctl) -> str:
    return "pyvirsh > " if ctl.readonly else "pyvirsh # "


def history_path() -> str:
    explicit = os.environ.get("PYVIRSH_HISTFILE")
    if explicit:
        return explicit
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "pyvirsh", "history")


def history_size(ctl) -> int:
    text = os.environ.get("PYVIRSH_HISTSIZE")
    if text is None:
        return DEFAULT_HISTSIZE
    value = to_int(text, -2**31, 2**31 - 1)
    if value is None:
        ctl.error("Bad $PYVIRSH_HISTSIZE value.")
        return DEFAULT_HISTSIZE
    if not 0 <= value <= 500000:
        ctl.error("$PYVIRSH_HISTSIZE value should be between 0 and 500000")
        return DEFAULT_HISTSIZE
    return value


def run_line(ctl, line: str) -> None:
    """Parse and run one line of input; errors never leave the shell."""
    from .runner import parse_string, run_commands

    try:
        commands = parse_string(line)
    except ParseError as err:
        for message in err.messages:
            ctl.error(message)
        return
    try:
        run_commands(ctl, commands)
    except KeyboardInterrupt:
        ctl.out.flush()
        ctl.error("interrupted")


def run_shell(ctl) -> int:
    ctl.interactive = True
    from .runner import connect
    if not connect(ctl):
        return 1            # as virsh: no shell without its first connection
    if not ctl.quiet:
        ctl.print(BANNER)
    if sys.stdin.isatty() and sys.stdout.isatty():
        _interactive_loop(ctl)
    else:
        _script_loop(ctl)
    return 0


def _script_loop(ctl) -> None:
    """stdin is not a terminal: echo each prompt and line, like virsh under readline."""
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        ctl.print(prompt_text(ctl) + line + "\n")
        if line.strip():
            run_line(ctl, line)
        if ctl.quit_requested:
            ctl.print("\n")
            return
    ctl.print(prompt_text(ctl) + "\n")


def _interactive_loop(ctl) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import ThreadedCompleter
    from prompt_toolkit.history import FileHistory

    from .shellcompleter import ShellCompleter

    path = history_path()
    limit = history_size(ctl)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        history = FileHistory(path)
    except OSError:
        history = None
    session = PromptSession(history=history, completer=ThreadedCompleter(ShellCompleter(ctl)),
                            complete_while_typing=False, enable_history_search=True)
    try:
        while not ctl.quit_requested:
            try:
                line = session.prompt(prompt_text(ctl))
            except KeyboardInterrupt:
                continue          # Ctrl-C drops the line being typed
            except EOFError:
                break             # Ctrl-D leaves
            if line.strip():
                run_line(ctl, line)
            ctl.out.flush()
    finally:
        ctl.print("\n")
        ctl.out.flush()
        if history is not None:
            trim_history(path, limit)


def trim_history(path: str, limit: int) -> None:
    """Keep only the newest `limit` entries (prompt_toolkit's FileHistory never trims)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return
    entries = [e for e in text.split("\n\n") if e.strip()]
    if len(entries) <= limit:
        return
    kept = entries[-limit:] if limit else []
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(e.strip("\n") + "\n\n" for e in kept))
        os.replace(tmp, path)
    except OSError:
        pass
