"""The cached backing chain of each disk, kept in the live domain XML.

At start each disk's chain is probed once (pyvirsh.drivers.storage) and written
into the live XML as libvirt writes it: the top <source> gets index 1 and each
<backingStore> the next number, ending in an empty <backingStore/>. Indexes
are unique across the domain and never reused, so 'vda[2]' names the same
image for the life of the running domain; a new overlay takes the next free
number. Every later command reads this cache; nothing re-probes a file that
QEMU has open. Block jobs and snapshots edit it with the transformation they
made (see blockjobs.py and snapshots.py).

Each layer N is given to QEMU as two -blockdev nodes named pvN-s (the file)
and pvN-f (the format), so QEMU never probes either.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode
from ..diskinfo import backing_nodes, node_format, node_path

# lxml is imported where elements are made: reading a chain needs only the elements' methods,
# and a command that reads no chain must not pay for the import.


def format_node(index: int) -> str:
    return "pv%d-f" % index


def storage_node(index: int) -> str:
    return "pv%d-s" % index


class Layer:
    """One element of a cached chain: the disk's own source, or a <backingStore>."""

    def __init__(self, element, source, fmt: str, disk_type: str):
        self.element = element          # the <disk> for the top, else the <backingStore>
        self.source = source            # its <source> element
        self.format = fmt
        self.type = disk_type

    @property
    def index(self) -> int:
        return int(self.source.get("index") if self.element.tag == "disk" else self.element.get("index"))

    @property
    def path(self) -> str:
        return node_path(self.source)


def layers(disk_el) -> list[Layer]:
    """The cached chain of a disk, top first (empty for a disk without media)."""
    src = disk_el.find("source")
    if src is None or src.get("index") is None:
        return []
    return [Layer(disk_el, src, disk_el.find("driver").get("type", "raw"), disk_el.get("type"))] + \
        [Layer(node, node.find("source"), node_format(node) or "raw", node.get("type", "file"))
         for node in backing_nodes(disk_el)[0]]


def _make_backing(layer_info, index: int):
    from lxml import etree
    el = etree.Element("backingStore")
    el.set("type", layer_info.type if layer_info.type in ("file", "block") else "file")
    el.set("index", str(index))
    etree.SubElement(el, "format").set("type", layer_info.format)
    src = etree.SubElement(el, "source")
    src.set("dev" if el.get("type") == "block" else "file", layer_info.path)
    return el


def attach_chain(disk_el, probed: list, next_index: int) -> int:
    """Record a probed chain (top first) in a live <disk>; return the next free index."""
    from lxml import etree
    for old in disk_el.findall("backingStore"):
        disk_el.remove(old)
    src = disk_el.find("source")
    src.set("index", str(next_index))
    next_index += 1
    parent = disk_el
    insert_after = src
    for info in probed[1:]:
        el = _make_backing(info, next_index)
        next_index += 1
        if parent is disk_el:
            insert_after.addnext(el)
        else:
            parent.append(el)
        parent = el
    terminator = etree.Element("backingStore")
    if parent is disk_el:
        insert_after.addnext(terminator)
    else:
        parent.append(terminator)
    return next_index


def user_chain_layers(disk_el):
    """A chain the user wrote in XML, as (path, format, type) top first, and whether it ends
    with the explicit terminator (then nothing below it is probed)."""
    nodes, terminated = backing_nodes(disk_el)
    return [(node_path(node.find("source")), node_format(node) or "raw", node.get("type", "file"))
            for node in nodes], terminated


def find_layer(disk_el, target: str, spec: str) -> Layer:
    """Resolve 'vda', 'vda[N]' or a path to one cached layer (libvirt's wording on failure)."""
    chain = layers(disk_el)
    if spec.startswith(target + "[") and spec.endswith("]"):
        number = spec[len(target) + 1:-1]
        if not number.isdigit():
            raise DriverError(ErrorCode.INVALID_ARG, "invalid backing store index '%s'" % spec)
        for layer in chain:
            if layer.index == int(number):
                return layer
        raise DriverError(ErrorCode.INVALID_ARG, "could not find backing store index '%s' in chain for '%s'"
                          % (number, target))
    if spec == target and chain:
        return chain[0]
    for layer in chain:
        if layer.path == spec:
            return layer
    raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' in chain for '%s'" % (spec, target))


