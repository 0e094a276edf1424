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


def cached_chain(disk) -> list[DiskLayer]:
    """A domxml.Disk's cached chain, top first; empty when the top carries no index
    (no chain was cached: an inactive definition, or a driver that keeps none)."""
    el = disk.el
    src = el.find("source")
    if src is None or src.get("index") is None:
        return []
    chain = [DiskLayer(_index(src), disk.source, disk.driver_type or "raw", disk.type)]
    node = el.find("backingStore")
    while node is not None and node.find("source") is not None:
        fmt = node.find("format")
        layer_src = node.find("source")
        chain.append(DiskLayer(_index(node), layer_src.get("file") or layer_src.get("dev"),
                               fmt.get("type") if fmt is not None else None, node.get("type", "file")))
        node = node.find("backingStore")
    return chain


def disk_record(disk) -> DomainDisk:
    return DomainDisk(type=disk.type, device=disk.device, target=disk.target, bus=disk.bus,
                      source=disk.source, has_source=disk.source_element is not None,
                      format=disk.driver_type, readonly=disk.readonly, chain=cached_chain(disk))


def disk_records(definition) -> list[DomainDisk]:
    """Every <disk> of a domxml.DomainDef, in document order."""
    return [disk_record(disk) for disk in definition.disks()]
