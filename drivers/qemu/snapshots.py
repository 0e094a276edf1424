"""Snapshots on the QEMU driver: external disk-only, external with memory (--memspec, the
RAM half in memsnapshot.py) and internal, with delete and revert that work in any
topology, running or shut off.

The model. For each disk the images form a tree: every image but a base has one
parent (its backing file); the domain's active image is a leaf. An external
snapshot S "pins" the image that was active when S was taken (the one
recorded in S's <domain>); from then on that image is frozen and a new overlay
takes the writes. Nothing ever writes to a frozen image.

    delete S   S's image is no longer pinned. If it has exactly one child, the child
               is committed into it (a block job if QEMU has the child open: an
               active commit with pivot, or an intermediate commit), and whatever
               referred to the child (the disk, a snapshot, a grandchild's header)
               refers to the merged image; the child's file goes if pyvirsh made
               it. With no child (a dead branch) the image itself goes if pyvirsh
               made it; with two or more children it stays, unpinned.
    revert S   the domain leaves its current image and continues from a new overlay
               on S's pinned image; the definition goes back to S's. The image
               left behind is removed if pyvirsh made it and nothing else uses it.

Images pyvirsh created (snapshot and revert overlays) are listed in the metadata
as owned; no other file is ever deleted. Metadata, the chain cache and the
persistent definition change together under the domain lock.
"""

from __future__ import annotations

import os


from ..api import (DomainState, DriverError, ErrorCode, Reason, SnapshotCreateFlags, SnapshotDeleteFlags,
                   SnapshotRevertFlags, check_snapshot_create_flags, check_snapshot_delete_flags,
                   check_snapshot_revert_flags, check_flags, writes)
from ..api import TreeSnapshot
from ..fsutil import atomic_write, remove
from .blockjobs import blockdev_del
from .domainbase import QemuDomainBase
from .chaincache import chain_of, format_node, set_disk_image, storage_node
from ..storage.qemuimg import qemu_img
from .snapshotmeta import default_overlay_name, pinned_images, rename_in_snapshot
from .snapshotmodel import SnapshotIntent, metadata_document, read_metadata_document, snapshot_disks
from .readview import save_config
from .snapshotops import delete_snapshots, revert_snapshot
from .statefile import parse_state
from .status import Status

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (lxml costs start-up time).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domxml import Disk
    from ..snapshots import SnapshotDef, SnapshotTree

JOB_TIMEOUT = 600.0


# ---------------------------------------------------------------------------
# Metadata on disk: <snapshots current='s2'><owned>...</owned><domainsnapshot/>...</snapshots>
# ---------------------------------------------------------------------------

class Metadata:
    def __init__(self, path: str, on_save=None):
        from ..snapshots import SnapshotDef, SnapshotTree
        self.path = path
        self.on_save = on_save          # called after every write of the file
        self.tree = SnapshotTree()
        self.owned: set[str] = set()
        root = parse_state(path)
        if root is None:
            return
        current, owned, snapshots = read_metadata_document(root)
        self.owned.update(owned)
        for el in snapshots:
            self.tree.add(SnapshotDef(el))
        self.tree.current = current

    def save(self) -> None:
        try:
            self._write()
        finally:
            if self.on_save is not None:
                self.on_save()

    def _write(self) -> None:
        if not self.tree.snaps and not self.owned:
            remove(self.path)
            return
        atomic_write(self.path, metadata_document(self.tree.current, self.owned, list(self.tree.snaps.values())))


