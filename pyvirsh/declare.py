"""How commands are declared: virsh's option model, as decorators on plain functions.

A command module reads:

    @command("domstate", "Returns state about a domain.")
    @domain_option()
    @flag("reason", "also print reason for the state")
    def domstate(ctl, domain, reason): ...

The command's one-line summary and help group are not repeated here: they
come from the static table in pyvirsh.commands (its one source, read for help
and completion without importing any command module).

The function receives the session (``ctl``) first, then one keyword argument
per option: str for string/number options (commands convert numbers with
pyvirsh.values, so the error words are virsh's), bool for flags, a tuple
for argv options, None when an option was not given. The binder
(pyvirsh.parsing) is the only parser; Command.call hands its bound values to
the function as they are. Declaring imports nothing heavy: click sees these
declarations only through pyvirsh.clicktree, for shell completion scripts.
"""

from __future__ import annotations

from .commands import TABLE
from .errors import CommandError
from .parsing import OptSpec, OptType


class Option:
    """One declared option: virsh's spec, plus how pyvirsh completes and checks it."""

    __slots__ = ("spec", "completer", "empty_ok", "keyword")

    def __init__(self, spec: OptSpec, completer: str | None = None, empty_ok: bool = False):
        self.spec = spec
        # A name from pyvirsh.completion.COMPLETERS ("domains", "disks", ...): kept
        # as a word so that declaring a command never imports the completion code.
        self.completer = completer
        # virsh refuses an empty value for options read with vshCommandOptStringReq.
        self.empty_ok = empty_ok
        self.keyword = spec.name.replace("-", "_")      # the function's argument


class Command:
    """A declared command: its function, options, description and whether it needs a connection."""

    def __init__(self, name: str, func, options: list[Option], aliases: list[OptSpec], description: str,
                 connect: bool):
        self.name = name
        self.func = func
        self.options = options
        self.aliases = aliases
        self.description = description
        self.needs_connection = connect
        # Options in declaration order, hidden aliases last (the binder's view).
        self.specs = [o.spec for o in options] + aliases

    @property
    def summary(self) -> str:
        return TABLE[self.name][2]

    @property
    def group(self) -> str:
        return TABLE[self.name][1]

    def completer(self, spec: OptSpec) -> str | None:
        return next((o.completer for o in self.options if o.spec is spec), None)

    def call(self, ctl, values: dict):
        """Run the function with the binder's values (option name -> str | True | list[str])."""
        kwargs = {}
        for opt in self.options:
            spec = opt.spec
            value = values.get(spec.name)
            if spec.type is OptType.BOOL:
                value = value is True
            elif spec.type is OptType.ARGV:
                value = tuple(value or ())
            elif value == "" and not opt.empty_ok:
                # virsh checks options in declaration order as the command reads them.
                raise CommandError("Failed to get option '%s': Option argument is empty" % spec.name)
            kwargs[opt.keyword] = value
        return self.func(ctl, **kwargs)


# Every declared command by name; filled as command modules are imported.
REGISTRY: dict[str, Command] = {}


def command(name: str, description: str = "", *, connect: bool = True):
    """Declare a command: its name (in pyvirsh.commands.TABLE) and virsh's description."""
    if name not in TABLE:
        raise LookupError("command %r is not in pyvirsh.commands.TABLE" % name)

    def decorate(func):
        pending = list(reversed(getattr(func, "__vsh_params__", [])))
        options = [p for p in pending if isinstance(p, Option)]
        aliases = [p for p in pending if isinstance(p, OptSpec)]
        cmd = Command(name, func, options, aliases, description, connect)
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
    return _add(Option(OptSpec(name, type, help, required=required, named_only=named_only), completer,
                       empty_ok))


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
