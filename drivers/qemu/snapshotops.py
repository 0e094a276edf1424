"""The chain-altering half of snapshots: delete and revert (see snapshots.py for the model).

Everything here runs with the domain lock held. On a running domain, images
QEMU has open change only through QEMU's own block jobs (active commit with
pivot, intermediate commit); images of other branches are closed and are
changed with qemu-img.
"""

from __future__ import annotations

import os

from ..api import (BlockCommitFlags, DriverError, ErrorCode, Reason, SnapshotRevertFlags)
from ..fsutil import remove
from .chaincache import chain_of, set_disk_image
from ..storage.qemuimg import qemu_img
from .snapshotmeta import default_overlay_name, pinned_images, rename_in_snapshot
from .snapshotmodel import snapshot_disks
from .readview import save_config

JOB_WAIT = 3600.0


class ImageTree:
    """Every image of one disk that the domain or a snapshot still needs, with its parent."""

    def __init__(self) -> None:
        self.parent: dict[str, str | None] = {}
        self.format: dict[str, str] = {}
        self.complete = True        # False: a chain could not be read (a child may be unknown)

    def add_chain(self, chain: list[tuple[str, str]]) -> None:
        for (path, fmt), below in zip(chain, chain[1:] + [None]):
            self.parent.setdefault(path, below[0] if below else None)
            self.format.setdefault(path, fmt)

    def children(self, path: str) -> list[str]:
        return [p for p, parent in self.parent.items() if parent == path]


def _probe(path: str, fmt: str, target: str) -> list[tuple[str, str]]:
    from ..storage.chain import probe_chain
    return [(layer.path, layer.format) for layer in probe_chain(path, fmt, target)]


def active_chain(dom, target: str) -> list[tuple[str, str]]:
    """The disk's current chain: from the cache while running (never re-probed), else probed."""
    if dom.status is not None:
        disk = dom.status.definition.find_disk(target)
        return [layer.image() for layer in chain_of(disk).layers()] if disk is not None else []
    disk = dom.config.find_disk(target) if dom.config is not None else None
    if disk is None or disk.source is None:
        return []
    return _probe(disk.source, disk.driver_type or "raw", target)


def build_tree(dom, meta, target: str) -> tuple[ImageTree, str | None]:
    tree = ImageTree()
    chain = active_chain(dom, target)
    tree.add_chain(chain)
    extra = [pins[target] for pins in (pinned_images(s) for s in meta.tree.snaps.values()) if target in pins]
    extra += [(path, "qcow2") for path in sorted(meta.owned) if os.path.exists(path)]
    for path, fmt in extra:
        if path in tree.parent or not os.path.exists(path):
            continue
        try:
            tree.add_chain(_probe(path, fmt, target))
        except DriverError:
            tree.complete = False
            continue
    return tree, chain[0][0] if chain else None


def _pins(meta, target: str, excluding: str | None = None) -> set[str]:
    out = set()
    for snap in meta.tree.snaps.values():
        if snap.name == excluding:
            continue
        pinned = pinned_images(snap).get(target)
        if pinned:
            out.add(pinned[0])
    return out


# ---------------------------------------------------------------------------
# delete
# ---------------------------------------------------------------------------

def delete_snapshots(dom, meta, names: list[str], metadata_only: bool) -> None:
    # Descendants before ancestors, so each merge sees a settled tree below it.
    depth = {}
    for name in names:
        d, node = 0, meta.tree.get(name)
        while node.parent is not None and node.parent in meta.tree:
            d += 1
            node = meta.tree.get(node.parent)
        depth[name] = d
    for name in sorted(names, key=lambda n: -depth[n]):
        snap = meta.tree.get(name)
        if not metadata_only:
            if snap.is_external:
                _delete_external(dom, meta, snap)
            else:
                _delete_internal(dom, snap)
        if name in meta.tree:       # a merge finishing may have dropped it already
            meta.tree.remove(name)
        meta.save()
        if not metadata_only and snap.memory_file and not _memory_file_in_use(meta, snap.memory_file):
            # After the metadata: killed in between, the file is left over, never named and missing.
            remove(snap.memory_file)
    if not metadata_only:
        for target in _all_targets(dom, meta):
            collect_garbage(dom, meta, target)


def _memory_file_in_use(meta, path: str) -> bool:
    """Another snapshot names the same memory file (libvirt lets a snapshot overwrite one)."""
    return any(s.memory_file == path for s in meta.tree.snaps.values())


