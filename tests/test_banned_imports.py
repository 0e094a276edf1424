"""No module imports the source folder drivers/ by its own name.

It is installed as pyvirsh.drivers; `import drivers` only works from a source
tree (the current directory on sys.path) and would break an installed pyvirsh.
ruff's TID251 (pyproject.toml) catches it outside drivers/, but ruff resolves
drivers/'s own relative imports to `drivers.*` too, so the rule is off there:
this test covers the folder itself, with the modules' own import statements.
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _absolute_drivers_imports(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += ["%s:%d: %s" % (os.path.relpath(path, ROOT), node.lineno, name) for name in names
                  if name == "drivers" or name.startswith("drivers.")]
    return found


def test_drivers_never_import_themselves_by_folder_name():
    sources = [os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(ROOT, "drivers"))
               for name in names if name.endswith(".py")]
    assert len(sources) > 10
    assert [hit for path in sorted(sources) for hit in _absolute_drivers_imports(path)] == []


def test_the_check_sees_an_absolute_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from .api import X\nimport drivers.qemu\ndef f():\n    from drivers import api\n")
    hits = _absolute_drivers_imports(str(probe))
    assert [hit.split(": ")[1] for hit in hits] == ["drivers.qemu", "drivers"]
