"""Block jobs without a daemon: blockpull, blockcommit, blockcopy, blockjob.

A command that starts a job may exit long before the job ends, and QEMU drops
events nobody is connected to hear. So every job runs with auto-finalize and
auto-dismiss off and is recorded in the domain's status file; any later
pyvirsh invocation that touches the domain reconciles first (reconcile_jobs):
it asks QEMU where each job is, finalizes what is pending, applies the job's
known transformation to the cached chain, checks the result against QEMU's
block graph, releases the dropped nodes (blockdev-del) and dismisses the job.
Only then may --delete remove committed files.

On a shut-off domain blockpull and blockcommit do the same change offline with
qemu-img rebase/commit (virsh refuses both); the images are not in use, and
qemu-img's own locks guard against a domain running elsewhere.
"""

from __future__ import annotations

import os
import time

from ..api import (BlockCommitFlags, BlockCopyFlags, BlockJobAbortFlags, BlockJobInfo, BlockJobInfoFlags,
                   BlockJobSetSpeedFlags, BlockJobType, BlockPullFlags, BlockRebaseFlags, BlockResizeFlags,
                   DriverError, ErrorCode, check_flags, writes)
from ..fsutil import remove
from ..waiting import wait_for
from ..storage.imageformats import BACKING_FORMATS
from .chaincache import backing_name, chain_of, format_node, storage_node
from .chainmodel import data_node
from .chainrepair import repair_chains
from .domainbase import QemuDomainBase
from .status import Job

ABORT_WAIT = 60.0


def job_id(disk: str) -> str:
    return "pv-%s" % disk


_KINDS = {"pull": BlockJobType.PULL, "commit": BlockJobType.COMMIT,
          "active-commit": BlockJobType.ACTIVE_COMMIT, "copy": BlockJobType.COPY}


# ---------------------------------------------------------------------------
# Reconciliation: bring recorded jobs and the cache in line with QEMU
# ---------------------------------------------------------------------------

def reconcile_jobs(dom, locked: bool) -> None:
    if locked:
        _reconcile(dom)
        return
    # Unlocked callers (lookups, listings) never wait: if another pyvirsh holds the
    # domain (a --wait, a long snapshot merge), it reconciles the jobs itself, and
    # the recorded state is what this reader shows meanwhile.
    lock = dom.conn.domain_lock(dom.name)
    if not lock.try_acquire():
        return
    try:
        dom.status = dom.conn.load_status(dom.name)
        if dom.status is not None and dom.status.pending():
            _reconcile(dom)
    finally:
        lock.release()


def _reconcile(dom) -> None:
    status = dom.status
    changed = False
    if status.fs_frozen:
        dom.thaw_recorded_freeze(quiet=True)    # a quiesced snapshot was killed with the guest frozen
    with dom.qmp() as q:
        if status.intent is not None:
            dom.settle_intent(q)
            if dom.status is None:
                return          # a killed save was completed: QEMU is gone
        if status.detaching:
            dom.settle_detaches(q)
        jobs = {j["id"]: j for j in q.execute("query-jobs")}
        recorded = {job.id for job in status.jobs}
        for job in list(status.jobs):
            info = jobs.get(job.id)
            if info is None:
                # pyvirsh dismisses a job only after saving its outcome, so a job QEMU does
                # not know never started (pyvirsh was killed between recording and starting it).
                _forget(status, job, "failed")
                if job.kind == "copy" and job.base:
                    status.release.append(int(job.base))    # the target node may have been added
                changed = True
                continue
            state = info["status"]
            if state == "ready" and job.pivot_on_ready and not job.pivot_requested and not job.abort_requested:
                # A snapshot delete was killed while its merge ran: finish the pivot it wanted.
                job.pivot_requested = True
                dom.save_status()
                q.execute("job-complete", {"id": job.id})
                state = _wait_past(q, job.id)
                info = {j["id"]: j for j in q.execute("query-jobs")}.get(job.id, {"status": "concluded"})
            if state == "pending":
                flush_node(q, _receiving_node(job))
                # One round trip: QEMU answers the query once the finalize has run.
                _, after = q.execute_batch([("job-finalize", {"id": job.id}), ("query-jobs", None)])
                info = {j["id"]: j for j in after}.get(job.id, {"status": "concluded"})
                state = info["status"]
            if state == "concluded":
                error = info.get("error")
                if error and not job.abort_requested:
                    outcome = "failed"
                elif job.abort_requested and not _completed_gracefully(job, error):
                    outcome = "canceled"
                else:
                    outcome = "completed"
                if outcome == "completed":
                    _apply(dom, q, job)
                elif job.kind == "copy" and job.base:
                    status.release.append(int(job.base))
                _forget(status, job, outcome)
                # Saved before the dismiss, with the nodes to release queued: killed in
                # between, QEMU still holds the concluded job (cleared when the disk's next
                # job starts) and the next command releases the nodes; never a lost change.
                dom.save_status()
                q.execute("job-dismiss", {"id": job.id})
            elif state == "ready" and job.state != "ready":
                job.state = "ready"
                changed = True
        for job_name, info in jobs.items():
            if info["status"] == "concluded" and job_name.startswith("pv-") and job_name not in recorded:
                # Its outcome was saved, the dismiss was not: the job still holds its nodes.
                q.execute("job-dismiss", {"id": job_name})
        if changed:
            dom.save_status()
        release_dropped(dom, q)
        repair_chains(dom, q)


