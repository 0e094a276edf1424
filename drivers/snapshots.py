"""Snapshot metadata shared by the drivers: the snapshot XML model and the tree.

A snapshot is a <domainsnapshot> document (name, description, state, parent,
creation time, memory and per-disk locations, the domain definition at the
time). The tree keeps them by name with parent links and the "current"
marker, and answers libvirt's list filters. Both the test driver (in memory)
and the QEMU driver (persisted per domain) use it, so the two agree on every
listing rule.
"""

from __future__ import annotations

import time

from lxml import etree

from .api import DriverError, ErrorCode, SnapshotListFlags
from .domxml import DOMAIN_SCHEMA, DomainDef
from .ids import parse_uint
from .xmlutil import Schema, detached_copy, parse, parse_trusted, set_child, text_of

SNAPSHOT_SCHEMA = Schema({
    "domainsnapshot": ([], ["name", "description", "state", "parent", "creationTime", "memory",
                            "disks", "domain", "inactiveDomain", "active"]),
    "name": ([], []), "description": ([], []), "state": ([], []), "creationTime": ([], []),
    "active": ([], []),
    "parent": ([], ["name"]),
    "memory": (["snapshot", "file"], []),
    "disks": ([], ["disk"]),
    "disks/disk": (["name", "snapshot", "type"], ["driver", "source"]),
    "driver": (["type"], []),
    "source": (["file", "dev", "index"], []),
})

SNAPSHOT_STATES = ("running", "blocked", "paused", "shutdown", "shutoff", "crashed",
                   "pmsuspended", "disk-snapshot")
LOCATIONS = ("no", "internal", "external", "manual")