def set_backing(upper: Layer, lower: Layer | None) -> list:
    """Make `lower` (or the terminator) the backing of `upper`; return the dropped subtree's elements."""
    from lxml import etree
    holder = upper.element
    old = holder.find("backingStore")
    dropped = []
    for node in backing_nodes(holder)[0]:
        if lower is not None and node is lower.element:
            break
        dropped.append(node)
    if old is not None:
        holder.remove(old)
    if lower is None:
        new = etree.Element("backingStore")
    else:
        new = lower.element
        if new.getparent() is not None:
            new.getparent().remove(new)
    anchor = upper.source if holder.tag == "disk" else holder.find("source")
    anchor.addnext(new)
    return dropped


def _replace_source(disk_el, path: str, disk_type: str, fmt: str, index: int) -> None:
    from lxml import etree
    old = disk_el.find("source")
    new = etree.Element("source")
    new.set("dev" if disk_type == "block" else "file", path)
    new.set("index", str(index))
    old.addprevious(new)
    disk_el.remove(old)
    disk_el.set("type", disk_type)
    disk_el.find("driver").set("type", fmt)


def promote(disk_el, layer: Layer) -> list[int]:
    """Make a lower layer the disk's top (active commit pivoted); return dropped indexes."""
    from lxml import etree
    chain = layers(disk_el)
    position = [item.index for item in chain].index(layer.index)
    if position == 0:
        return []
    dropped = [item.index for item in chain[:position]]
    below = layer.element.find("backingStore")
    _replace_source(disk_el, layer.path, layer.type, layer.format, layer.index)
    for old in disk_el.findall("backingStore"):
        disk_el.remove(old)
    disk_el.find("source").addnext(below if below is not None else etree.Element("backingStore"))
    return dropped


def replace_top(disk_el, path: str, fmt: str, disk_type: str, index: int, keep_backing: bool) -> list[int]:
    """A copy was pivoted to: the new image becomes the top (over the old backing if shallow)."""
    from lxml import etree
    chain = layers(disk_el)
    dropped = [chain[0].index] + ([] if keep_backing else [item.index for item in chain[1:]])
    _replace_source(disk_el, path, disk_type, fmt, index)
    if not keep_backing:
        for old in disk_el.findall("backingStore"):
            disk_el.remove(old)
        disk_el.find("source").addnext(etree.Element("backingStore"))
    return dropped


def push_overlay(disk_el, path: str, fmt: str, disk_type: str, index: int) -> None:
    """An external snapshot: the new overlay is the top, the old top its read-only backing."""
    old_top = layers(disk_el)[0]
    backing = _make_backing(LayerRef(old_top.path, old_top.format, old_top.type), old_top.index)
    for old in disk_el.findall("backingStore"):
        disk_el.remove(old)
        backing.append(old)
    _replace_source(disk_el, path, disk_type, fmt, index)
    disk_el.find("source").addnext(backing)


class LayerRef:
    """A layer known by path, format and type only: written in XML or already cached,
    never probed (so it has no virtual size)."""

    virtual_size = None

    def __init__(self, path, fmt, disk_type):
        self.path = path
        self.format = fmt
        self.type = disk_type


def subtree_indexes(elements) -> list[int]:
    return [int(e.get("index")) for e in elements if e.get("index") is not None]


def strip_cache(disk_el) -> None:
    """A persistent definition keeps no detected chain and no indexes."""
    src = disk_el.find("source")
    if src is not None:
        src.attrib.pop("index", None)


def backing_name(upper_path: str, base_path: str, relative: bool) -> str:
    """The backing file name written into upper's header: base's path, or relative to upper."""
    return os.path.relpath(base_path, os.path.dirname(upper_path)) if relative else base_path


def set_disk_image(disk, disk_type: str, path: str, fmt: str) -> None:
    """Point a definition's disk at one image, with no chain cached below it
    (the persistent definition after a pivot, a snapshot or a revert)."""
    from lxml import etree
    disk.set_source(disk_type, path)
    driver = disk.el.find("driver")
    if driver is None:
        driver = etree.SubElement(disk.el, "driver", name="qemu")
    driver.set("type", fmt)
    for el in disk.el.findall("backingStore"):
        disk.el.remove(el)