def release_dropped(dom, q) -> None:
    """Let QEMU close the layers a finished job or snapshot change dropped, then remove the
    files queued for removal. Only after the job is dismissed: a concluded job still holds
    its nodes and QEMU refuses to delete them ("in use")."""
    status = dom.status
    if not status.release and not status.unlink:
        return
    for index in list(status.release):
        blockdev_del(q, index)
        status.release.remove(index)
    dom.save_status()
    if status.unlink:
        from .process import open_files
        still_open = open_files(status.pid)
        for path in list(status.unlink):
            if os.path.realpath(path) in still_open:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "QEMU still has '%s' open; it is not removed"
                                  % path)
            remove(path)
            status.unlink.remove(path)
        dom.save_status()


def _receiving_node(job) -> str:
    """The node a job copied data into: the top for a pull, the base for a commit, the
    destination for a copy (its index is kept in job.base)."""
    return format_node(int(job.top if job.kind == "pull" else job.base))


def flush_node(q, node: str) -> None:
    """Write a node's qcow2 metadata cache (L2 tables, refcounts) to its file and sync it.

    Finalizing a job rewrites headers (a pull drops the top's backing file, a commit points
    the layer above at the base) with a plain write, while the mappings of the clusters the
    job copied may still sit in QEMU's memory: a QEMU killed then leaves a header that no
    longer names the backing file and a top without the data that was in it (found by the
    stress program, reproduced by tests/test_job_durability.py). So the receiving node is
    flushed while the job is pending, before job-finalize. QEMU 7.2 has no QMP command for
    a flush; HMP's qemu-io on a node name does one through a BlockBackend of its own that asks
    for no permissions, so it works beside the job; it answers only when it fails."""
    reply = q.execute("human-monitor-command", {"command-line": 'qemu-io %s "flush"' % node})
    if reply:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "could not flush block node '%s' before finishing its job: %s"
                          % (node, reply.strip()))


def _wait_past(q, name: str, timeout: float = 30.0) -> str:
    """Poll a job told to complete until it waits to be finalized (a pivot takes a moment);
    its status then, or when the time is up."""
    def current() -> str:
        return {j["id"]: j["status"] for j in q.execute("query-jobs")}.get(name, "concluded")

    def moved_on() -> str | None:
        now = current()
        return now if now not in ("ready", "waiting", "running") else None

    return wait_for(moved_on, timeout, poll=0.01) or current()


def _completed_gracefully(job, error) -> bool:
    """Cancelling a synchronized active commit or copy finishes it, keeping the top."""
    return job.state == "ready" and not error and not job.pivot_requested


def _forget(status, job, outcome: str) -> None:
    status.jobs.remove(job)
    status.last_job[job.disk] = outcome