def _all_targets(dom, meta) -> list[str]:
    definition = dom.status.definition if dom.status is not None else dom.config
    return [d.target for d in definition.disks()] if definition is not None else []


def _delete_external(dom, meta, snap) -> None:
    pins = pinned_images(snap)
    for target, (pinned, _fmt) in pins.items():
        if pinned in _pins(meta, target, excluding=snap.name):
            continue
        tree, active = build_tree(dom, meta, target)
        if pinned not in tree.parent:
            continue
        kids = tree.children(pinned)
        if len(kids) == 1:
            # A one-disk snapshot's merge job carries the delete: killed while it runs, the
            # next command pivots it and drops the snapshot (several disks: redo the delete).
            dom.merging_for_snapshot = snap.name if len(pins) == 1 else ""
            try:
                merge_child_into(dom, meta, target, pinned, kids[0], tree, active)
            finally:
                dom.merging_for_snapshot = None
        # No child: a dead branch, collected below. Two or more: it stays, unpinned.


def merge_child_into(dom, meta, target: str, parent: str, child: str, tree: ImageTree, active) -> None:
    """Commit `child` into `parent`; everything that named the child names the parent afterwards."""
    parent_fmt, child_fmt = tree.format[parent], tree.format[child]
    live = [p for p, _ in active_chain(dom, target)] if dom.status is not None else []
    grandkids = tree.children(child)
    if child in live:
        if child == active:
            dom.block_commit(target, _spec(dom, target, parent), None, 0, BlockCommitFlags.ACTIVE)
            # Started with the pivot as its intent (merging_for_snapshot): the reconcile that
            # finds it ready pivots it, here or in the next command if this one is killed.
            _wait_job(dom, target, ready=False)
        else:
            dom.block_commit(target, _spec(dom, target, parent), _spec(dom, target, child), 0, 0)
            _wait_job(dom, target, ready=False)
        grandkids = [g for g in grandkids if g not in live]
    else:
        qemu_img("commit", "-q", "-d", "-f", child_fmt, "-b", parent, child)
        if child == active:
            dom.point_config_disk(target, parent, parent_fmt)
    for grandkid in grandkids:
        qemu_img("rebase", "-q", "-u", "-f", tree.format[grandkid], "-b", parent, "-F", parent_fmt, grandkid)
    for snap in meta.tree.snaps.values():
        rename_in_snapshot(snap, target, child, parent, parent_fmt)
    if child in meta.owned:
        if _open_in_qemu(dom, child):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "QEMU still has '%s' open; it is not removed" % child)
        remove(child)
        meta.owned.discard(child)


def _spec(dom, target: str, path: str) -> str:
    """The cached layer holding `path`, as 'vda[N]' (unambiguous even if paths repeat)."""
    disk = dom.status.definition.find_disk(target)
    for layer in chain_of(disk).layers():
        if layer.path == path:
            return "%s[%d]" % (target, layer.index)
    raise DriverError(ErrorCode.INTERNAL_ERROR, "image '%s' is not in the cached chain of '%s'" % (path, target))


def _wait_job(dom, target: str, ready: bool) -> None:
    from ..waiting import wait_for

    def settled() -> str | None:
        info = dom.get_block_job_info(target)
        if info is None:
            return dom.block_job_outcome(target)
        return "ready" if ready and info.ready else None

    outcome = wait_for(settled, JOB_WAIT)
    if outcome is None:
        raise DriverError(ErrorCode.OPERATION_TIMEOUT, "block job on '%s' did not finish in time" % target)
    if outcome not in ("completed", "ready"):
        raise DriverError(ErrorCode.OPERATION_FAILED, "block job merging snapshot images of '%s' %s"
                          % (target, outcome))


def _open_in_qemu(dom, path: str) -> bool:
    """Never remove a file QEMU still has open (its data would live on only in QEMU)."""
    if dom.status is None:
        return False
    from .process import open_files
    return os.path.realpath(path) in open_files(dom.status.pid)


def collect_garbage(dom, meta, target: str) -> None:
    """Remove images pyvirsh made that nothing needs: not active, not pinned, no children."""
    while True:
        tree, active = build_tree(dom, meta, target)
        if not tree.complete:
            return          # an image it could not read may build on one that looks unused
        pins = _pins(meta, target)
        doomed = [p for p in tree.parent if p in meta.owned and p != active and p not in pins
                  and not tree.children(p) and not _open_in_qemu(dom, p)]
        if not doomed:
            return
        for path in doomed:
            remove(path)
            meta.owned.discard(path)
            _forget_overlay(meta, target, path)
        meta.save()


