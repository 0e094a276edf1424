"""Block jobs (virsh's Domain Management group): blockpull, blockcommit, blockcopy,
blockjob, blockresize.

Option checks come first and in virsh's order, so the error words match
virsh's even before a domain is looked up. With --wait the command follows
the job to its end here, in-process (see pyvirsh.jobwait).
"""

from __future__ import annotations

from ..declare import alias, command, data, flag, number, string
from ..errors import CommandError
from .. import values
from .common import domain_option, exclusive, flag_bits, lookup_domain, read_xml_file, requires, reporting


def path_option(help: str):
    return data("path", help, completer="disks")


# ---------------------------------------------------------------------------
# blockpull
# ---------------------------------------------------------------------------

@command("blockpull", "Populate a disk from its backing image.")
@domain_option()
@path_option("fully-qualified path of disk")
@number("bandwidth", "bandwidth limit in MiB/s")
@string("base", "path of backing file in chain for a partial pull", completer="chain")
@flag("wait", "wait for job to finish")
@flag("verbose", "with --wait, display the progress")
@number("timeout", "with --wait, abort if pull exceeds timeout (in seconds)")
@flag("async", "with --wait, don't wait for cancel to finish")
@flag("keep-relative", "keep the backing chain relatively referenced")
@flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s")
def blockpull(ctl, domain, path, bandwidth, base, wait, verbose, timeout, keep_relative, bytes, **kw):
    from ..drivers.api import BlockRebaseFlags as R

    is_async = kw["async"]
    requires("wait", wait, "verbose", verbose)
    requires("wait", wait, "async", is_async)
    speed = values.bandwidth(bandwidth, bytes)
    timeout_ms = values.timeout_ms(timeout)
    flags = R.RELATIVE if keep_relative else 0
    dom = lookup_domain(ctl, domain)
    if base or flags:
        dom.block_rebase(path, base, speed, flags | (R.BANDWIDTH_BYTES if bytes else 0))
    else:
        dom.block_pull(path, speed, R.BANDWIDTH_BYTES if bytes else 0)
    if not wait:
        ctl.print_extra("Block Pull started")
        return True
    return _wait_for_job(ctl, dom, path, "Block Pull", verbose, timeout_ms, is_async, "Pull", "Pull complete")


def _wait_for_job(ctl, dom, path, label, verbose, timeout_ms, is_async, noun: str,
                  done_message: str | None = None) -> bool:
    """--wait: follow the job to its end, then what virsh prints: aborted, failed, or done."""
    from ..jobwait import JobWaiter

    outcome = JobWaiter(ctl, dom, path, label, verbose, timeout_ms, is_async).wait()
    if outcome == "canceled":
        ctl.print_extra("\n%s aborted" % noun)
        raise CommandError()
    if outcome == "failed":
        raise CommandError("\n%s failed" % noun)
    if done_message is not None:
        ctl.print_extra("\n" + done_message)
    return True


# ---------------------------------------------------------------------------
# blockcommit
# ---------------------------------------------------------------------------

@command("blockcommit", "Commit changes from a snapshot down to its backing image.")
@domain_option()
@path_option("fully-qualified path of disk")
@number("bandwidth", "bandwidth limit in MiB/s")
@string("base", "path of base file to commit into (default bottom of chain)", completer="chain")
@flag("shallow", "use backing file of top as base")
@string("top", "path of top file to commit from (default top of chain)", completer="chain")
@flag("active", "trigger two-stage active commit of top file")
@flag("delete", "delete files that were successfully committed")
@flag("wait", "wait for job to complete (with --active, wait for job to sync)")
@flag("verbose", "with --wait, display the progress")
@number("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)")
@flag("pivot", "implies --active --wait, pivot when commit is synced")
@flag("keep-overlay", "implies --active --wait, quit when commit is synced")
@flag("async", "with --wait, don't wait for cancel to finish")
@flag("keep-relative", "keep the backing chain relatively referenced")
@flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s")
def blockcommit(ctl, domain, path, bandwidth, base, shallow, top, active, delete, wait, verbose, timeout,
                pivot, keep_overlay, keep_relative, bytes, **kw):
    from ..drivers.api import BlockCommitFlags as C

    is_async = kw["async"]
    exclusive("pivot", pivot, "keep-overlay", keep_overlay)
    active = active or pivot or keep_overlay
    speed = values.bandwidth(bandwidth, bytes)
    flags = flag_bits((bytes, C.BANDWIDTH_BYTES), (shallow, C.SHALLOW), (delete, C.DELETE),
                      (active, C.ACTIVE), (keep_relative, C.RELATIVE))
    timeout_ms = values.timeout_ms(timeout)
    blocking = bool(wait or pivot or keep_overlay or timeout_ms)
    _check_blocking(blocking, verbose, is_async, "keep-overlay")
    dom = lookup_domain(ctl, domain)
    dom.block_commit(path, base, top, speed, flags)
    if not blocking:
        ctl.print_extra("Active Block Commit started" if active else "Block Commit started")
        return True
    _wait_for_job(ctl, dom, path, "Block commit", verbose, timeout_ms, is_async, "Commit")
    if not active:
        ctl.print_extra("\nCommit complete")
        return True
    return _end_synchronized_job(ctl, dom, path, is_async, pivot, keep_overlay,
                                 "Commit complete, overlay image kept", "Now in synchronized phase")