class SnapshotDef:
    """One <domainsnapshot> document."""

    def __init__(self, root):
        self.root = root

    @classmethod
    def parse(cls, text: str, *, redefine: bool = False) -> SnapshotDef:
        root = parse(text, "domainsnapshot", root="domainsnapshot")
        snap = cls(root)
        name = text_of(root, "name")
        if name is None:
            if redefine:
                raise DriverError(ErrorCode.XML_ERROR, "a redefined snapshot must have a name")
            set_child(root, "name", str(int(time.time())))
        elif "/" in name:
            raise DriverError(ErrorCode.XML_ERROR, "name %s cannot contain '/'" % name)
        state = text_of(root, "state")
        if redefine:
            if state is None:
                raise DriverError(ErrorCode.XML_ERROR, "missing state from existing snapshot")
            if state not in SNAPSHOT_STATES:
                raise DriverError(ErrorCode.XML_ERROR, "Invalid state '%s' in domain snapshot XML" % state)
            created = text_of(root, "creationTime")
            if parse_uint(created) is None:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "missing creationTime from existing snapshot")
        else:
            for tag in ("state", "creationTime", "parent", "domain", "active", "inactiveDomain"):
                for el in root.findall(tag):
                    root.remove(el)
            set_child(root, "creationTime", str(int(time.time())))
        memory = root.find("memory")
        if memory is not None:
            loc = memory.get("snapshot")
            if loc is not None and loc not in LOCATIONS:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "unknown memory snapshot setting '%s'" % loc)
            if memory.get("file") and loc is None:
                memory.set("snapshot", "external")
        if redefine and (memory is None or memory.get("snapshot") is None):
            # libvirt's default for a redefined snapshot: VM state saved unless it was offline.
            if memory is None:
                memory = etree.SubElement(root, "memory")
            memory.set("snapshot", "no" if state in ("shutoff", "disk-snapshot") else "internal")
        for disk in root.iterfind("disks/disk"):
            if not disk.get("name"):
                raise DriverError(ErrorCode.XML_ERROR, "missing name from disk snapshot element")
            loc = disk.get("snapshot")
            if loc is not None and loc not in LOCATIONS:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "unknown disk snapshot setting '%s'" % loc)
        return snap

    @classmethod
    def from_trusted_xml(cls, text: str, what: str = "snapshot definition") -> SnapshotDef:
        """Load XML pyvirsh wrote itself; ``what`` names it if it turns out to be corrupt."""
        return cls(parse_trusted(text, what))

    # properties -------------------------------------------------------

    @property
    def name(self) -> str:
        return text_of(self.root, "name")

    @property
    def description(self) -> str | None:
        return text_of(self.root, "description")

    @property
    def state(self) -> str:
        return text_of(self.root, "state", "shutoff")

    @state.setter
    def state(self, value: str) -> None:
        set_child(self.root, "state", value)

    @property
    def parent(self) -> str | None:
        return text_of(self.root, "parent/name")

    @parent.setter
    def parent(self, value: str | None) -> None:
        for el in self.root.findall("parent"):
            self.root.remove(el)
        if value is not None:
            parent = etree.SubElement(self.root, "parent")
            etree.SubElement(parent, "name").text = value

    @property
    def creation_time(self) -> int:
        return int(text_of(self.root, "creationTime", "0"))

    @property
    def memory_location(self) -> str | None:
        memory = self.root.find("memory")
        return memory.get("snapshot") if memory is not None else None

    @memory_location.setter
    def memory_location(self, value: str) -> None:
        memory = self.root.find("memory")
        if memory is None:
            memory = etree.SubElement(self.root, "memory")
        memory.set("snapshot", value)

    @property
    def memory_file(self) -> str | None:
        memory = self.root.find("memory")
        return memory.get("file") if memory is not None else None

    def disk_elements(self):
        return list(self.root.iterfind("disks/disk"))

    @property
    def domain(self) -> DomainDef | None:
        el = self.root.find("domain")
        return DomainDef(el) if el is not None else None

    def set_domain(self, dom: DomainDef) -> None:
        for el in self.root.findall("domain"):
            self.root.remove(el)
        clone = dom.copy().root
        clone.attrib.pop("id", None)
        self.root.append(clone)

    @property
    def is_external(self) -> bool:
        if self.memory_location == "external":
            return True
        return any(d.get("snapshot") == "external" for d in self.disk_elements())

    def to_xml(self) -> str:
        head = etree.Element("domainsnapshot")
        for child in self.root:
            if child.tag != "domain":
                head.append(detached_copy(child))
        text = SNAPSHOT_SCHEMA.write(head)
        domain = self.root.find("domain")
        if domain is not None:
            body = DOMAIN_SCHEMA.write(domain, 2)
            text = text[: -len("</domainsnapshot>\n")] + body + "</domainsnapshot>\n"
        return text

    def align_disks(self, dom: DomainDef, default_location: str, require_match: bool) -> None:
        """libvirt's virDomainSnapshotAlignDisks: one <disk> entry per domain disk, in order."""
        given = {}
        disks_el = self.root.find("disks")
        if disks_el is None:
            disks_el = etree.SubElement(self.root, "disks")
        for el in list(disks_el):
            name = el.get("name")
            disk = dom.find_disk(name)
            if disk is None:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "no disk named '%s'" % name)
            if disk.target in given:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "disk '%s' specified twice" % name)
            el.set("name", disk.target)
            given[disk.target] = el
            disks_el.remove(el)
        for disk in dom.disks():
            el = given.get(disk.target)
            if el is None:
                el = etree.Element("disk")
                el.set("name", disk.target)
                if disk.device in ("cdrom", "floppy") or disk.source is None:
                    el.set("snapshot", "no")
                else:
                    el.set("snapshot", default_location)
            elif el.get("snapshot") is None:
                el.set("snapshot", "no" if disk.readonly and disk.device == "cdrom" else default_location)
            disks_el.append(el)


