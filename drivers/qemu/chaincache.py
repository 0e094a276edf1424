"""The cached backing chain of each disk, kept in the live domain XML.

At start each disk's chain is probed once (pyvirsh.drivers.storage) and written
into the live XML as libvirt writes it, ending in an empty <backingStore/>. The
numbering is libvirt 9.0's two passes over the disks, last disk first: the first
numbers every disk's own <source> (an empty drive too: <source index='N'/>) and
the layers its XML names, the second each layer found by probing, top down (a
qcow2 vda over mid and base next to a raw vdb and an empty cdrom hdc: hdc 1,
vdb 2, vda 3, mid 4, base 5). Indexes are unique across the domain and never
reused, so 'vda[2]' names the same
image for the life of the running domain; a new overlay takes the next free
number. Every later command reads this cache; nothing re-probes a file that
QEMU has open. Block jobs and snapshots tell the chain what they did to it
(chainmodel.DiskChain: push an overlay, drop layers, pivot) and never edit the
XML themselves.

Each layer N is given to QEMU as two -blockdev nodes named pvN-s (the file)
and pvN-f (the format), so QEMU never probes either.
"""

from __future__ import annotations

import os

from .chainmodel import DiskChain, Layer, format_node, storage_node

__all__ = ["DiskChain", "Layer", "LayerRef", "attach_chain", "backing_name", "cache_disk_chain", "chain_of",
           "find_layer", "format_node", "layers", "number_live_disks", "reserve_written_indexes",
           "set_disk_image", "storage_node", "strip_cache", "user_chain_layers"]


def chain_of(disk) -> DiskChain:
    """The chain of a domxml.Disk."""
    return DiskChain(disk.el)


def layers(disk_el) -> list[Layer]:
    """The cached chain of a <disk>, top first (empty for a disk without media)."""
    return DiskChain(disk_el).layers()


def attach_chain(disk_el, probed: list, next_index: int, reserved: tuple[int, ...] = ()) -> int:
    """Record a probed chain (top first) in a live <disk>; return the next free index."""
    return DiskChain(disk_el).record(probed, next_index, reserved)


def user_chain_layers(disk_el):
    """A chain the user wrote in XML, as (path, format, type) top first, and whether it ends
    with the explicit terminator (then nothing below it is probed)."""
    written, terminated = DiskChain(disk_el).written_below()
    return [(layer.path, layer.format, layer.type) for layer in written], terminated


def find_layer(disk_el, target: str, spec: str) -> Layer:
    """Resolve 'vda', 'vda[N]' or a path to one cached layer (libvirt's wording on failure)."""
    return DiskChain(disk_el).find(target, spec)


class LayerRef:
    """A layer known by path, format and type only: written in XML or already cached,
    never probed (so it has no virtual size)."""

    virtual_size = None

    def __init__(self, path, fmt, disk_type):
        self.path = path
        self.format = fmt
        self.type = disk_type


def reserve_written_indexes(disk, next_index: int) -> tuple[tuple[int, ...], int]:
    """libvirt's first pass for one live disk: numbers for its own source and each layer its
    XML names (given to cache_disk_chain as `reserved`); an empty drive's number goes into
    the XML at once, as <source index='N'/> (no chain is ever probed for it). Returns the
    numbers and the next free index."""
    if disk.source_element is None or disk.source is None:
        DiskChain(disk.el).mark_empty(next_index)
        return (), next_index + 1
    count = 1 + len(user_chain_layers(disk.el)[0])
    return tuple(range(next_index, next_index + count)), next_index + count


def number_live_disks(disks: list, capacity: dict[int, int]) -> int:
    """Number and cache the chains of a starting domain's live disks (domxml.Disk, in XML
    order) in libvirt's two passes, last disk first; returns the next free index."""
    reserved = {}
    next_index = 1
    for disk in reversed(disks):
        reserved[id(disk)], next_index = reserve_written_indexes(disk, next_index)
    for disk in reversed(disks):
        next_index = cache_disk_chain(disk, next_index, capacity, reserved[id(disk)])
    return next_index


def cache_disk_chain(disk, next_index: int, capacity: dict[int, int],
                     reserved: tuple[int, ...] | None = None) -> int:
    """Probe a live disk's chain once and cache it in the disk (a domxml.Disk with media):
    a chain the user wrote in XML is trusted as written and probed only below its end, unless
    it ends with the terminator. Each layer's virtual size goes into `capacity` by index.
    `reserved`: the numbers reserve_written_indexes gave the disk (start); without them the
    disk is numbered here, both passes at once (a hotplug, a new medium).
    Returns the next free index. The one code path for start, disk hotplug and media change."""
    from ..storage.chain import ChainLayer, probe_chain
    from ..storage.probe import read_header
    if reserved is None:
        reserved, next_index = reserve_written_indexes(disk, next_index)
    if disk.source_element is None or disk.source is None:
        return next_index           # an empty drive: nothing to probe
    top_format = disk.driver_type or "raw"
    given, terminated = user_chain_layers(disk.el)
    chain: list[LayerRef | ChainLayer]
    if given:
        chain = [LayerRef(disk.source, top_format, disk.type), *(LayerRef(p, f, t) for p, f, t in given)]
        if not terminated:
            chain += probe_chain(given[-1][0], given[-1][1], disk.target)[1:]
        top_size = None         # the top's own header says (read below)
    else:
        chain = list(probe_chain(disk.source, top_format, disk.target))
        top_size = chain[0].virtual_size
    next_index = attach_chain(disk.el, chain, next_index, reserved)
    numbered = layers(disk.el)
    if top_size is None:
        top_size = read_header(disk.source, top_format).virtual_size or 0
    capacity[numbered[0].index] = top_size
    for cached, layer in zip(numbered[1:], chain[1:]):
        if layer.virtual_size is not None:
            capacity[cached.index] = layer.virtual_size
    return next_index


def strip_cache(disk_el) -> None:
    """A persistent definition keeps no detected chain and no indexes."""
    DiskChain(disk_el).forget()


def backing_name(upper_path: str, base_path: str, relative: bool) -> str:
    """The backing file name written into upper's header: base's path, or relative to upper."""
    return os.path.relpath(base_path, os.path.dirname(upper_path)) if relative else base_path


def set_disk_image(disk, disk_type: str, path: str, fmt: str) -> None:
    """Point a definition's disk at one image, with no chain cached below it
    (the persistent definition after a pivot, a snapshot or a revert)."""
    chain_of(disk).point_at(disk, disk_type, path, fmt)
