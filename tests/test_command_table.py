"""The static command table (used for help and completion without imports) matches the tree."""

from __future__ import annotations

import pytest

from pyvirsh.cli import root
from pyvirsh.commands import GROUPS, TABLE
from pyvirsh.commands.helptext import format_command_help
from pyvirsh.declare import REGISTRY, VshCommand


@pytest.mark.parametrize("name", sorted(TABLE))
def test_table_entry_matches_its_command(name):
    module, group, summary = TABLE[name]
    cmd = root.get_command(None, name)
    assert isinstance(cmd, VshCommand)
    assert cmd.name == name
    assert cmd.summary == summary
    assert cmd.vsh_group == group
    assert group in GROUPS
    assert cmd.callback.__self__.func.__module__ == "pyvirsh.commands." + module
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
        specs = [s for s in root.get_command(None, name).specs if s.type is not OptType.ALIAS]
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