def _apply(dom, q, job) -> None:
    """The job's known change to the cached chain, checked against QEMU's graph. The dropped
    layers are queued for release (status.release) and files for removal (status.unlink);
    snapshot metadata that named a merged image names the image it went into."""
    disk = dom.status.definition.find_disk(job.disk)
    chain = chain_of(disk)
    dropped: list[int] = []
    merged: list = []           # (path, format) of the layers whose data went into `into`
    into = None                 # (path, format)
    if job.kind == "pull":
        dropped = chain.drop_between(chain.top, _layer_by_index(chain, job.base))
    elif job.kind == "commit":
        top = _layer_by_index(chain, job.top)
        base = _layer_by_index(chain, job.base)
        merged = [layer.image() for layer in chain.between(top, base)]
        into = base.image()
        dropped = chain.drop_between(chain.parent_of(top), base)
    elif job.kind == "active-commit":
        if job.pivot_requested:
            base = _layer_by_index(chain, job.base)
            merged = [layer.image() for layer in chain.between(chain.top, base)]
            into = base.image()
            base_type = base.type
            dropped = chain.pivot_to_layer(base)
            dom.point_config_disk(job.disk, base.path, base.format, base_type)
        else:
            return          # the top stays active; the chain is unchanged
    elif job.kind == "copy":
        if job.pivot_requested:
            dropped = chain.pivot_to_copy(job.dest, job.dest_format, job.dest_type, int(job.base),
                                          keep_backing=bool(int(job.flags or 0) & BlockRebaseFlags.SHALLOW))
            dom.status.capacity[int(job.base)] = dom.status.capacity.get(int(job.top), 0)
            dom.point_config_disk(job.disk, job.dest, job.dest_format, job.dest_type)
        else:
            dom.status.release.append(int(job.base))
            return
    if not _agrees_with_graph(q, disk):
        # The cache was not what QEMU had before the job (a rolled-back status file): the end
        # of the reconcile rebuilds it from the graph (chainrepair), once the job is dismissed
        # (QEMU 7.2 crashes answering query-named-block-nodes while a finished stream still
        # holds the nodes it dropped); nothing is released on the strength of a wrong cache.
        dropped = []
    doomed = []
    if job.delete and job.kind in ("commit", "active-commit"):
        doomed = job.delete.split("\n")
    if into is not None:
        doomed += dom.follow_merge(job.disk, merged, into, deleted_snapshot=job.snapshot)
    for index in dropped:
        if index not in dom.status.release:
            dom.status.release.append(index)
    for path in doomed:
        if path not in dom.status.unlink:
            dom.status.unlink.append(path)


def _layer_by_index(chain, index):
    if index is None or index == "":
        return None
    return chain.by_index(int(index))


def blockdev_del(q, index: int) -> None:
    """Release a dropped layer: QEMU keeps its files open and locked until these go.

    A node already gone is fine (a killed pyvirsh may have deleted it before saving
    that it did); any other refusal is an error, never swallowed. The three nodes go in one
    round trip, top node first: QEMU runs them in order, as separate commands would."""
    from .qmp import QMPError
    nodes = (format_node(index), storage_node(index), data_node(index))
    for result in q.execute_many([("blockdev-del", {"node-name": node}) for node in nodes]):
        if isinstance(result, QMPError) and "find node" not in result.desc.lower():
            raise result


def blockdev_del_quietly(q, index: int) -> None:
    """Undo a blockdev-add on a path that is failing anyway: the first error is the one to report."""
    try:
        blockdev_del(q, index)
    except DriverError:
        pass


def _agrees_with_graph(q, disk) -> bool:
    """Does the cache describe exactly the chain QEMU has below the disk's top?"""
    graph = q.execute("x-debug-query-block-graph")
    by_id = {n["id"]: n["name"] for n in graph["nodes"]}
    backing = {}
    for edge in graph["edges"]:
        if edge["name"] == "backing":
            backing[by_id[edge["parent"]]] = by_id[edge["child"]]
    chain = chain_of(disk).layers()
    for upper, lower in zip(chain, chain[1:] + [None]):
        if backing.get(format_node(upper.index)) != (format_node(lower.index) if lower is not None else None):
            return False
    return True


# ---------------------------------------------------------------------------
# The commands' side: start, query, abort, speed
# ---------------------------------------------------------------------------

def _speed(bandwidth: int, in_bytes: bool) -> int:
    return bandwidth if in_bytes else bandwidth << 20


