"""Typed objects for the snapshot side of the QEMU driver's XML: a snapshot's <disk>
entries, the intent a live disk-only snapshot records in the status before it
switches any disk, and the snapshot metadata file. snapshots.py, snapshotops.py
and snapshotmeta.py go through these and never make or move lxml elements.

    <domainsnapshot>...<disks>
      <disk name='vda' snapshot='external' type='file'>   SnapshotDisk
        <driver type='qcow2'/><source file='/images/vda.s1'/>
      </disk>
    </disks>...</domainsnapshot>

    <intent op='snapshot' metadata='1'>                   SnapshotIntent
      <overlay disk='vda' path='...' index='4' created='1' size='...'/>
      <memory path='...' temp='...' running='yes' .../>   (external memory snapshots only)
      <domainsnapshot>...</domainsnapshot>
    </intent>
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode
from ..xmlmodel import XMLObject, XMLProperty, new_element

# The type checker reads any name TYPE_CHECKING as true; Python skips the block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..snapshots import SnapshotDef


class SnapshotDisk(XMLObject):
    """One <disk> of a snapshot: what the snapshot does with a domain disk, and for an
    external one the overlay it writes to afterwards (or, once the overlay is gone, the
    image it pins)."""

    tag = "disk"
    name = XMLProperty("@name")
    snapshot = XMLProperty("@snapshot")         # 'internal', 'external', 'no' (or None: not aligned)
    type = XMLProperty("@type")
    driver_type = XMLProperty("driver/@type")
    source_file = XMLProperty("source/@file")

    @property
    def external(self) -> bool:
        return self.snapshot == "external"

    @property
    def internal(self) -> bool:
        return self.snapshot == "internal"

    def set_external_image(self, path: str) -> None:
        """The overlay this disk's snapshot writes to: a qcow2 file, its <source> only `path`."""
        self.type = "file"
        self.driver_type = "qcow2"
        source = self.el.find("source")
        if source is None:
            source = new_element("source")
            self.el.append(source)
        source.attrib.clear()
        source.set("file", path)


def snapshot_disks(snap: SnapshotDef) -> list[SnapshotDisk]:
    """A snapshot's <disks> entries, in order."""
    return SnapshotDisk.all_in(snap.root.find("disks"))


class IntentOverlay(XMLObject):
    """One disk's new overlay in a snapshot intent, with the node index reserved for it."""

    tag = "overlay"
    disk = XMLProperty("@disk")
    path = XMLProperty("@path")
    index = XMLProperty("@index", int)
    size = XMLProperty("@size", int)

    @property
    def created(self) -> bool:
        """Did pyvirsh make the file (so undoing the snapshot removes it)?"""
        return self.el.get("created") == "1"


class SnapshotIntent(XMLObject):
    """A multi-step change under way, kept in the status (status.intent is its element)."""

    tag = "intent"
    op = XMLProperty("@op")

    @classmethod
    def new_snapshot(cls, with_metadata: bool) -> SnapshotIntent:
        return cls(new_element("intent", (("op", "snapshot"), ("metadata", "1" if with_metadata else "0"))))

    def record_in(self, status) -> None:
        """Make this the status's intent (saved with the status, settled by a later command)."""
        status.intent = self.el

    @property
    def with_metadata(self) -> bool:
        return self.el.get("metadata") == "1"

    def add_overlay(self, disk: str, path: str, index: int, created: bool, size: int) -> None:
        self.el.append(new_element("overlay", (("disk", disk), ("path", path), ("index", str(index)),
                                               ("created", "1" if created else "0"), ("size", str(size)))))

    def overlays(self) -> list[IntentOverlay]:
        return IntentOverlay.all_in(self.el)

    def overlay_for(self, target: str) -> IntentOverlay:
        for overlay in self.overlays():
            if overlay.disk == target:
                return overlay
        raise DriverError(ErrorCode.INTERNAL_ERROR, "no overlay for disk '%s' in the intent" % target)

    # A snapshot with external memory (snapshot-create --memspec): the guest's RAM goes into
    # `memory_temp` (libvirt's save-image format), renamed to `memory` before the disks switch.
    #   <memory path='...' temp='...' running='yes' resume='yes' halt='no' existed='no' renamed='no'/>
    memory = XMLProperty("memory/@path")
    memory_temp = XMLProperty("memory/@temp")
    was_running = XMLProperty("memory/@running", bool)      # the guest ran before the snapshot
    resume = XMLProperty("memory/@resume", bool)            # ... and runs on after it (no --halt)
    halt = XMLProperty("memory/@halt", bool)
    memory_existed = XMLProperty("memory/@existed", bool)   # a file was there before (libvirt overwrites)
    memory_renamed = XMLProperty("memory/@renamed", bool)   # the memory file is in place

    def keep_snapshot(self, snap: SnapshotDef) -> None:
        """A copy of the snapshot being made, for a later command to complete it."""
        from ..xmlutil import detached_copy
        self.el.append(detached_copy(snap.root))

    def snapshot(self) -> SnapshotDef:
        """The snapshot being made (a copy, free to change and add to a tree)."""
        from ..snapshots import SnapshotDef
        from ..xmlutil import detached_copy
        return SnapshotDef(detached_copy(self.el.find("domainsnapshot")))


def metadata_document(current: str | None, owned, snaps: list[SnapshotDef]) -> str:
    """The snapshot metadata file: <snapshots current=...><owned><file path/>...</owned>, then
    every snapshot. The snapshots' elements move into the document (they are written, not kept)."""
    from lxml import etree
    root = new_element("snapshots", (("current", current),) if current else ())
    owned_el = new_element("owned")
    root.append(owned_el)
    for path in sorted(owned):
        owned_el.append(new_element("file", (("path", path),)))
    for snap in snaps:
        root.append(snap.root)
    return etree.tostring(root, encoding="unicode", pretty_print=True)


def read_metadata_document(root) -> tuple[str | None, list[str], list]:
    """(current snapshot, owned files, each <domainsnapshot> element) of a parsed metadata file."""
    return (root.get("current") or None, [el.get("path") for el in root.iterfind("owned/file")],
            list(root.iterfind("domainsnapshot")))
