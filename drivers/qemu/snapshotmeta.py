"""What a snapshot's metadata says about images, for snapshots.py (create, follow merges)
and snapshotops.py (delete, revert): which image a snapshot pins, the overlay name
libvirt would choose, and renaming an image in a snapshot. A module of its own so
that those two import it and never each other."""

from __future__ import annotations

import os

from .chaincache import set_disk_image
from .snapshotmodel import snapshot_disks

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (lxml costs start-up time).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..snapshots import SnapshotDef


def pinned_images(snap: SnapshotDef) -> dict[str, tuple[str, str]]:
    """disk -> (path, format) of the images an external snapshot pins."""
    out: dict[str, tuple[str, str]] = {}
    dom = snap.domain
    if dom is None:
        return out
    external = {d.name for d in snapshot_disks(snap) if d.external}
    for disk in dom.disks():
        if disk.target in external and disk.source:
            out[disk.target] = (disk.source, disk.driver_type or "raw")
    return out


def rename_in_snapshot(snap, target: str, old: str, new: str, new_fmt: str) -> None:
    """A snapshot that named image `old` for disk `target` names `new` instead."""
    dom = snap.domain
    if dom is not None:
        disk = dom.find_disk(target)
        if disk is not None and disk.source == old:
            set_disk_image(disk, "file", new, new_fmt)
    for entry in snapshot_disks(snap):
        if entry.name == target and entry.source_file == old:
            entry.source_file = new


def default_overlay_name(path: str, snap_name: str) -> str:
    """libvirt's default: the suffix after the last dot replaced by the snapshot's name."""
    directory, base = os.path.split(path)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return os.path.join(directory, "%s.%s" % (stem, snap_name))
