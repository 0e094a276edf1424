"""Nothing dropped silently, checked against libvirt's own domain schema: walk the RNG that
Debian's libvirt0 ships (/usr/share/libvirt/schemas, installed with libvirt-clients) from
<domain> down, and for every element under a part the QEMU driver maps, the driver either maps
it (drivers/qemu/support.py) or refuses it at define naming it. Also: every mapped path exists
in the schema (no typo maps nothing), and pyvirsh's XML writer keeps every mapped element and
attribute (a mapped value that dumpxml dropped would be a silent drop too)."""

from __future__ import annotations

import os

import pytest
from lxml import etree

SCHEMAS = "/usr/share/libvirt/schemas"
RNG = "{http://relaxng.org/ns/structure/1.0}"
pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(SCHEMAS, "domain.rng")),
    reason="libvirt's RNG schemas are not installed (apt-get install -y libvirt-clients)")


def _load(name: str, defines: dict, seen: set) -> list:
    if name in seen:
        return []
    seen.add(name)
    root = etree.parse(os.path.join(SCHEMAS, name)).getroot()
    starts = []
    for el in root.iter():
        if el.tag == RNG + "include":
            starts += _load(el.get("href"), defines, seen)
        elif el.tag == RNG + "define":
            defines.setdefault(el.get("name"), []).append(el)
        elif el.tag == RNG + "start":
            starts.append(el)
    return starts


def schema_children() -> dict[str, set[str]]:
    """element path -> names of the child elements the schema allows there (paths as support.py)."""
    return _schema()[0]


def schema_attributes() -> dict[str, set[str]]:
    """element path -> names of the attributes the schema allows on it, for mapped elements."""
    return _schema()[1]


_CACHE: list = []


def _schema():
    if _CACHE:
        return _CACHE[0]
    from pyvirsh.drivers.qemu.support import SUPPORTED
    defines: dict = {}
    starts = _load("domain.rng", defines, set())
    children: dict[str, set[str]] = {}
    attributes: dict[str, set[str]] = {}
    visited: set = set()

    def walk(node, path: str | None) -> None:
        for child in node:
            tag = child.tag
            if tag == RNG + "attribute":
                if path is not None and child.get("name"):
                    attributes.setdefault(path, set()).add(child.get("name"))
                continue
            if tag == RNG + "element":
                name = child.get("name")
                if name is None:
                    continue
                child_path = name if path is None and name == "domain" else (
                    "" if path is None else ("%s/%s" % (path, name) if path else name))
                if path is None:
                    walk(child, "")
                    continue
                children.setdefault(path, set()).add(name)
                if child_path in SUPPORTED and SUPPORTED[child_path] is not None:
                    walk(child, child_path)
            elif tag == RNG + "ref":
                key = (child.get("name"), path)
                if key in visited:
                    continue
                visited.add(key)
                for define in defines.get(child.get("name"), []):
                    walk(define, path)
            elif isinstance(tag, str):
                walk(child, path)

    for start in starts:
        walk(start, None)
    _CACHE.append((children, attributes))
    return _CACHE[0]


def _document_for(path: str, child: str):
    root = etree.Element("domain")
    node = root
    for step in [s for s in path.split("/") if s]:
        node = etree.SubElement(node, step)
    etree.SubElement(node, child)
    return root


def test_every_schema_element_under_a_mapped_part_is_mapped_or_refused_by_name():
    from pyvirsh.drivers.api import DriverError
    from pyvirsh.drivers.qemu.support import SUPPORTED, check
    children = schema_children()
    assert "devices" in children and "disk" in children["devices"], "the schema walk found no devices"
    checked = 0
    for path, names in children.items():
        for name in sorted(names):
            child_path = "%s/%s" % (path, name) if path else name
            if child_path in SUPPORTED:
                continue
            with pytest.raises(DriverError) as err:
                check(_document_for(path, name))
            assert err.value.message.startswith("unsupported configuration: ") or \
                "unsupported configuration" in str(err.value), err.value
            assert "<%s>" % name in str(err.value), (child_path, str(err.value))
            checked += 1
    assert checked > 100          # the schema has far more elements than the driver maps


def test_every_mapped_path_is_in_libvirts_schema():
    from pyvirsh.drivers.qemu.support import SUPPORTED
    children = schema_children()
    for path in SUPPORTED:
        if not path:
            continue
        parent, _, name = path.rpartition("/")
        assert name in children.get(parent, set()), "support.py maps %s, which libvirt's schema lacks" % path


def test_dumpxml_writes_every_mapped_element_and_attribute():
    from pyvirsh.drivers.domxml import DOMAIN_SCHEMA
    from pyvirsh.drivers.qemu.support import SUPPORTED
    for path, attrs in SUPPORTED.items():
        if not path or attrs is None:
            continue
        steps = path.split("/")
        parent = steps[-2] if len(steps) > 1 else "domain"
        spec = DOMAIN_SCHEMA.order.get("%s/%s" % (parent, steps[-1])) or DOMAIN_SCHEMA.order.get(steps[-1])
        assert spec is not None, "the writer drops <%s>" % path
        missing = set(attrs) - set(spec[0])
        assert not missing, "the writer drops attributes %s of <%s>" % (missing, path)
        parent_spec = DOMAIN_SCHEMA.order.get(parent) if len(steps) > 1 else DOMAIN_SCHEMA.order["domain"]
        if len(steps) > 2:
            grand = steps[-3]
            parent_spec = (DOMAIN_SCHEMA.order.get("%s/%s" % (grand, parent))
                           or DOMAIN_SCHEMA.order.get(parent))
        assert steps[-1] in parent_spec[1], "the writer drops <%s> under <%s>" % (steps[-1], parent)


def test_every_schema_attribute_of_a_mapped_element_is_mapped_or_refused_by_name():
    from pyvirsh.drivers.api import DriverError
    from pyvirsh.drivers.qemu.support import SUPPORTED, check
    checked = 0
    for path, names in schema_attributes().items():
        allowed = SUPPORTED.get(path)
        if allowed is None:
            continue
        for name in sorted(names - allowed):
            doc = _document_for(path.rpartition("/")[0], path.rpartition("/")[2]) if path else \
                etree.Element("domain")
            target = doc if not path else doc.find(path)
            target.set(name, "x")
            with pytest.raises(DriverError) as err:
                check(doc)
            assert "attribute '%s'" % name in str(err.value), (path, name, str(err.value))
            checked += 1
    assert checked > 100