def _check_blocking(blocking, verbose, is_async, last: str) -> None:
    """--verbose and --async need a command that waits (--timeout, --wait, --pivot or --LAST)."""
    if not blocking:
        for name, given in (("verbose", verbose), ("async", is_async)):
            if given:
                raise CommandError("--%s requires at least one of --timeout, --wait, --pivot, or --%s"
                                   % (name, last))


def _end_synchronized_job(ctl, dom, path, is_async, pivot, finish, finished: str, synchronized: str) -> bool:
    """A waited-for commit or copy in its synchronized phase: pivot, finish, or leave it running.

    virsh words a failed pivot or finish with a context line.
    """
    from ..drivers.api import BlockJobAbortFlags as A

    abort_flags = A.ASYNC if is_async else 0
    if pivot:
        with reporting("failed to pivot job for disk %s" % path):
            dom.block_job_abort(path, abort_flags | A.PIVOT)
        ctl.print_extra("\nSuccessfully pivoted")
    elif finish:
        with reporting("failed to finish job for disk %s" % path):
            dom.block_job_abort(path, abort_flags)
        ctl.print_extra("\n" + finished)
    else:
        ctl.print_extra("\n" + synchronized)
    return True


# ---------------------------------------------------------------------------
# blockcopy
# ---------------------------------------------------------------------------

@command("blockcopy", "Copy a disk backing image chain to dest.")
@domain_option()
@path_option("fully-qualified path of source disk")
@string("dest", "path of the copy to create")
@number("bandwidth", "bandwidth limit in MiB/s")
@flag("shallow", "make the copy share a backing chain")
@flag("reuse-external", "reuse existing destination")
@flag("blockdev", "copy destination is block device instead of regular file")
@flag("wait", "wait for job to reach mirroring phase")
@flag("verbose", "with --wait, display the progress")
@number("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)")
@flag("pivot", "implies --wait, pivot when mirroring starts")
@flag("finish", "implies --wait, quit when mirroring starts")
@flag("async", "with --wait, don't wait for cancel to finish")
@string("xml", "filename containing XML description of the copy destination", completer="files")
@string("format", "format of the destination file")
@alias("raw", "format=raw")
@number("granularity", "power-of-two granularity to use during the copy")
@number("buf-size", "maximum amount of in-flight data during the copy")
@flag("bytes", "the bandwidth limit is in bytes/s rather than MiB/s")
@flag("transient-job", "the copy job is not persisted if VM is turned off")
@flag("synchronous-writes", "the copy job forces guest writes to be synchronously written to the destination")
@flag("print-xml", "print the XML used to start the copy job instead of starting the job")
def blockcopy(ctl, domain, path, dest, bandwidth, shallow, reuse_external, blockdev, wait, verbose, timeout,
              pivot, finish, xml, format, granularity, buf_size, bytes, transient_job, synchronous_writes,
              print_xml, **kw):
    from ..drivers.api import BlockCopyFlags as K
    from ..drivers.api import BlockRebaseFlags as R
    from ..drivers.xmlescape import escape

    is_async = kw["async"]
    speed = values.bandwidth(bandwidth, bytes)
    gran = values.integer("granularity", granularity, 0, 2**32 - 1)
    bufsize = values.integer("buf-size", buf_size, 0, 2**64 - 1)
    flags = flag_bits((shallow, K.SHALLOW), (reuse_external, K.REUSE_EXT),
                      (transient_job, K.TRANSIENT_JOB), (synchronous_writes, K.SYNCHRONOUS_WRITES))
    timeout_ms = values.timeout_ms(timeout)
    blocking = bool(wait or finish or pivot or timeout_ms)
    exclusive("dest", dest is not None, "xml", xml is not None)
    exclusive("format", format is not None, "xml", xml is not None)
    exclusive("blockdev", blockdev, "xml", xml is not None)
    exclusive("pivot", pivot, "finish", finish)
    if dest is None and xml is None:
        raise CommandError("need either --dest or --xml")
    _check_blocking(blocking, verbose, is_async, "finish")
    dom = lookup_domain(ctl, domain)
    if xml is not None:
        dest_xml = read_xml_file(xml)
    else:
        kind = "block" if blockdev else "file"
        dest_xml = "<disk type='%s'>\n  <source %s='%s'/>\n" % (kind, "dev" if blockdev else "file",
                                                                 escape(dest))
        if format:
            dest_xml += "  <driver type='%s'/>\n" % escape(format)
        dest_xml += "</disk>\n"
    if print_xml:
        ctl.print(dest_xml)
        return True
    new_api = gran or bufsize or (format and format != "raw") or xml is not None or \
        transient_job or synchronous_writes
    if new_api:
        params = {"bandwidth": speed if bytes else speed << 20, "granularity": gran or 0,
                  "buf-size": bufsize or 0}
        dom.block_copy(path, dest_xml, params, flags)
    else:
        rebase = R.COPY | (flags & (R.SHALLOW | R.REUSE_EXT)) | \
            flag_bits((blockdev, R.COPY_DEV), (format == "raw", R.COPY_RAW), (bytes, R.BANDWIDTH_BYTES))
        dom.block_rebase(path, dest, speed, rebase)
    if not blocking:
        ctl.print_extra("Block Copy started")
        return True
    _wait_for_job(ctl, dom, path, "Block Copy", verbose, timeout_ms, is_async, "Copy")
    return _end_synchronized_job(ctl, dom, path, is_async, pivot, finish, "Successfully copied",
                                 "Now in mirroring phase")


