"""The command tree: each command's declaration by name, its module imported on first use.

Names, help groups and summaries come from the static table in pyvirsh.commands
without importing anything; a command's declaration (pyvirsh.declare.Command)
is loaded only when the command is bound, run, or its help printed, so a
one-shot command imports only its own module.
"""

from __future__ import annotations

from .commands import TABLE
from .parsing import CommandTable


def command(name: str):
    """The declared command of that name (pyvirsh.declare.Command), or None."""
    entry = TABLE.get(name)
    if entry is None:
        return None
    from .declare import REGISTRY
    cmd = REGISTRY.get(name)
    if cmd is None:
        __import__("pyvirsh.commands." + entry[0])
        cmd = REGISTRY[name]
    return cmd


class _Tree(CommandTable):
    """The binder's view of the tree."""

    def options(self, name):
        cmd = command(name)
        return None if cmd is None else cmd.specs


TREE = _Tree()
