"""The kill-point sweep of tests/test_kill_sweep.py (its docstring says what is checked) for
snapshot-create and snapshot-delete, the two longest: in a module of their own, so that under the
README's `pytest -n 2 --dist loadfile` one worker sweeps them while the other sweeps the rest."""

from __future__ import annotations

import pytest

# prepared: the module-scoped images, made once in this module too
from test_kill_sweep import SNAPSHOT_COMMANDS, prepared, sweep   # noqa: F401


@pytest.mark.parametrize("name", SNAPSHOT_COMMANDS)
def test_kill_point_sweep(name, prepared, tmp_path):   # noqa: F811 - the fixture imported above
    sweep(name, prepared, tmp_path)