# ---------------------------------------------------------------------------
# blockjob
# ---------------------------------------------------------------------------

@command("blockjob", "Query, adjust speed, or cancel active block operations.")
@domain_option()
@path_option("fully-qualified path of disk")
@flag("abort", "abort the active job on the specified disk")
@flag("async", "implies --abort; request but don't wait for job end")
@flag("pivot", "implies --abort; conclude and pivot a copy or commit job")
@flag("info", "get active job information for the specified disk")
@flag("bytes", "get/set bandwidth in bytes rather than MiB/s")
@flag("raw", "implies --info; output details rather than human summary")
@number("bandwidth", "set the bandwidth limit in MiB/s")
def blockjob(ctl, domain, path, abort, pivot, info, bytes, raw, bandwidth, **kw):
    from ..drivers.api import BlockJobAbortFlags as A
    from ..drivers.api import BlockJobInfoFlags as I

    is_async = kw["async"]
    has_bandwidth = bandwidth is not None
    for first, first_given in (("raw", raw), ("info", info), ("bytes", bytes)):
        for second, second_given in (("abort", abort), ("pivot", pivot), ("async", is_async),
                                     ("bandwidth", has_bandwidth)):
            if first == "bytes" and second == "bandwidth":
                continue
            exclusive(first, first_given, second, second_given)
    dom = lookup_domain(ctl, domain)
    if has_bandwidth:
        speed = values.bandwidth(bandwidth, bytes)
        dom.block_job_set_speed(path, speed, 1 if bytes else 0)
        return True
    if abort or pivot or is_async:
        dom.block_job_abort(path, flag_bits((is_async, A.ASYNC), (pivot, A.PIVOT)))
        return True
    from ..drivers.api import job_type_label
    from ..progress import job_percent, job_progress_line
    # virsh asks for bytes/s unless --raw alone asks for MiB/s.
    info_flags = I.BANDWIDTH_BYTES if bytes or not raw else 0
    job = dom.get_block_job_info(path, info_flags)
    if ctl.out.json:
        ctl.out.emit_json({"disk": path, "job": None if job is None else {
            "type": job_type_label(job.type),
            "bandwidth_bytes": job.bandwidth if info_flags else job.bandwidth << 20,
            "cur": job.cur, "end": job.end, "ready": job.ready,
            "progress": job_percent(job.end - job.cur, job.end)}})
        return True
    if job is None:
        if not raw:
            ctl.print_extra("No current block job for %s" % path)
        return True
    if raw:
        ctl.print(" type=%s\n bandwidth=%d\n cur=%d\n end=%d\n" % (job_type_label(job.type), job.bandwidth,
                                                                   job.cur, job.end))
        return True
    ctl.out.progress(job_progress_line(job_type_label(job.type), job.end - job.cur, job.end))
    if job.bandwidth:
        from ..output import pretty_size
        value, unit = pretty_size(job.bandwidth)
        ctl.print("    Bandwidth limit: %d bytes/s (%-.3f %s/s)" % (job.bandwidth, value, unit))
    ctl.print("\n")
    return True


# ---------------------------------------------------------------------------
# blockresize
# ---------------------------------------------------------------------------

@command("blockresize", "Resize block device of domain.")
@domain_option()
@path_option("Fully-qualified path of block device")
@number("size", "New size of the block device, as scaled integer (default KiB)", required=True)
def blockresize(ctl, domain, path, size):
    size_bytes = values.scaled("size", size, 1024)
    flags = 0
    if size_bytes % 1024 == 0:
        amount = size_bytes // 1024
    else:
        amount, flags = size_bytes, 1
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to resize block device '%s'" % path):
        dom.block_resize(path, amount, flags)
    ctl.print_extra("Block device '%s' is resized" % path)
    return True
