"""Disk records (api.DomainDisk) from a parsed domain definition.

The commands see a domain's disks only through these records, never through
the definition's XML elements; both drivers build them here from the same
libvirt-style XML, including the cached backing chain that the QEMU driver
keeps in the live definition (<source index='N'> and nested <backingStore>).
"""

from __future__ import annotations

from .api import DiskLayer, DomainDisk


def _index(element) -> int | None:
    value = element.get("index")
    return int(value) if value is not None and value.isdigit() else None


def backing_nodes(holder) -> tuple[list, bool]:
    """The one walk down a backing chain in XML: the <backingStore> elements below holder
    (a <disk> or a <backingStore>) that name an image, top down, and whether the chain
    ends with the explicit terminator (an empty <backingStore>) rather than just ending."""
    out: list = []                  # lxml elements (lxml ships no types)
    node = holder.find("backingStore")
    while node is not None:
        if node.find("source") is None:
            return out, True
        out.append(node)
        node = node.find("backingStore")
    return out, False


def node_path(source) -> str:
    """The image a <source> element names (a file, or a block device)."""
    return source.get("file") or source.get("dev")


def node_format(node) -> str | None:
    """The format a <backingStore> records, or None."""
    fmt = node.find("format")
    return fmt.get("type") if fmt is not None else None


def cached_chain(disk) -> list[DiskLayer]:
    """A domxml.Disk's cached chain, top first; empty when the top carries no index
    (no chain was cached: an inactive definition, or a driver that keeps none)."""
    src = disk.el.find("source")
    if src is None or src.get("index") is None or disk.source is None:     # no chain, or an ejected drive
        return []
    return [DiskLayer(_index(src), disk.source, disk.driver_type or "raw", disk.type)] + \
        [DiskLayer(_index(node), node_path(node.find("source")), node_format(node), node.get("type", "file"))
         for node in backing_nodes(disk.el)[0]]


def disk_record(disk) -> DomainDisk:
    return DomainDisk(type=disk.type, device=disk.device, target=disk.target, bus=disk.bus,
                      source=disk.source, has_source=disk.source_element is not None,
                      format=disk.driver_type, readonly=disk.readonly, chain=cached_chain(disk),
                      pool=disk.source_pool)


def disk_records(definition) -> list[DomainDisk]:
    """Every <disk> of a domxml.DomainDef, in document order."""
    return [disk_record(disk) for disk in definition.disks()]