def _file_identity(path: str):
    """What tells one version of a file from another without reading it, or None if absent.
    atomic_write replaces the file, so a rewrite changes the inode and ctime as well."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _built_on(path: str, meta: Metadata, target: str, exclude: set[str]) -> bool:
    """Does an image pyvirsh made, or one a snapshot pins, still name `path` as its backing file?
    (Images QEMU has open are in the cached chain, where a merged image no longer is.)"""
    from ..storage.probe import read_header
    candidates = set(meta.owned)
    for snap in meta.tree.snaps.values():
        pinned = pinned_images(snap).get(target)
        if pinned:
            candidates.add(pinned[0])
    for other in candidates - exclude - {path}:
        try:
            header = read_header(other, "qcow2")
        except (DriverError, OSError):
            continue
        name = header.backing_name
        if name and os.path.join(os.path.dirname(other), name) == path:
            return True
    return False


class Snapshots(QemuDomainBase):
    """Snapshot methods of QemuDomain (mixed in)."""

    # (file identity, Metadata) of the last read: snapshot handles ask for the tree on
    # every call, and snapshot-list makes several calls per snapshot.
    _metadata_cache: tuple[tuple, Metadata] | None = None

    def _metadata(self) -> Metadata:
        """The snapshot metadata, to read: parsed again only when the file changed.
        Never change what this returns; changes go through _metadata_for_update."""
        path = self.paths.snapshot_file(self.name)
        identity = _file_identity(path)     # before reading: a newer file than the key only costs a reload
        cached = self._metadata_cache
        if identity is not None and cached is not None and cached[0] == identity:
            return cached[1]
        meta = Metadata(path)
        self._metadata_cache = (identity, meta) if identity is not None else None
        return meta

    # The Metadata a command of this process is changing (under the domain lock), so that
    # block jobs finishing inside it (a snapshot delete merging images) change the same one.
    _metadata_open: Metadata | None = None

    def _metadata_for_update(self) -> Metadata:
        """The snapshot metadata read afresh from the file, to change and save: call it
        with the domain lock held. Saving it drops the read cache."""
        self._forget_metadata()
        return Metadata(self.paths.snapshot_file(self.name), on_save=self._forget_metadata)

    def follow_merge(self, target: str, merged: list[tuple[str, str]], into: tuple[str, str],
                     deleted_snapshot: str | None = None) -> list[str]:
        """A commit put the data of `merged` images into `into`: every snapshot that named one
        of them names `into` now. Returns the merged images pyvirsh made that nothing else
        builds on (no longer owned; the caller removes them once QEMU has let them go)."""
        meta = self._metadata_open or self._metadata_for_update()
        paths = [path for path, _ in merged]
        for snap in meta.tree.snaps.values():
            for old in paths:
                rename_in_snapshot(snap, target, old, into[0], into[1])
        if deleted_snapshot is not None and deleted_snapshot in meta.tree:
            # The merge was the last step of deleting this snapshot (its delete was killed).
            meta.tree.remove(deleted_snapshot)
        doomed = []
        for path in paths:
            if path in meta.owned and not _built_on(path, meta, target, exclude=set(paths)):
                meta.owned.discard(path)
                doomed.append(path)
        meta.save()
        return doomed

    def _forget_metadata(self) -> None:
        self._metadata_cache = None

    def snapshot_count(self) -> int:
        return len(self._metadata().tree)

    def drop_snapshot_metadata(self) -> None:
        remove(self.paths.snapshot_file(self.name))
        self._forget_metadata()

    # listing and lookup ---------------------------------------------------

    def list_all_snapshots(self, flags: int = 0):
        tree = self._metadata().tree
        return [QemuSnapshot(self, s.name) for s in tree.filtered(None, flags)]

    def snapshot_lookup_by_name(self, name: str):
        self._metadata().tree.get(name)
        return QemuSnapshot(self, name)

    def has_current_snapshot(self) -> bool:
        return self._metadata().tree.current is not None

    def snapshot_current(self):
        tree = self._metadata().tree
        if tree.current is None:
            raise DriverError(ErrorCode.NO_DOMAIN_SNAPSHOT, "the domain does not have a current snapshot")
        return QemuSnapshot(self, tree.current)

    # create ---------------------------------------------------------------

    @writes("virDomainSnapshotCreateXML")
    def snapshot_create_xml(self, xml: str, flags: int = 0):
        from ..snapshots import SnapshotDef
        F = SnapshotCreateFlags
        check_snapshot_create_flags(flags)
        allowed = (F.REDEFINE | F.CURRENT | F.NO_METADATA | F.HALT | F.DISK_ONLY | F.REUSE_EXT | F.QUIESCE |
                   F.ATOMIC | F.LIVE | F.VALIDATE)
        check_flags(flags, allowed, "qemuDomainSnapshotCreateXML")
        if flags & F.QUIESCE and not flags & F.DISK_ONLY:
            raise DriverError(ErrorCode.RAW, "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by "
                              "flag 'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'")
        redefine = bool(flags & F.REDEFINE)
        snap = SnapshotDef.parse(xml, redefine=redefine)
        memory_file = snap.memory_file
        if memory_file and snap.memory_location in ("internal", "no") and not redefine:
            raise DriverError(ErrorCode.XML_ERROR, "memory filename '%s' requires external snapshot" % memory_file)
        with self.locked():
            if (snap.memory_location == "external" and not redefine
                    and (flags & F.DISK_ONLY or self.status is None)):
                # libvirt parses the XML as an offline one then (recorded from libvirt 9.0).
                raise DriverError(ErrorCode.XML_ERROR,
                                  "memory state cannot be saved with offline or disk-only snapshot")
            meta = self._metadata_for_update()
            if redefine:
                meta.tree.redefine(snap, self.uuid, self.conn.parse_definition, bool(flags & F.CURRENT))
                meta.save()
                return QemuSnapshot(self, snap.name)
            if snap.name in meta.tree:
                raise DriverError(ErrorCode.OPERATION_FAILED, "domain moment %s already exists" % snap.name)
            if self.status is not None and self.status.jobs:
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain has active block job")
            if self.status is not None:
                from .chainrepair import repair_chains
                with self.qmp() as q:
                    repair_chains(self, q)      # overlays go over the images QEMU has, not a stale cache
            if flags & F.LIVE and (flags & F.DISK_ONLY or self.status is None):
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  "live snapshot creation is supported only during full system snapshots")
            memory = snap.memory_location
            external_disks = any(d.external for d in snapshot_disks(snap))
            if flags & F.DISK_ONLY or (memory in (None, "no") and external_disks):
                if memory not in (None, "no"):
                    raise DriverError(ErrorCode.OPERATION_INVALID,
                                      "memory state cannot be saved with offline or disk-only snapshot")
                self._create_disk_only(snap, meta, flags)
            elif memory == "external":
                self._create_with_memory(snap, meta, flags)
            else:
                self._create_internal(snap, meta, flags)
            if not flags & F.NO_METADATA and snap.name not in meta.tree:
                snap.parent = meta.tree.current
                meta.tree.add(snap)
                meta.tree.current = snap.name
            meta.save()
            if flags & F.HALT and self.status is not None:
                self._stop_qemu(self.status)
                self._cleanup(Reason.SHUTOFF_FROM_SNAPSHOT)
        return QemuSnapshot(self, snap.name)

    def _current_definition(self):
        return self.status.definition if self.status is not None else self.config

    def _create_disk_only(self, snap: SnapshotDef, meta: Metadata, flags: int) -> None:
        """External overlays for every selected disk, switched all at once."""
        F = SnapshotCreateFlags
        definition = self._current_definition()
        snap.align_disks(definition, "external", False)
        snap.state = "disk-snapshot" if self.status is not None else "shutoff"
        snap.memory_location = "no"
        snap.set_domain(self.config if self.config is not None and self.status is None else definition)
        if snap.domain is not None:
            _strip_cache(snap.domain)
        plan = self._plan_overlays(snap, definition, flags)
        if not plan:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "disk-only snapshots require at least one disk to be selected for snapshot")
        if self.status is not None:
            self._create_disk_only_live(snap, meta, flags, plan)
            return
        created = []
        try:
            for disk, path, exists in plan:
                if not exists:
                    size = self._disk_capacity(disk)
                    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", disk.source, "-F",
                             disk.driver_type or "raw", path, str(size))
                    created.append(path)
            self._switch_config_sources(plan)
        except BaseException:
            for path in created:
                remove(path)
            raise
        if not flags & F.NO_METADATA:
            meta.owned.update(created)

    def _plan_overlays(self, snap: SnapshotDef, definition, flags: int) -> list:
        """(disk, overlay path, existed before) for every disk the snapshot makes external."""
        F = SnapshotCreateFlags
        plan = []
        for entry in snapshot_disks(snap):
            if not entry.external:
                if entry.internal:
                    raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                      "mixing internal and external targets for a snapshot is not yet supported")
                continue
            disk = definition.find_disk(entry.name)
            if disk.source is None:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "cannot generate external snapshot name for disk '%s' without source"
                                  % disk.target)
            path = entry.source_file or default_overlay_name(disk.source, snap.name)
            if not os.path.isabs(path):
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "external snapshot file path '%s' must be "
                                  "absolute" % path)
            exists = os.path.exists(path)
            if exists and not flags & F.REUSE_EXT:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  "external snapshot file for disk %s already exists and is not a block "
                                  "device: %s" % (disk.target, path))
            if not exists and flags & F.REUSE_EXT:
                raise DriverError(ErrorCode.INVALID_ARG, "external snapshot file for disk %s does not exist: %s"
                                  % (disk.target, path))
            if entry.driver_type not in (None, "qcow2"):
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "external snapshot format for disk %s is "
                                  "unsupported: %s" % (disk.target, entry.driver_type))
            entry.set_external_image(path)
            plan.append((disk, path, exists))
        return plan

    def _create_disk_only_live(self, snap: SnapshotDef, meta: Metadata, flags: int, plan) -> None:
        """The intent goes into the status first (overlays, node indexes, the snapshot
        itself), then files, nodes and the one QMP transaction that switches every disk;
        then the cache, the persistent definition and the metadata follow and the intent
        goes. A pyvirsh killed anywhere in between leaves the intent, and the next command
        asks QEMU whether the transaction happened: it completes the snapshot if so, and
        removes the overlays if not (settle_intent)."""
        status = self._require_active()
        intent = SnapshotIntent.new_snapshot(with_metadata=not flags & SnapshotCreateFlags.NO_METADATA)
        for disk, path, exists in plan:
            intent.add_overlay(disk.target, path, status.next_index, created=not exists,
                               size=self._disk_capacity(disk))
            status.next_index += 1      # node names are never reused, even after a kill
        intent.keep_snapshot(snap)
        intent.record_in(status)
        self.save_status()
        try:
            for disk, path, exists in plan:
                if not exists:
                    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", disk.source, "-F",
                             disk.driver_type or "raw", path, str(intent.overlay_for(disk.target).size))
            if flags & SnapshotCreateFlags.QUIESCE:
                self.quiesce()          # the guest's file systems frozen, noted in the status
            try:
                with self.qmp() as q:
                    self._snapshot_transaction(q, intent)
            except BaseException:
                self.thaw_recorded_freeze(quiet=True)
                raise
        except BaseException:
            # Nothing switched: the overlays are not in use and go (the intent with them).
            # If even that fails, the intent stays for the next command to settle.
            try:
                with self.qmp() as q:
                    self._roll_back_snapshot(q)
            except DriverError:
                pass
            raise
        thaw_error = None
        try:
            self.thaw_recorded_freeze()
        except DriverError as err:
            thaw_error = err            # the note stays in the status: the next command thaws
        self._complete_snapshot(meta)
        if thaw_error is not None:
            raise thaw_error

    def _create_with_memory(self, snap: SnapshotDef, meta: Metadata, flags: int) -> None:
        """An external snapshot of a running domain with its RAM (--memspec), as libvirt 9.0
        makes it: the RAM to the memory file in libvirt's save-image format, then the disks'
        overlays in one transaction, then the guest runs on (unless --halt). Kill-safe as the
        disk-only snapshot: everything is in the status's intent first (see memsnapshot.py)."""
        from . import memsnapshot
        F = SnapshotCreateFlags
        status = self._require_active()
        path = snap.memory_file
        if not path or not os.path.isabs(path):
            raise DriverError(ErrorCode.XML_ERROR, "memory snapshot file path (%s) must be absolute" % path)
        definition = status.definition
        snap.align_disks(definition, "external", False)
        was_running = status.state == DomainState.RUNNING
        snap.state = "running" if was_running else "paused"
        snap.set_domain(definition)
        saved = snap.domain
        assert saved is not None
        _strip_cache(saved)
        saved_xml = saved.to_xml()          # the memory file's header holds it, as libvirt's does
        plan = self._plan_overlays(snap, definition, flags)
        intent = SnapshotIntent.new_snapshot(with_metadata=not flags & F.NO_METADATA)
        for disk, overlay, exists in plan:
            intent.add_overlay(disk.target, overlay, status.next_index, created=not exists,
                               size=self._disk_capacity(disk))
            status.next_index += 1
        intent.memory, intent.memory_temp = path, memsnapshot.temp_name(path)
        intent.was_running, intent.halt = was_running, bool(flags & F.HALT)
        intent.resume = was_running and not flags & F.HALT
        intent.memory_existed = os.path.exists(path)
        intent.memory_renamed = False
        intent.keep_snapshot(snap)
        # The intent is saved before the temporary file exists, so a pyvirsh killed right
        # after creating it leaves a file the next command knows to remove.
        intent.record_in(status)
        self.save_status()
        try:
            fd = memsnapshot.open_temp(path, intent.memory_temp)
        except DriverError:
            status.intent = None            # nothing was done yet
            self.save_status()
            raise
        try:
            try:
                for disk, overlay, exists in plan:
                    if not exists:
                        qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", disk.source, "-F",
                                 disk.driver_type or "raw", overlay, str(intent.overlay_for(disk.target).size))
                with self.qmp() as q:
                    memsnapshot.save_memory(self, q, fd, intent, saved_xml, bool(flags & F.LIVE))
                os.close(fd)
                fd = -1
                memsnapshot.put_in_place(self, intent)
                with self.qmp() as q:
                    if plan:
                        self._snapshot_transaction(q, intent)
            except BaseException:
                try:
                    with self.qmp() as q:
                        self._roll_back_snapshot(q)
                except DriverError:
                    pass            # the intent stays for the next command to settle
                raise
        finally:
            if fd >= 0:
                os.close(fd)
        with self.qmp() as q:
            self._complete_snapshot(meta, q)

    def settle_intent(self, q) -> None:
        """Finish or undo what a killed pyvirsh left in the status's intent."""
        _, intent = self._intent()
        if intent.op == "save":
            self.settle_save_intent(q)      # type: ignore[attr-defined]  # savestate.SaveState
            return
        if intent.op != "snapshot":
            raise DriverError(ErrorCode.INTERNAL_ERROR, "unknown intent '%s' in the status" % intent.op)
        inserted = {b.get("inserted", {}).get("node-name") for b in q.execute("query-block")}
        switched = [format_node(o.index) in inserted for o in intent.overlays()]
        if intent.memory and not switched:
            from .memsnapshot import renamed
            # No disk to switch: the memory file in place is the commit point.
            switched = [renamed(intent) and not os.path.exists(intent.memory_temp)]
        if all(switched):
            halt = bool(intent.memory and intent.halt)
            self._complete_snapshot(self._metadata_open or self._metadata_for_update(), q)
            if halt:
                self._stop_qemu(self._require_active())
                self._cleanup(Reason.SHUTOFF_FROM_SNAPSHOT)
        elif not any(switched):
            self._roll_back_snapshot(q)
        else:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "a snapshot transaction switched only some disks")

    def _snapshot_transaction(self, q, intent) -> None:
        """blockdev-add every overlay, then one QMP transaction of blockdev-snapshot: all or
        nothing. The transaction is the commit point: after it the guest writes to the overlays."""
        actions = []
        for o in intent.overlays():
            index = o.index
            disk = _live_disk(self._require_active(), o.disk)
            q.execute("blockdev-add", {"driver": "file", "filename": o.path,
                                       "node-name": storage_node(index), "auto-read-only": True})
            q.execute("blockdev-add", {"driver": "qcow2", "file": storage_node(index),
                                       "node-name": format_node(index), "backing": None})
            actions.append({"type": "blockdev-snapshot",
                            "data": {"node": chain_of(disk).top.node_name, "overlay": format_node(index)}})
        q.execute("transaction", {"actions": actions})

    def _roll_back_snapshot(self, q) -> None:
        """The transaction never happened: drop the overlays' nodes and the files made for them."""
        status, intent = self._intent()
        for o in intent.overlays():
            blockdev_del(q, o.index)
        for o in intent.overlays():
            if o.created:
                remove(o.path)
        if intent.memory:
            from .memsnapshot import undo_memory
            undo_memory(self, q, intent)
        status.intent = None
        self.save_status()

    def _complete_snapshot(self, meta: Metadata, q=None) -> None:
        """The transaction happened: cache, persistent definition and metadata follow, each
        step safe to repeat, and the intent goes last. A snapshot with memory resumes the
        guest that ran (q: the monitor, for those)."""
        status, intent = self._intent()
        for o in intent.overlays():
            chain = chain_of(_live_disk(status, o.disk))
            if chain.top.index != o.index:
                status.capacity[o.index] = o.size
                chain.push_overlay(o.path, "qcow2", "file", o.index)
        self.save_status()
        if self.config is not None:
            for o in intent.overlays():
                cfg = self.config.find_disk(o.disk)
                if cfg is not None:
                    set_disk_image(cfg, "file", o.path, "qcow2")
            save_config(self.paths.config_file(self.name), self.config.to_xml())
        if intent.with_metadata:
            snap = intent.snapshot()
            if snap.name not in meta.tree:
                snap.parent = meta.tree.current
                meta.tree.add(snap)
                meta.tree.current = snap.name
            meta.owned.update(o.path for o in intent.overlays() if o.created)
            meta.save()
        if intent.memory and intent.resume and q is not None:
            from .memsnapshot import resume
            resume(self, q)
        status.intent = None
        self.save_status()

    def _intent(self) -> tuple[Status, SnapshotIntent]:
        """The running domain's status and the intent recorded in it."""
        status = self._require_active()
        if status.intent is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "no intent in the status of domain '%s'" % self.name)
        return status, SnapshotIntent(status.intent)

    def _disk_capacity(self, disk) -> int:
        if self.status is not None:
            top = chain_of(disk).top
            if top.index is not None and top.index in self.status.capacity:
                return self.status.capacity[top.index]
        from ..storage.probe import read_header
        return read_header(disk.source, disk.driver_type or "raw").virtual_size or 0

    def _switch_config_sources(self, plan) -> None:
        """The persistent definition follows the new overlays (libvirt does the same)."""
        if self.config is None:
            return
        for disk, path, _ in plan:
            cfg = self.config.find_disk(disk.target)
            if cfg is None:
                continue
            set_disk_image(cfg, "file", path, "qcow2")
        save_config(self.paths.config_file(self.name), self.config.to_xml())

    def _create_internal(self, snap: SnapshotDef, meta: Metadata, flags: int) -> None:
        """A qcow2 internal snapshot: VM state and disks (running), or disks only (shut off)."""
        definition = self._current_definition()
        snap.align_disks(definition, "internal", True)
        disks = []
        for entry in snapshot_disks(snap):
            if entry.external:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "mixing internal and external targets for a snapshot is not yet supported")
            if not entry.internal:
                continue
            disk = definition.find_disk(entry.name)
            if (disk.driver_type or "raw") != "qcow2":
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "internal snapshot for disk %s unsupported for "
                                  "storage type %s" % (disk.target, disk.driver_type or "raw"))
            disks.append(disk)
        if self.status is not None:
            if not disks:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "internal snapshot of a running VM must include the memory state")
            state = self.status.state
            snap.state = "paused" if state == DomainState.PAUSED else "running"
            snap.memory_location = "internal"
            nodes = [chain_of(d).top.node_name for d in disks]
            from . import events
            if state == DomainState.RUNNING:        # QEMU stops the guest for the save: libvirt's events
                events.record(self, events.SUSPENDED, events.SUSPENDED_PAUSED)
            self._run_job("snapshot-save", {"tag": snap.name, "vmstate": nodes[0], "devices": nodes})
            if state == DomainState.RUNNING and not flags & SnapshotCreateFlags.HALT:
                with self.qmp() as q:
                    q.execute("cont")
                events.record(self, events.RESUMED, events.RESUMED_UNPAUSED)
        else:
            snap.state = "shutoff"
            snap.memory_location = "no"
            for disk in disks:
                qemu_img("snapshot", "-c", snap.name, disk.source)
        snap.set_domain(self.config if self.status is None and self.config is not None else definition)
        _strip_cache(snap.domain)

    def _run_job(self, command: str, args: dict) -> None:
        """Run a QEMU job that must end before the command returns (internal snapshots)."""
        from ..waiting import wait_for
        job = "pvsnap"
        with self.qmp() as q:
            q.execute(command, dict(args, **{"job-id": job}))

            def concluded() -> dict | None:
                info = {j["id"]: j for j in q.execute("query-jobs")}.get(job)
                if info is None:
                    return {}           # gone: nothing to report
                return info if info["status"] == "concluded" else None

            info = wait_for(concluded, JOB_TIMEOUT, lambda seconds: q.wait_event(("JOB_STATUS_CHANGE",), seconds))
            if info is None:
                raise DriverError(ErrorCode.OPERATION_TIMEOUT, "%s did not finish in time" % command)
            q.execute("job-dismiss", {"id": job})
        if info.get("error"):
            raise DriverError(ErrorCode.OPERATION_FAILED, "%s failed: %s" % (command, info["error"]))