def _forget_overlay(meta, target: str, path: str) -> None:
    """A snapshot whose overlay (the image made to take the writes after it) was removed
    names its own pinned image there instead: every file a snapshot names exists."""
    for snap in meta.tree.snaps.values():
        pinned = pinned_images(snap).get(target)
        for entry in snapshot_disks(snap):
            if entry.name == target and entry.source_file == path and pinned:
                entry.source_file = pinned[0]


def _delete_internal(dom, snap) -> None:
    for disk, image in _internal_images(dom, snap):
        if dom.status is not None:
            top = chain_of(dom.status.definition.find_disk(disk)).top
            if top.path != image:
                raise DriverError(ErrorCode.OPERATION_UNSUPPORTED,
                                  "internal snapshot '%s' lives in '%s', which now backs later external "
                                  "snapshots; delete it with the domain shut off" % (snap.name, image))
            dom._run_job("snapshot-delete", {"tag": snap.name, "devices": [top.node_name]})
        else:
            qemu_img("snapshot", "-d", snap.name, image)


def _internal_images(dom, snap) -> list[tuple[str, str]]:
    internal = {d.name for d in snapshot_disks(snap) if d.internal}
    out: list[tuple[str, str]] = []
    if snap.domain is None:
        return out
    for disk in snap.domain.disks():
        if disk.target in internal and disk.source:
            out.append((disk.target, disk.source))
    return out


# ---------------------------------------------------------------------------
# revert
# ---------------------------------------------------------------------------

def revert_snapshot(dom, meta, snap, flags: int) -> None:
    R = SnapshotRevertFlags
    if snap.domain is None:
        raise DriverError(ErrorCode.SNAPSHOT_REVERT_RISKY, "snapshot '%s' lacks domain '%s' rollback info"
                          % (snap.name, dom.name))
    if dom.config is None and not flags & (R.RUNNING | R.PAUSED) and snap.state not in ("running", "paused"):
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          "transient domain needs to request run or pause to revert to inactive snapshot")
    if snap.is_external:
        _revert_external(dom, meta, snap, flags)
    else:
        _revert_internal(dom, meta, snap, flags)
    _log_revert_end(dom)


def _log_revert_end(dom) -> None:
    """The lifecycle events that close a revert, as libvirt 9.0 emits them (recorded in
    tests/data/events-libvirt.json): a domain that runs again was "Resumed Snapshot" or stays
    "Suspended Snapshot", and the definition is "Defined Snapshot" in any case. The stop and
    start before them are logged where they happen (_cleanup, _log_restart)."""
    from . import events
    from ..api import DomainState
    if dom.status is not None:
        if dom.status.state == DomainState.RUNNING:
            events.record(dom, events.RESUMED, events.RESUMED_FROM_SNAPSHOT)
        else:
            events.record(dom, events.SUSPENDED, events.SUSPENDED_FROM_SNAPSHOT)
    events.record(dom, events.DEFINED, events.DEFINED_FROM_SNAPSHOT)


def _log_started(dom) -> None:
    from . import events
    events.record(dom, events.STARTED, events.STARTED_FROM_SNAPSHOT)


def _named_anywhere(meta, dom) -> set[str]:
    """Every image path the metadata or the domain's state names: owned files, each
    snapshot's pinned images and overlays, files queued for removal."""
    names = set(meta.owned)
    for snap in meta.tree.snaps.values():
        names.update(e.source_file for e in snapshot_disks(snap) if e.source_file)
        names.update(path for path, _ in pinned_images(snap).values())
    if dom.status is not None:
        names.update(dom.status.unlink)
    return names


def _next_free(path: str, taken: set[str]) -> str:
    """`path`, or `path.N`: a name no file has and nothing names (a name reused for a
    new image would be taken for the old one by whatever still names it)."""
    candidate, n = path, 0
    while os.path.exists(candidate) or candidate in taken:
        n += 1
        candidate = "%s.%d" % (path, n)
    return candidate


