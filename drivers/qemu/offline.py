"""Block jobs on a shut-off domain, done with qemu-img (virsh refuses these).

blockpull becomes `qemu-img rebase` (safe mode copies the data the top
needs); blockcommit becomes `qemu-img commit` into the base, then a header-only
`qemu-img rebase -u` of the image above. An active commit leaves a "ready"
job behind, so that `blockjob --pivot` (or `--abort`, keeping the overlay)
finishes it exactly as on a running domain.

qemu-img runs without -U: its image locks refuse to touch a chain that some
QEMU still has open.
"""

from __future__ import annotations

# json and subprocess are imported where used, so that commands which never run
# qemu-img or touch an offline job do not pay for them at start-up.
import os

from ..api import (BlockCommitFlags, BlockJobAbortFlags, BlockJobInfo, BlockJobType, DriverError, ErrorCode)
from ..fsutil import atomic_write, remove
from ..storage.qemuimg import qemu_img
from .chaincache import backing_name, chain_of
from .statefile import corrupt_state_file, read_json


def _probed_disk(dom, disk):
    """The disk with its chain probed and numbered as a start would number it."""
    from ..storage.chain import probe_chain
    clone = dom.config.copy()
    next_index = 1
    found = None
    for candidate in clone.disks():
        if candidate.source is None:
            continue
        chain = probe_chain(candidate.source, candidate.driver_type or "raw", candidate.target)
        next_index = chain_of(candidate).record(chain, next_index)
        if candidate.target == disk.target:
            found = candidate
    if found is None:
        raise DriverError(ErrorCode.INVALID_ARG, "disk '%s' does not currently have a source assigned"
                          % disk.target)
    return found


def offline_pull(dom, disk, base, relative: bool) -> None:
    chain = chain_of(_probed_disk(dom, disk))
    top = chain.top
    if top.format == "raw":
        raise DriverError(ErrorCode.INVALID_ARG, "top '%s' in chain for '%s' has no backing file"
                          % (top.path, disk.target))
    if not base:
        qemu_img("rebase", "-q", "-f", top.format, "-b", "", top.path)
        return
    base_layer = chain.find(disk.target, base)
    if base_layer.index == top.index:
        raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' beneath '%s' in chain for '%s'"
                          % (base, top.path, disk.target))
    qemu_img("rebase", "-q", "-f", top.format, "-b", backing_name(top.path, base_layer.path, relative),
             "-F", base_layer.format, top.path)


def offline_commit(dom, disk, base, top, flags: int) -> None:
    C = BlockCommitFlags
    chain = chain_of(_probed_disk(dom, disk))
    top_layer = chain.find(disk.target, top) if top else chain.top
    below = chain.below(top_layer)
    if not below:
        raise DriverError(ErrorCode.INVALID_ARG, "could not find base image in chain for '%s'" % disk.target)
    if flags & C.SHALLOW:
        base_layer = below[0]
    elif base:
        base_layer = chain.find(disk.target, base)
        if base_layer.index not in [layer.index for layer in below]:
            raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' beneath '%s' in chain for '%s'"
                              % (base, top_layer.path, disk.target))
    else:
        base_layer = below[-1]
    active = top_layer.index == chain.top.index
    if active and not flags & C.ACTIVE:
        raise DriverError(ErrorCode.INVALID_ARG, "commit of '%s' active layer requires active flag" % disk.target)
    committed = chain.between(top_layer, base_layer)
    # -d: leave the committed images as they are; the chain above the base stays consistent.
    qemu_img("commit", "-q", "-d", "-f", top_layer.format, "-b", base_layer.path, top_layer.path)
    if not active:
        parent = chain.parent_of(top_layer)
        qemu_img("rebase", "-q", "-u", "-f", parent.format, "-b",
                 backing_name(parent.path, base_layer.path, bool(flags & C.RELATIVE)),
                 "-F", base_layer.format, parent.path)
        doomed = dom.follow_merge(disk.target, [(layer.path, layer.format) for layer in committed],
                                  (base_layer.path, base_layer.format))
        if flags & C.DELETE:
            doomed += [layer.path for layer in committed]
        for path in doomed:
            remove(path)
        return
    jobs = _load_jobs(dom)
    jobs[disk.target] = {"base": base_layer.path, "format": base_layer.format, "type": base_layer.type,
                         "delete": [layer.path for layer in committed] if flags & C.DELETE else [],
                         "merged": [[layer.path, layer.format] for layer in committed],
                         "size": os.path.getsize(top_layer.path)}
    _save_jobs(dom, jobs)


def _jobs_file(dom) -> str:
    return dom.paths.offline_jobs_file(dom.name)


def _load_jobs(dom) -> dict:
    jobs = read_json(_jobs_file(dom))
    if jobs is None:
        return {}
    if not isinstance(jobs, dict):
        raise corrupt_state_file(_jobs_file(dom), "not a JSON object")
    return jobs


def _save_jobs(dom, jobs: dict) -> None:
    if jobs:
        import json
        atomic_write(_jobs_file(dom), json.dumps(jobs))
    else:
        remove(_jobs_file(dom))


def refuse_start_with_offline_jobs(dom) -> None:
    """An offline active commit waits for its pivot; a guest started meanwhile would write
    to the top the pivot then leaves behind (and --delete removes), so it must end first."""
    targets = sorted(_load_jobs(dom))
    if targets:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          "disk %s has an offline block commit waiting: finish it with 'blockjob %s %s "
                          "--pivot' or '--abort' first" % (targets[0], dom.name, targets[0]))


def drop_offline_jobs(dom) -> None:
    """The domain goes away (undefine): its unfinished offline jobs go with it."""
    remove(_jobs_file(dom))


def offline_job_info(dom, disk):
    job = _load_jobs(dom).get(disk.target)
    if job is None:
        return None
    return BlockJobInfo(BlockJobType.ACTIVE_COMMIT, 0, job["size"], job["size"], ready=True)


def offline_abort(dom, disk, flags: int) -> None:
    jobs = _load_jobs(dom)
    job = jobs.pop(disk.target, None)
    if job is None:
        raise DriverError(ErrorCode.INVALID_ARG, "disk %s does not have an active block job" % disk.target)
    if flags & BlockJobAbortFlags.PIVOT:
        dom.point_config_disk(disk.target, job["base"], job["format"], job["type"])
        doomed = dom.follow_merge(disk.target, [tuple(m) for m in job.get("merged", [])],
                                  (job["base"], job["format"]))
        for path in job["delete"] + doomed:
            remove(path)
    _save_jobs(dom, jobs)