class SnapshotTree:
    """Snapshots of one domain by name, with parent links and the current one."""

    def __init__(self) -> None:
        self.snaps: dict[str, SnapshotDef] = {}
        self.current: str | None = None

    def __contains__(self, name):
        return name in self.snaps

    def __len__(self):
        return len(self.snaps)

    def get(self, name: str) -> SnapshotDef:
        snap = self.snaps.get(name)
        if snap is None:
            raise DriverError(ErrorCode.NO_DOMAIN_SNAPSHOT,
                              "no domain snapshot with matching name '%s'" % name)
        return snap

    def add(self, snap: SnapshotDef) -> None:
        self.snaps[snap.name] = snap

    def redefine(self, snap: SnapshotDef, domain_uuid: str | None, parse_domain, current: bool) -> None:
        """Snapshot metadata given back (snapshot-create --redefine), with libvirt's checks;
        its saved domain goes through the driver's own parser (parse_domain: XML -> DomainDef),
        so it gets the same defaults a defined domain gets."""
        if snap.parent is not None and snap.parent not in self:
            raise DriverError(ErrorCode.INVALID_ARG, "parent %s for snapshot %s not found"
                              % (snap.parent, snap.name))
        if snap.domain is not None:
            snap.set_domain(parse_domain(snap.domain.to_xml()))
            if domain_uuid and snap.domain.uuid != domain_uuid:
                raise DriverError(ErrorCode.INVALID_ARG, "definition for snapshot %s must use uuid %s"
                                  % (snap.name, domain_uuid))
        self.add(snap)
        if current:
            self.current = snap.name

    def children(self, name: str | None) -> list[SnapshotDef]:
        return [s for s in self.snaps.values() if s.parent == name]

    def descendants(self, name: str) -> list[SnapshotDef]:
        out = []
        stack = [name]
        while stack:
            for child in self.children(stack.pop()):
                out.append(child)
                stack.append(child.name)
        return out

    def remove(self, name: str) -> None:
        """Drop one snapshot; its children move to its parent."""
        snap = self.snaps.pop(name)
        for child in self.children(name):
            child.parent = snap.parent
        if self.current == name:
            self.current = snap.parent if snap.parent in self.snaps else None

    def topological(self, items: list[SnapshotDef]) -> list[SnapshotDef]:
        """Parents before children; otherwise creation order."""
        wanted = {s.name for s in items}
        order = []
        seen = set()

        def visit(parent):
            for child in self.children(parent):
                if child.name not in seen:
                    seen.add(child.name)
                    if child.name in wanted:
                        order.append(child)
                    visit(child.name)

        visit(None)
        order.extend(s for s in items if s.name not in seen)
        return order

    def filtered(self, base: str | None, flags: int) -> list[SnapshotDef]:
        """libvirt's snapshot list filters, from the whole tree or below one snapshot."""
        F = SnapshotListFlags
        if base is None:
            items = list(self.snaps.values())
            if flags & F.ROOTS:
                items = [s for s in items if s.parent is None]
        elif flags & F.DESCENDANTS:
            items = self.descendants(base)
        else:
            items = self.children(base)
        leaves = flags & (F.LEAVES | F.NO_LEAVES)
        if leaves == F.LEAVES:
            items = [s for s in items if not self.children(s.name)]
        elif leaves == F.NO_LEAVES:
            items = [s for s in items if self.children(s.name)]
        metadata = flags & (F.METADATA | F.NO_METADATA)
        if metadata == F.NO_METADATA:
            items = []
        states = flags & (F.INACTIVE | F.ACTIVE | F.DISK_ONLY)
        if states:
            def state_ok(s):
                st = s.state
                return bool((flags & F.INACTIVE and st == "shutoff")
                            or (flags & F.DISK_ONLY and st == "disk-snapshot")
                            or (flags & F.ACTIVE and st not in ("shutoff", "disk-snapshot")))
            items = [s for s in items if state_ok(s)]
        location = flags & (F.INTERNAL | F.EXTERNAL)
        if location == F.INTERNAL:
            items = [s for s in items if not s.is_external]
        elif location == F.EXTERNAL:
            items = [s for s in items if s.is_external]
        if flags & F.TOPOLOGICAL:
            items = self.topological(items)
        return items