class BlockJobs(QemuDomainBase):
    """Block-job methods of QemuDomain (mixed in)."""

    # While a snapshot delete starts a merge job: the snapshot's name (or "" when other
    # disks still need merging), which the job records with the pivot as its intent.
    merging_for_snapshot: str | None = None

    def _disk(self, path: str):
        definition = self.get_definition()
        disk = definition.find_disk(path)
        if disk is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid path %s not assigned to domain" % path)
        return disk

    def _job_free(self, disk, q) -> None:
        """No job on the disk, and its cached chain is QEMU's (chainrepair) before a job is
        planned from it (q: the monitor connection the job will be started on)."""
        if self.status is not None and self.status.job_for(disk.target) is not None:
            raise DriverError(ErrorCode.BLOCK_COPY_ACTIVE, "disk '%s' already in active block job" % disk.target)
        if self.status is not None:
            repair_chains(self, q)

    def _start_job(self, q, command: str, args: dict, job: Job) -> None:
        """Record the job, then start it: a kill in between leaves a record QEMU does not
        know, which the next reconcile drops; never a job running unrecorded."""
        stale = {j["id"]: j["status"] for j in q.execute("query-jobs")}.get(job.id)
        if stale == "concluded":
            q.execute("job-dismiss", {"id": job.id})     # outcome saved, dismiss interrupted
        args = dict(args, **{"job-id": job.id, "auto-finalize": False, "auto-dismiss": False})
        if self.merging_for_snapshot is not None:       # "" : a merge, but not the snapshot's last
            job.snapshot = self.merging_for_snapshot or None
            job.pivot_on_ready = job.kind == "active-commit"
        job.state = "running"
        status = self._require_active()
        status.jobs.append(job)
        status.last_job.pop(job.disk, None)
        self.save_status()
        try:
            q.execute(command, args)
        except BaseException:
            status.jobs.remove(job)
            self.save_status()
            raise

    # pull ---------------------------------------------------------------

    @writes("virDomainBlockPull")
    def block_pull(self, disk: str, bandwidth: int, flags: int = 0) -> None:
        check_flags(flags, BlockPullFlags.BANDWIDTH_BYTES, "qemuDomainBlockPull")
        self._pull(disk, None, bandwidth, bool(flags & BlockPullFlags.BANDWIDTH_BYTES), 0)

    @writes("virDomainBlockRebase")
    def block_rebase(self, disk: str, base, bandwidth: int, flags: int = 0) -> None:
        R = BlockRebaseFlags
        check_flags(flags, R.SHALLOW | R.REUSE_EXT | R.COPY_RAW | R.COPY | R.RELATIVE | R.COPY_DEV |
                    R.BANDWIDTH_BYTES, "qemuDomainBlockRebase")
        if flags & BlockRebaseFlags.COPY:
            self._copy(disk, base, None, None, _speed(bandwidth, bool(flags & BlockRebaseFlags.BANDWIDTH_BYTES)),
                       flags, "block" if flags & BlockRebaseFlags.COPY_DEV else "file",
                       "raw" if flags & BlockRebaseFlags.COPY_RAW else None)
            return
        self._pull(disk, base, bandwidth, bool(flags & R.BANDWIDTH_BYTES), flags)

    def _pull(self, path: str, base, bandwidth: int, in_bytes: bool, flags: int) -> None:
        """block-stream; flags are BlockRebaseFlags (SHALLOW, RELATIVE), none for a plain pull."""
        with self.locked():
            disk = self._disk(path)
            if self.status is None:
                from .offline import offline_pull
                offline_pull(self, disk, base, bool(flags & BlockRebaseFlags.RELATIVE))
                return
            with self.qmp() as q:
                self._job_free(disk, q)
                top = chain_of(disk).top
                base_layer = None
                if base:
                    base_layer = chain_of(disk).find(disk.target, base)
                    if base_layer.index == top.index:
                        raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' beneath '%s' in chain "
                                          "for '%s'" % (base, top.path, disk.target))
                speed = _speed(bandwidth, in_bytes)
                args: dict[str, object] = {"device": format_node(top.index), "speed": speed}
                if base_layer is not None:
                    args["base-node"] = format_node(base_layer.index)
                    args["backing-file"] = backing_name(top.path, base_layer.path,
                                                        bool(flags & BlockRebaseFlags.RELATIVE))
                job = Job(id=job_id(disk.target), disk=disk.target, kind="pull",
                          top=top.index, base=base_layer.index if base_layer else None,
                          bandwidth=speed, flags=flags)
                self._start_job(q, "block-stream", args, job)

    # commit -------------------------------------------------------------

    @writes("virDomainBlockCommit")
    def block_commit(self, path: str, base, top, bandwidth: int, flags: int = 0) -> None:
        C = BlockCommitFlags
        check_flags(flags, C.SHALLOW | C.DELETE | C.ACTIVE | C.RELATIVE | C.BANDWIDTH_BYTES, "qemuDomainBlockCommit")
        with self.locked():
            disk = self._disk(path)
            if self.status is None:
                from .offline import offline_commit
                offline_commit(self, disk, base, top, flags)
                return
            with self.qmp() as q:
                self._job_free(disk, q)
                chain = chain_of(disk)     # after _job_free: as repaired
                top_layer = chain.find(disk.target, top) if top else chain.top
                below = chain.below(top_layer)
                if not below:
                    raise DriverError(ErrorCode.INVALID_ARG, "top '%s' in chain for '%s' has no backing file"
                                      % (top_layer.path, disk.target))
                if flags & C.SHALLOW:
                    base_layer = below[0]
                    if base and chain.find(disk.target, base).index != base_layer.index:
                        raise DriverError(ErrorCode.INVALID_ARG, "base '%s' is not immediately below '%s' in chain "
                                          "for '%s'" % (base, top_layer.path, disk.target))
                elif base:
                    base_layer = chain.find(disk.target, base)
                    if base_layer.index not in [layer.index for layer in below]:
                        raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' beneath '%s' in "
                                          "chain for '%s'" % (base, top_layer.path, disk.target))
                else:
                    base_layer = below[-1]
                active = top_layer.index == chain.top.index
                if active and not flags & C.ACTIVE:
                    raise DriverError(ErrorCode.INVALID_ARG, "commit of '%s' active layer requires active flag"
                                      % disk.target)
                if not active and flags & C.ACTIVE:
                    raise DriverError(ErrorCode.INVALID_ARG, "active commit requested but '%s' is not active"
                                      % top_layer.path)
                speed = _speed(bandwidth, bool(flags & C.BANDWIDTH_BYTES))
                args = {"device": chain.top.node_name, "base-node": base_layer.node_name, "speed": speed}
                committed = chain.between(top_layer, base_layer)
                if not active:
                    args["top-node"] = top_layer.node_name
                    parent = chain.parent_of(top_layer)
                    args["backing-file"] = backing_name(parent.path, base_layer.path, bool(flags & C.RELATIVE))
                job = Job(id=job_id(disk.target), disk=disk.target, kind="active-commit" if active else "commit",
                          top=top_layer.index, base=base_layer.index, bandwidth=speed, flags=flags,
                          delete="\n".join(layer.path for layer in committed) if flags & C.DELETE else None)
                self._start_job(q, "block-commit", args, job)

    # copy ---------------------------------------------------------------

    @writes("virDomainBlockCopy")
    def block_copy(self, disk: str, dest_xml: str, params: dict, flags: int = 0) -> None:
        from ..xmlutil import parse
        K = BlockCopyFlags
        # A transient job is what every pyvirsh job is anyway: nothing outlives the QEMU.
        check_flags(flags, K.SHALLOW | K.REUSE_EXT | K.TRANSIENT_JOB | K.SYNCHRONOUS_WRITES, "qemuDomainBlockCopy")
        root = parse(dest_xml, "disk", root="disk")
        kind = root.get("type", "file")
        src = root.find("source")
        dest = src.get("dev" if kind == "block" else "file") if src is not None else None
        fmt = root.find("driver").get("type") if root.find("driver") is not None else None
        if not dest:
            raise DriverError(ErrorCode.XML_ERROR, "missing source for the block copy destination")
        self._copy(disk, dest, params.get("granularity"), params.get("buf-size"), params.get("bandwidth", 0),
                   flags, kind, fmt, synchronous=bool(flags & K.SYNCHRONOUS_WRITES))

    def _copy(self, path, dest, granularity, buf_size, speed, flags, dest_type, dest_format,
              synchronous: bool = False) -> None:
        """blockdev-mirror; flags are BlockRebaseFlags (SHALLOW, REUSE_EXT share their bits
        with BlockCopyFlags)."""
        R = BlockRebaseFlags
        if not os.path.isabs(dest):
            raise DriverError(ErrorCode.INVALID_ARG, "absolute path must be used as block copy target")
        with self.locked():
            disk = self._disk(path)
            if self.status is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
            with self.qmp() as q:
                self._job_free(disk, q)
            chain = chain_of(disk).layers()
            top = chain[0]
            shallow = bool(flags & R.SHALLOW) and len(chain) > 1
            fmt = dest_format or top.format
            if dest_type == "block" and not os.path.exists(dest):
                raise DriverError(ErrorCode.INVALID_ARG, "block device '%s' does not exist" % dest)
            if not flags & R.REUSE_EXT and dest_type == "file":
                if os.path.exists(dest):
                    raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                      "external destination file for disk %s already exists and is not a "
                                      "block device: %s" % (disk.target, dest))
                from ..storage.qemuimg import qemu_img
                size = self.status.capacity.get(top.index, 0)
                backing = ["-u", "-b", chain[1].path, "-F", chain[1].format] if shallow else []
                qemu_img("create", "-q", "-f", fmt, *backing, dest, str(size))
            index = self.status.next_index
            self.status.next_index += 1
            self.save_status()      # node names are never reused, even after a kill below
            storage = {"driver": "host_device" if dest_type == "block" else "file", "filename": dest,
                       "node-name": storage_node(index), "auto-read-only": True}
            node = {"driver": fmt, "file": storage_node(index), "node-name": format_node(index)}
            if fmt in BACKING_FORMATS:
                node["backing"] = format_node(chain[1].index) if shallow else None
            args = {"device": format_node(top.index), "target": format_node(index),
                    "sync": "top" if shallow else "full", "speed": speed or 0}
            if granularity:
                args["granularity"] = granularity
            if buf_size:
                args["buf-size"] = buf_size
            if synchronous:
                args["copy-mode"] = "write-blocking"    # guest writes reach both images before completing
            job = Job(id=job_id(disk.target), disk=disk.target, kind="copy", top=top.index, base=index,
                      bandwidth=speed or 0, flags=flags | (R.SHALLOW if shallow else 0), dest=dest,
                      dest_format=fmt, dest_type=dest_type)
            with self.qmp() as q:
                q.execute("blockdev-add", storage)
                try:
                    q.execute("blockdev-add", node)
                    self._start_job(q, "blockdev-mirror", args, job)
                except DriverError:
                    blockdev_del_quietly(q, index)
                    raise

    # query, abort, speed ------------------------------------------------

    def get_block_job_info(self, path: str, flags: int = 0):
        check_flags(flags, BlockJobInfoFlags.BANDWIDTH_BYTES, "qemuDomainGetBlockJobInfo")
        with self.locked():
            disk = self._disk(path)
            if self.status is None:
                from .offline import offline_job_info
                return offline_job_info(self, disk)
            job = self.status.job_for(disk.target)
            if job is None:
                return None
            with self.qmp() as q:
                for info in q.execute("query-block-jobs"):
                    if info["device"] == job.id:
                        break
                else:
                    return None
        kind = _KINDS[job.kind]
        speed = info.get("speed", 0)
        bandwidth = speed if flags & BlockJobInfoFlags.BANDWIDTH_BYTES else speed >> 20
        return BlockJobInfo(kind, bandwidth, info["offset"], info["len"], info.get("ready", False))

    def block_job_outcome(self, path: str) -> str:
        """How the disk's last job ended: completed, failed or canceled (for --wait)."""
        if self.status is None:
            return "completed"
        return self.status.last_job.get(self._disk(path).target, "completed")

    def wait_block_job_event(self, path: str, timeout: float) -> bool | None:
        """Sleep until the disk's job changes status or timeout passes.

        Listening for QEMU's JOB_STATUS_CHANGE instead of sleeping a whole poll
        interval lets --wait return the moment a job is done. No domain lock is
        taken: a waiter must not keep `blockjob --abort` from another process
        out. Status is read once after connecting, so a change that happened
        before we listened is not missed.
        """
        job = self.status.job_for(self._disk(path).target) if self.status is not None else None
        if job is None:
            time.sleep(timeout)      # offline jobs are qemu-img processes: plain polling
            return None
        deadline = time.monotonic() + timeout
        try:
            with self.qmp() as q:
                current = {j["id"]: j["status"] for j in q.execute("query-jobs")}.get(job.id)
                if current not in ("created", "running", "paused", "standby"):
                    return True
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return True
                    event = q.wait_event(("JOB_STATUS_CHANGE",), remaining)
                    if event is None or event.get("data", {}).get("id") == job.id:
                        return True
        except DriverError:
            # The monitor is busy or QEMU went away: the caller's next query says which.
            remaining = deadline - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
            return None

    @writes("virDomainBlockJobAbort")
    def block_job_abort(self, path: str, flags: int = 0) -> None:
        A = BlockJobAbortFlags
        check_flags(flags, A.ASYNC | A.PIVOT, "qemuDomainBlockJobAbort")
        with self.locked():
            disk = self._disk(path)
            if self.status is None:
                from .offline import offline_abort
                offline_abort(self, disk, flags)
                return
            job = self.status.job_for(disk.target)
            if job is None:
                raise DriverError(ErrorCode.INVALID_ARG, "disk %s does not have an active block job" % disk.target)
            with self.qmp() as q:
                if flags & A.PIVOT:
                    if job.kind not in ("copy", "active-commit"):
                        raise DriverError(ErrorCode.OPERATION_INVALID,
                                          "job type '%s' does not support pivot" % job.kind)
                    info = {j["id"]: j for j in q.execute("query-jobs")}.get(job.id)
                    if info is None or info["status"] != "ready":
                        raise DriverError(ErrorCode.BLOCK_COPY_ACTIVE,
                                          "block job '%s' not ready for pivot yet" % job.id)
                    job.pivot_requested = True
                    self.save_status()
                    q.execute("job-complete", {"id": job.id})
                else:
                    job.abort_requested = True
                    self.save_status()
                    q.execute("job-cancel", {"id": job.id})
        if flags & A.ASYNC:
            return

        def ended() -> bool | None:
            with self.locked():
                return True if self.status is None or self.status.job_for(disk.target) is None else None

        if not wait_for(ended, ABORT_WAIT):
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, "block job on disk '%s' did not end in time"
                              % disk.target)
        if flags & A.PIVOT and self.status is not None and \
                self.status.last_job.get(disk.target) == "failed":
            raise DriverError(ErrorCode.OPERATION_FAILED, "block job '%s' failed while pivoting" % job.id)

    @writes("virDomainBlockJobSetSpeed")
    def block_job_set_speed(self, path: str, bandwidth: int, flags: int = 0) -> None:
        check_flags(flags, BlockJobSetSpeedFlags.BANDWIDTH_BYTES, "qemuDomainBlockJobSetSpeed")
        with self.locked():
            disk = self._disk(path)
            job = self.status.job_for(disk.target) if self.status is not None else None
            if job is None:
                raise DriverError(ErrorCode.INVALID_ARG, "disk %s does not have an active block job" % disk.target)
            speed = _speed(bandwidth, bool(flags & BlockJobSetSpeedFlags.BANDWIDTH_BYTES))
            with self.qmp() as q:
                q.execute("block-job-set-speed", {"device": job.id, "speed": speed})
            job.bandwidth = speed
            self.save_status()

    @writes("virDomainBlockResize")
    def block_resize(self, path: str, size: int, flags: int = 0) -> None:
        check_flags(flags, BlockResizeFlags.BYTES, "qemuDomainBlockResize")
        size_bytes = size if flags & BlockResizeFlags.BYTES else size * 1024
        with self.locked():
            disk = self._disk(path)
            if disk.source is None:
                raise DriverError(ErrorCode.INVALID_ARG, "disk '%s' does not currently have a source assigned"
                                  % path)
            if self.status is None:
                from ..storage.qemuimg import qemu_img
                qemu_img("resize", "-q", "-f", disk.driver_type or "raw", disk.source, str(size_bytes))
                return
            top = chain_of(disk).top
            with self.qmp() as q:
                q.execute("block_resize", {"node-name": format_node(top.index), "size": size_bytes})
            self.status.capacity[top.index] = size_bytes
            self.save_status()

