"""The memory half of an external snapshot (snapshot-create --memspec file=PATH): the guest's
RAM in a file of libvirt's save-image format (saveimage.py), as libvirt 9.0 writes it, and
the start from that file when such a snapshot is reverted.

Create, in snapshots.py's order (the intent is in the status before any step):
    pause the guest (unless --live: QEMU pauses it when the stream is complete),
    migrate to a temporary file beside PATH, mark its header complete, rename it to PATH
    (noted in the intent), then the disks' one QMP transaction: the commit point.
    Afterwards the guest resumes (unless --halt, or it was paused before).
Undo (a failure, or the next command finding the transaction never happened): the
temporary file goes, PATH goes if this snapshot put it there, the guest resumes if it ran.
"""

from __future__ import annotations

import os

from ..api import DomainState, DriverError, ErrorCode, Reason
from ..fsutil import remove
from .saveimage import MAGIC, PARTIAL, SaveImage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .qmp import QMP
    from .snapshotmodel import SnapshotIntent

_FD_NAME = "pyvirsh-memsnap"


def temp_name(path: str) -> str:
    """Where the RAM is written before it is complete: beside PATH, hidden, one per process."""
    return os.path.join(os.path.dirname(path), ".%s.pyvirsh-mem%d" % (os.path.basename(path), os.getpid()))


def open_temp(path: str, temp: str) -> int:
    try:
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as err:
        # libvirt names the file it was asked for.
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Failed to create file '%s': %s" % (path, err.strerror)) \
            from None


def save_memory(dom, q: QMP, fd: int, intent: SnapshotIntent, xml: str, live: bool) -> None:
    """The guest's RAM into fd (the temporary file): libvirt's header, then QEMU's stream.
    The guest is paused afterwards (QEMU stops it when a migration completes)."""
    from .savestate import _wait_migration
    status = dom.status
    from . import events        # libvirt 9.0: "Suspended Paused", and "Resumed Unpaused" after
    if intent.was_running and not live:
        q.execute("stop")
        status.state, status.reason = DomainState.PAUSED, Reason.PAUSED_SNAPSHOT
        dom.save_status()
        events.record(dom, events.SUSPENDED, events.SUSPENDED_PAUSED)
    image = SaveImage(xml, intent.was_running)
    os.pwrite(fd, image.header(PARTIAL), 0)
    os.lseek(fd, image.stream_offset, os.SEEK_SET)
    q.execute("getfd", {"fdname": _FD_NAME}, fd=fd)
    q.execute("migrate", {"uri": "fd:" + _FD_NAME})
    _wait_migration(q)
    if intent.was_running:
        status.state, status.reason = DomainState.PAUSED, Reason.PAUSED_SNAPSHOT
        dom.save_status()
        if live:        # QEMU paused the guest as the migration completed
            events.record(dom, events.SUSPENDED, events.SUSPENDED_PAUSED)
    os.fsync(fd)
    os.pwrite(fd, MAGIC, 0)
    os.fsync(fd)


def put_in_place(dom, intent: SnapshotIntent) -> None:
    """The complete memory image becomes PATH; the intent says so before anything else happens."""
    os.replace(intent.memory_temp, intent.memory)
    intent.memory_renamed = True
    dom.save_status()


def renamed(intent: SnapshotIntent) -> bool:
    """Is PATH this snapshot's memory image? (Killed right after the rename, before the
    note: the temporary file is gone; a file that was there before is then left alone.)"""
    if intent.memory_renamed:
        return True
    return (not os.path.exists(intent.memory_temp) and os.path.exists(intent.memory)
            and not intent.memory_existed)


def undo_memory(dom, q: QMP, intent: SnapshotIntent) -> None:
    """The snapshot did not happen: no memory file of it, the guest as it was."""
    remove(intent.memory_temp)
    if renamed(intent):
        remove(intent.memory)
    try:
        q.execute("migrate_cancel")
    except DriverError:
        pass
    if intent.was_running and q.execute("query-status").get("status") != "running":
        resume(dom, q)          # only a guest this snapshot paused (its reason stays otherwise)


def resume(dom, q: QMP) -> None:
    from . import events
    q.execute("cont")
    status = dom.status
    status.state, status.reason = DomainState.RUNNING, Reason.RUNNING_UNPAUSED
    dom.save_status()
    events.record(dom, events.RESUMED, events.RESUMED_UNPAUSED)


def memory_image_offset(path: str, snapshot: str) -> int:
    """Where QEMU's stream starts in a snapshot's memory file (checked as restore checks it)."""
    from .saveimage import read_image
    if not os.path.exists(path):
        raise DriverError(ErrorCode.OPERATION_FAILED, "memory file '%s' of snapshot '%s' is missing"
                          % (path, snapshot))
    return read_image(path).stream_offset