def _revert_external(dom, meta, snap, flags: int) -> None:
    R = SnapshotRevertFlags
    pins = pinned_images(snap)
    incoming = None
    if snap.memory_location == "external" and snap.memory_file:
        # The guest's RAM comes back from the memory file (libvirt 9.0 refuses: "revert to
        # external snapshot not supported yet"; pyvirsh starts QEMU from it as restore does).
        from .memsnapshot import memory_image_offset
        incoming = (snap.memory_file, memory_image_offset(snap.memory_file, snap.name))
    # Everything that can fail is checked, and the new overlays made, before the domain
    # stops: a revert that fails leaves the domain as it was, never a definition that names
    # an image that is missing or whose chain is broken.
    for target, (pinned, fmt) in pins.items():
        if not os.path.exists(pinned):
            raise DriverError(ErrorCode.OPERATION_FAILED, "image '%s' of snapshot '%s' is missing"
                              % (pinned, snap.name))
        _probe(pinned, fmt, target)     # libvirt's words if a layer below it is missing
    definition = snap.domain.copy()
    taken = _named_anywhere(meta, dom)
    created = []
    try:
        for target, (pinned, fmt) in pins.items():
            from ..storage.probe import read_header
            size = read_header(pinned, fmt).virtual_size or 0
            overlay = _next_free(default_overlay_name(pinned, snap.name), taken)
            qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", pinned, "-F", fmt, overlay, str(size))
            created.append(overlay)
            set_disk_image(definition.find_disk(target), "file", overlay, "qcow2")
    except BaseException:
        for path in created:
            remove(path)
        raise
    # Owned before anything uses them: killed in between, an unused overlay pyvirsh owns is
    # collected later, never an overlay in use that nobody owns.
    meta.owned.update(created)
    meta.save()
    if dom.status is not None:
        dom._stop_qemu(dom.status)
        dom._cleanup(Reason.SHUTOFF_FROM_SNAPSHOT)
    if dom.config is not None:
        dom.config = definition
        save_config(dom.paths.config_file(dom.name), definition.to_xml())
    if incoming is not None:
        paused = bool(flags & R.PAUSED) or (snap.state == "paused" and not flags & R.RUNNING)
        dom.launch(definition, paused, incoming=incoming, log_events=False)
        _log_started(dom)
        _mark_from_snapshot(dom)
    elif flags & (R.RUNNING | R.PAUSED):
        dom.launch(definition, bool(flags & R.PAUSED), log_events=False)
        _log_started(dom)
        _mark_from_snapshot(dom)
    else:
        dom.conn.set_shutoff_reason(dom.name, Reason.SHUTOFF_FROM_SNAPSHOT)
    # Only now does the domain (a transient one included) point at the new overlays,
    # so garbage collection sees them in use.
    for target in pins:
        collect_garbage(dom, meta, target)


def _mark_from_snapshot(dom) -> None:
    from ..api import DomainState
    status = dom.status
    status.reason = Reason.RUNNING_FROM_SNAPSHOT if status.state == DomainState.RUNNING else \
        Reason.PAUSED_FROM_SNAPSHOT
    dom.save_status()


def _revert_internal(dom, meta, snap, flags: int) -> None:
    R = SnapshotRevertFlags
    images = _internal_images(dom, snap)
    for target, image in images:
        current = active_chain(dom, target)
        if not current or current[0][0] != image:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED,
                              "cannot revert to internal snapshot '%s': its image '%s' is no longer the top "
                              "of disk '%s' (later external snapshots froze it)" % (snap.name, image, target))
    with_memory = snap.state in ("running", "paused")
    want_paused = bool(flags & R.PAUSED) or (snap.state == "paused" and not flags & R.RUNNING)
    want_running = with_memory or bool(flags & (R.RUNNING | R.PAUSED))
    if dom.status is not None and not with_memory:
        dom._stop_qemu(dom.status)
        dom._cleanup(Reason.SHUTOFF_FROM_SNAPSHOT)
    elif dom.status is not None:
        # The same QEMU loads the snapshot; libvirt 9.0 starts a new one, and listeners are
        # told so: "Stopped Snapshot", "Started Snapshot".
        from . import events
        events.record(dom, events.STOPPED, events.STOPPED_FROM_SNAPSHOT)
        _log_started(dom)
    if dom.status is None:
        for _target, image in images:
            qemu_img("snapshot", "-a", snap.name, image)
        if not want_running:
            dom.conn.set_shutoff_reason(dom.name, Reason.SHUTOFF_FROM_SNAPSHOT)
            return
        dom.launch(dom.config, paused=True, log_events=False)
        _log_started(dom)
    if with_memory:
        nodes = [chain_of(dom.status.definition.find_disk(t)).top.node_name for t, _ in images]
        dom._run_job("snapshot-load", {"tag": snap.name, "vmstate": nodes[0], "devices": nodes})
    from ..api import DomainState
    if not want_paused:
        with dom.qmp() as q:
            q.execute("cont")
        dom.status.state = DomainState.RUNNING
    else:
        dom.status.state = DomainState.PAUSED
    _mark_from_snapshot(dom)
