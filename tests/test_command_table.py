"""The static command table (each command's module, help group and summary: their one source,
read for help and completion without imports) matches the declarations, and click's view of
the tree (pyvirsh.clicktree) matches both."""

from __future__ import annotations

import pytest

from pyvirsh.commands import GROUPS, TABLE
from pyvirsh.commands.helptext import format_command_help
from pyvirsh.declare import REGISTRY, Command, command
from pyvirsh.tree import command as lookup


@pytest.mark.parametrize("name", sorted(TABLE))
def test_table_entry_matches_its_command(name):
    module, group, summary = TABLE[name]
    cmd = lookup(name)
    assert isinstance(cmd, Command)
    assert cmd.name == name
    assert cmd.summary == summary
    assert cmd.group == group
    assert group in GROUPS
    assert cmd.func.__module__ == "pyvirsh.commands." + module
    # Every command's help renders.
    assert format_command_help(cmd).startswith("  NAME\n    %s - %s\n" % (name, summary))


def test_every_declared_command_is_in_the_table():
    for entry in {m for m, _, _ in TABLE.values()}:
        __import__("pyvirsh.commands." + entry)
    assert set(REGISTRY) == set(TABLE)


def test_options_are_declared_in_virsh_order():
    """Required positional options come first, as virsh requires of its own tables."""
    from pyvirsh.parsing import OptType
    for name in TABLE:
        specs = [s for s in lookup(name).specs if s.type is not OptType.ALIAS]
        seen_optional = False
        for spec in specs:
            positional = spec.type not in (OptType.BOOL,) and not spec.named_only
            if not positional or spec.type is OptType.ARGV:
                seen_optional = seen_optional or spec.type is OptType.BOOL
                continue
            if spec.required:
                assert not seen_optional, "%s: required --%s after optional options" % (name, spec.name)
            else:
                seen_optional = True


def test_a_command_outside_the_table_cannot_be_declared():
    with pytest.raises(LookupError, match="'no-such-command' is not in pyvirsh.commands.TABLE"):
        command("no-such-command")


def test_click_tree_mirrors_the_declarations():
    from pyvirsh.clicktree import VshCommand, root

    assert root.list_commands(None) == list(TABLE)
    assert root.get_command(None, "no-such-command") is None
    for name in TABLE:
        decl = lookup(name)
        cmd = root.get_command(None, name)
        assert isinstance(cmd, VshCommand) and cmd.decl is decl
        assert cmd.get_short_help_str() == decl.summary
        assert [p.spec for p in cmd.params] == [o.spec for o in decl.options]
        assert [p.completer for p in cmd.params] == [o.completer for o in decl.options]
        assert [p.name for p in cmd.params] == [o.keyword for o in decl.options]


def test_callbacks_get_the_bound_values_as_they_are():
    """No second parse: flags are bools, argv options tuples, the rest strings or None."""
    from pyvirsh.parsing import StringTokenizer, bind
    from pyvirsh.tree import TREE

    seen = []
    decl = lookup("echo")
    saved = decl.func
    decl.func = lambda ctl, **kw: seen.append(kw)
    try:
        for text in ("echo --shell a 'b c'", "echo --hi", "echo"):
            (bound,) = bind(StringTokenizer(text), TREE)
            decl.call(None, bound.values)
    finally:
        decl.func = saved
    assert seen == [
        {"shell": True, "xml": False, "split": False, "err": False, "string": ("a", "b c")},
        {"shell": False, "xml": False, "split": False, "err": False, "string": ("hello",)},
        {"shell": False, "xml": False, "split": False, "err": False, "string": ()},
    ]
