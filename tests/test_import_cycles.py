"""No import cycles among pyvirsh's modules (pyvirsh/ and drivers/, shipped as pyvirsh.drivers).

The graph is read from each module's own source with ast, nothing is imported:
every `import` and `from ... import` counts, also those inside functions (a
deferred import still ties the two modules together, it only hides the cycle
until run time). `from package import name` points at the submodule when
`name` is one, else at the package.
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Source folder -> the package it ships as (pyproject.toml's package-dir).
PACKAGES = {"pyvirsh": "pyvirsh", "drivers": "pyvirsh.drivers"}


def module_files() -> dict[str, str]:
    """Every module's dotted name -> its file."""
    out = {}
    for folder, package in PACKAGES.items():
        base = os.path.join(ROOT, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            rel = os.path.relpath(dirpath, base)
            prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
            for filename in filenames:
                if filename.endswith(".py"):
                    stem = filename[:-3]
                    name = prefix if stem == "__init__" else prefix + "." + stem
                    out[name] = os.path.join(dirpath, filename)
    return out


def imports_of(name: str, path: str, known: set[str]) -> set[str]:
    """The pyvirsh modules that module `name` imports."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = base + "." + node.module if node.module else base
            else:
                base = node.module or ""
            targets = [base + "." + alias.name if base + "." + alias.name in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` names a.b.c; a name inside a module resolves to the module.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def cycle_groups(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Each group of modules that import one another, directly or not (strongly connected)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []

    def visit(node: str) -> None:        # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def path_within(graph: dict[str, set[str]], group: frozenset[str]) -> list[str]:
    """A closed path a -> ... -> a through the group (for the report)."""
    start = min(group)
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError("not a cycle: %s" % sorted(group))


def test_the_graph_sees_imports():
    """The reader resolves relative, deferred and package imports (else no cycle could show)."""
    graph = import_graph()
    assert "pyvirsh.parsing" in graph["pyvirsh.cli"]                 # from .parsing import ...
    assert "pyvirsh.drivers.api" in graph["pyvirsh.jobwait"]         # deferred, inside a function
    assert "pyvirsh.drivers" in graph["pyvirsh.session"]             # from .drivers import open_connection
    assert "pyvirsh.drivers.api" in graph["pyvirsh.drivers.qemu.driver"]   # from ..api import ...
    small = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_groups(small) == [frozenset("abc")]
    assert path_within(small, frozenset("abc")) == ["a", "b", "c", "a"]


def test_no_import_cycles():
    graph = import_graph()
    found = cycle_groups(graph)
    report = "\n".join("  %s  (modules: %s)" % (" -> ".join(path_within(graph, group)), ", ".join(sorted(group)))
                       for group in found)
    assert not found, "import cycles:\n" + report


def test_nothing_imports_the_entry_point():
    """pyvirsh.cli is the entry point only; what it shares lives in modules of their own."""
    graph = import_graph()
    importers = sorted(name for name, targets in graph.items() if "pyvirsh.cli" in targets)
    assert importers == ["pyvirsh.__main__"]
