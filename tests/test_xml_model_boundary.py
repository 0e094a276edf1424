"""Only the XML model modules make, move or remove lxml elements.

The commands (pyvirsh/commands) and the QEMU driver's chain, block-job and
snapshot code say what changes (chainmodel.DiskChain: push an overlay, drop
layers, pivot; snapshotmodel: a snapshot's disks, the intent, the metadata
file) and never build or splice elements themselves: one place knows the
layout libvirt writes, and the layout cannot drift between copies.

The check reads each module's own syntax tree. It flags:
- creating an element: etree.Element / SubElement / makeelement / ElementTree,
  copying one (deepcopy, xmlutil.detached_copy), also by a bare imported name;
- moving one: addnext, addprevious, getparent, and append / insert / replace /
  extend / remove / clear on an element (a name or expression that comes from
  find / findall / iterfind / getroot / fromstring / parse, or from the .el,
  .root, .source_element or .intent of a model or definition object);
- reaching into a model object's element (.el) anywhere but chaincache, which
  is where a domxml.Disk becomes a DiskChain.
Reading (find, get, text) and parsing stay allowed.
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = os.path.join(ROOT, "pyvirsh", "commands")
QEMU = os.path.join(ROOT, "drivers", "qemu")
# The QEMU driver's chain, job and snapshot code (the model modules are chainmodel.py,
# snapshotmodel.py and devicemodel.py beside them, and drivers/xmlmodel.py).
JOB_AND_SNAPSHOT_CODE = ["chaincache.py", "blockjobs.py", "snapshots.py", "snapshotops.py", "snapshotmeta.py",
                         "offline.py"]
EL_ALLOWED = {"chaincache.py"}

CREATE = {"Element", "SubElement", "makeelement", "ElementTree", "deepcopy", "detached_copy"}
MOVE_ALWAYS = {"addnext", "addprevious", "getparent"}
MOVE_ON_ELEMENT = {"append", "insert", "extend", "remove", "clear", "replace"}
ELEMENT_SOURCES = {"find", "findall", "iterfind", "getroot", "fromstring", "parse", "iter"}
ELEMENT_ATTRS = {"el", "root", "source_element", "intent"}


def _is_element_expr(node, element_names: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in element_names
    if isinstance(node, ast.Attribute):
        return node.attr in ELEMENT_ATTRS
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ELEMENT_SOURCES
    if isinstance(node, ast.Subscript):
        return _is_element_expr(node.value, element_names)
    return False


def _element_names(tree) -> set[str]:
    """Names bound (anywhere in the module) to an element or a list of them."""
    names: set[str] = set()
    changed = True
    while changed:             # a name bound from another element name is one too
        changed = False
        for node in ast.walk(tree):
            targets, value = [], None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.For, ast.comprehension)):
                targets, value = [node.target], node.iter
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets, value = [node.optional_vars], node.context_expr
            if value is None or not _is_element_expr(value, names):
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in names:
                    names.add(target.id)
                    changed = True
    return names


def violations(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    name = os.path.basename(path)
    where = os.path.relpath(path, ROOT)
    elements = _element_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] in ("xmlutil", "copy"):
            found += ["%s:%d: imports %s" % (where, node.lineno, a.name) for a in node.names if a.name in CREATE]
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in CREATE:
                found.append("%s:%d: creates an element (%s)" % (where, node.lineno, called))
            elif isinstance(func, ast.Attribute) and (called in MOVE_ALWAYS or (
                    called in MOVE_ON_ELEMENT and _is_element_expr(func.value, elements))):
                found.append("%s:%d: moves an element (%s)" % (where, node.lineno, called))
        if isinstance(node, ast.Attribute) and node.attr == "el" and name not in EL_ALLOWED:
            found.append("%s:%d: reaches into a model object's element (.el)" % (where, node.lineno))
    return found


def _checked_modules() -> list[str]:
    commands = [os.path.join(COMMANDS, n) for n in sorted(os.listdir(COMMANDS)) if n.endswith(".py")]
    return commands + [os.path.join(QEMU, n) for n in JOB_AND_SNAPSHOT_CODE]


def test_commands_and_job_code_leave_elements_to_the_model():
    modules = _checked_modules()
    assert len(modules) > 10 and all(os.path.exists(m) for m in modules)
    assert [hit for path in modules for hit in violations(path)] == []


def test_the_check_sees_elements_made_and_moved(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from lxml import etree\n"
        "from ..xmlutil import detached_copy\n"
        "def f(disk, status):\n"
        "    el = etree.SubElement(disk.el, 'backingStore')\n"      # 4: creates, .el
        "    src = disk.el.find('source')\n"                         # 5: .el
        "    src.addnext(el)\n"                                      # 6: moves
        "    for old in disk.root.findall('backingStore'):\n"
        "        disk.root.remove(old)\n"                            # 8: moves
        "    holder = src\n"
        "    holder.append(detached_copy(old))\n"                    # 10: moves, creates
        "    status.jobs.remove(1)\n"                                # a list: fine
        "    status.intent.clear()\n"                                # 12: moves
        "    return src.get('file'), [x for x in status.release]\n")
    hits = violations(str(probe))
    lines = sorted({int(hit.split(":")[1]) for hit in hits})
    assert lines == [2, 4, 5, 6, 8, 10, 12], hits
