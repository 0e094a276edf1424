"""The command tree as click objects, built from the declarations on demand.

pyvirsh binds and runs commands without click (pyvirsh.parsing, pyvirsh.runner);
click sees the same declarations here, for what it is good at: the bash, zsh
and fish completion protocol (pyvirsh.shellscripts), and any tool that reads a
click tree. Each option carries its virsh spec and completer; the commands are
declarations only (no callback): running one is pyvirsh.runner's job.

Importing click costs more than the rest of a one-shot command, so only the
completion paths import this module.
"""

from __future__ import annotations

from .lazyimport import defer

defer("inspect")        # see pyvirsh/lazyimport.py: click needs it only at run time

import click

from .commands import TABLE
from .parsing import OptType


class VshOption(click.Option):
    """A click option that knows how virsh declares it (spec) and how pyvirsh completes it."""

    def __init__(self, option):
        spec = option.spec
        if spec.type is OptType.BOOL:
            attrs = {"is_flag": True, "default": False}
        elif spec.type is OptType.ARGV:
            attrs = {"multiple": True, "type": str}
        else:
            attrs = {"type": str, "default": None}
        # The help text stays in the spec: click would run inspect.cleandoc on it for nothing.
        super().__init__(["--" + spec.name, option.keyword], required=False, **attrs)
        self.spec = spec
        self.completer = option.completer


class VshCommand(click.Command):
    """One declared command (pyvirsh.declare.Command) as a click command."""

    def __init__(self, decl):
        self.decl = decl
        super().__init__(decl.name, params=[VshOption(o) for o in decl.options], short_help=decl.summary,
                         add_help_option=False)


class RootGroup(click.Group):
    """The root of the tree; a command's click object is made the first time it is asked for."""

    def list_commands(self, ctx):
        return list(TABLE)

    def get_command(self, ctx, name):
        if name not in self.commands:
            from .tree import command
            decl = command(name)
            if decl is None:
                return None
            self.commands[name] = VshCommand(decl)
        return self.commands[name]


root = RootGroup("pyvirsh", help="virsh-compatible virtualization shell")