def _live_disk(status: Status, target: str) -> Disk:
    disk = status.definition.find_disk(target)
    if disk is None:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "disk '%s' of the intent is not in the live definition"
                          % target)
    return disk


def _strip_cache(definition) -> None:
    """A snapshot keeps the definition, not the live chain cache."""
    definition.root.attrib.pop("id", None)
    for disk in definition.disks():
        chain_of(disk).forget()


class QemuSnapshot(TreeSnapshot):
    dom: Snapshots

    def _tree(self) -> SnapshotTree:
        return self.dom._metadata().tree

    @writes("virDomainSnapshotDelete")
    def delete(self, flags: int = 0) -> None:
        F = SnapshotDeleteFlags
        check_snapshot_delete_flags(flags)
        check_flags(flags, F.CHILDREN | F.CHILDREN_ONLY | F.METADATA_ONLY, "qemuDomainSnapshotDelete")
        dom = self.dom
        with dom.locked():
            meta = dom._metadata_open = dom._metadata_for_update()
            try:
                snap = meta.tree.get(self.name)
                victims = []
                if flags & (F.CHILDREN | F.CHILDREN_ONLY):
                    victims = [s.name for s in meta.tree.descendants(snap.name)]
                if not flags & F.CHILDREN_ONLY:
                    victims.append(snap.name)
                delete_snapshots(dom, meta, victims, metadata_only=bool(flags & F.METADATA_ONLY))
                meta.save()
            finally:
                dom._metadata_open = None

    @writes("virDomainRevertToSnapshot")
    def revert(self, flags: int = 0) -> None:
        F = SnapshotRevertFlags
        check_snapshot_revert_flags(flags)
        allowed = F.RUNNING | F.PAUSED | F.FORCE
        check_flags(flags, allowed, "qemuDomainRevertToSnapshot")
        dom = self.dom
        with dom.locked():
            meta = dom._metadata_open = dom._metadata_for_update()
            try:
                snap = meta.tree.get(self.name)
                revert_snapshot(dom, meta, snap, flags)
                meta.tree.current = snap.name
                meta.save()
            finally:
                dom._metadata_open = None

