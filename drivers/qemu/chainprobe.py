"""Probe once: a disk's backing chain read from the image headers (with the storage
prober's security rules) and recorded in its live <disk> with the domain's next
indexes. The one code path for domain start, disk hotplug and media change."""

from __future__ import annotations

from .chaincache import LayerRef, attach_chain, user_chain_layers


def cache_disk_chain(disk, next_index: int, status_capacity: dict) -> int:
    """Probe one disk's chain (once: at start, hotplug or media change) and record it in
    its live <disk> with indexes from next_index; the layers' virtual sizes go into
    status_capacity. Returns the next free index."""
    from ..storage.chain import ChainLayer, probe_chain
    src = disk.source_element
    if src is None or disk.source is None:
        return next_index
    top_format = disk.driver_type or "raw"
    given, terminated = user_chain_layers(disk.el)
    chain: list[LayerRef | ChainLayer]
    if given:
        # A chain written in XML is trusted as written and never probed.
        chain = [LayerRef(disk.source, top_format, disk.type), *(LayerRef(p, f, t) for p, f, t in given)]
        if not terminated:
            chain += probe_chain(given[-1][0], given[-1][1], disk.target)[1:]
        capacity = None         # the top's own header says (read below)
    else:
        chain = list(probe_chain(disk.source, top_format, disk.target))
        capacity = chain[0].virtual_size
    first = next_index
    next_index = attach_chain(disk.el, chain, next_index)
    if capacity is None:
        from ..storage.probe import read_header
        capacity = read_header(disk.source, top_format).virtual_size or 0
    status_capacity[first] = capacity
    for offset, layer in enumerate(chain[1:], start=1):
        if layer.virtual_size is not None:
            status_capacity[first + offset] = layer.virtual_size
    return next_index
