"""How commands are declared: click commands carrying virsh's option model.

Every pyvirsh command is a real click command; each of its options is a
click option that also carries the virsh facts the binder and the help
printer need (type, required, named-only, help text). A command module reads:

    @command("domstate", "domain state", "Returns state about a domain.")
    @domain_option()
    @flag("reason", "also print reason for the state")
    def domstate(ctl, domain, reason): ...

The function receives the session (``ctl``) first, then one keyword argument
per option: str for string/number options (commands convert numbers with
pyvirsh.values, so the error words are virsh's), bool for flags, a tuple
for argv options, None when an option was not given.
"""

from __future__ import annotations

import click

from .errors import CommandError
from .parsing import OptSpec, OptType


class VshOption(click.Option):
    """A click option that knows how virsh declares it."""

    def __init__(self, spec: OptSpec, completer: str | None = None):
        decl = "--" + spec.name
        # The help text lives in the spec (virsh's help printer reads it there);
        # click would run inspect.cleandoc on it for nothing at every start.
        attrs = {}
        if spec.type is OptType.BOOL:
            attrs.update(is_flag=True, default=False)
        elif spec.type is OptType.ARGV:
            attrs.update(multiple=True, type=str)
        else:
            attrs.update(type=str, default=None)
        super().__init__([decl, spec.name.replace("-", "_")], **attrs)
        self.spec = spec
        self.empty_ok = False
        # A name from pyvirsh.completion.COMPLETERS ("domains", "disks", ...): kept
        # as a word so that declaring a command never imports the completion code.
        self.completer = completer


class VshCommand(click.Command):
    """A click command with virsh's summary, description, help group and aliases."""

    def __init__(self, name, func, params, summary, description, group, aliases, connect):
        self.func = func
        self.summary = summary
        self.description = description
        self.vsh_group = group
        self.aliases = aliases
        self.needs_connection = connect
        super().__init__(name, callback=self._call, params=params, short_help=summary,
                         add_help_option=False)

    @property
    def specs(self) -> list[OptSpec]:
        """Options in declaration order, hidden aliases last (the binder's view)."""
        return [p.spec for p in self.params if isinstance(p, VshOption)] + self.aliases

    def _call(self, **values):
        # virsh refuses an empty value when the command reads an option that does
        # not allow it; options are read in declaration order, so check in that order.
        for param in self.params:
            if not isinstance(param, VshOption) or param.empty_ok:
                continue
            value = values.get(param.name)
            if value == "" and param.spec.type in (OptType.STRING, OptType.DATA, OptType.INT):
                raise CommandError("Failed to get option '%s': Option argument is empty"
                                   % param.spec.name)
        ctl = click.get_current_context().obj
        return self.func(ctl, **values)


# Every declared command by name; filled as command modules are imported.
REGISTRY: dict[str, VshCommand] = {}


def command(name: str, summary: str, description: str = "", *, group: str, connect: bool = True):
    """Declare a command: name, virsh's one-line help and description, help group keyword."""

    def decorate(func):
        pending = list(reversed(getattr(func, "__vsh_params__", [])))
        params = [p for p in pending if isinstance(p, VshOption)]
        aliases = [p for p in pending if isinstance(p, OptSpec)]
        cmd = VshCommand(name, func, params, summary, description, group, aliases, connect)
        REGISTRY[name] = cmd
        return cmd

    return decorate


def _add(item):
    def decorate(func):
        func.__dict__.setdefault("__vsh_params__", []).append(item)
        return func
    return decorate


def option(name: str, type: OptType, help: str, *, required: bool = False, named_only: bool = False,
           empty_ok: bool = False, completer=None):
    opt = VshOption(OptSpec(name, type, help, required=required, named_only=named_only), completer)
    opt.empty_ok = empty_ok
    return _add(opt)


def flag(name: str, help: str):
    return option(name, OptType.BOOL, help)


def flag_table(table):
    """Several flags at once, from (name, help) pairs, declared in the table's order."""
    table = list(table)

    def decorate(func):
        for name, help_text in reversed(table):
            func = flag(name, help_text)(func)
        return func
    return decorate


def string(name: str, help: str, **kw):
    return option(name, OptType.STRING, help, **kw)


def number(name: str, help: str, **kw):
    return option(name, OptType.INT, help, **kw)


def data(name: str, help: str, *, required: bool = True, **kw):
    return option(name, OptType.DATA, help, required=required, **kw)


def argv(name: str, help: str, **kw):
    return option(name, OptType.ARGV, help, **kw)


def alias(name: str, target: str):
    """A hidden other name: alias('str', 'string') or alias('hi', 'string=hello')."""
    return _add(OptSpec(name, OptType.ALIAS, alias_of=target))
