"""The driver contract and the test driver have no import cycles, counting every
import a module makes (also the lazy ones inside functions)."""

from __future__ import annotations

import ast
import os

import pyvirsh.drivers

DRIVERS = os.path.dirname(pyvirsh.drivers.__file__)


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, DRIVERS)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else ("" if rel == "__init__" else rel)


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    parts = current.split(".") if current else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the driver modules it imports (relative imports only: the drivers import
    each other relatively)."""
    modules = {}
    for folder, _dirs, files in os.walk(DRIVERS):
        for entry in files:
            if entry.endswith(".py"):
                path = os.path.join(folder, entry)
                modules[_module_name(path)] = path
    graph = {}
    for name, path in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        is_package = path.endswith("__init__.py")
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = _resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    sub = "%s.%s" % (base, alias.name) if base else alias.name
                    edges.add(sub if sub in modules else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_graph_sees_the_imports():
    graph = import_graph()
    assert {"api", "state", "storage"} <= {m.split(".")[-1] for m in graph["test.driver"]}
    assert "api" in graph["diskinfo"]


def test_contract_and_test_driver_are_in_no_cycle():
    mine = {"api", "diskinfo"} | {m for m in import_graph() if m.startswith("test.")}
    found = [c for c in cycles(import_graph()) if c & mine]
    assert not found, found
