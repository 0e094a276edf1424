"""Domain events without a daemon: `event` and `qemu-monitor-event`.

libvirtd hears every QEMU event on its one monitor connection and passes them to its
clients. pyvirsh has no daemon, and a command's monitor connection (qmp.sock) is held only
while the command runs. So events reach a listener by two roads:

1. QEMU's own events (RESET, SHUTDOWN, BLOCK_JOB_*, DEVICE_DELETED, ...). Every QEMU is
   started with LISTENER_SLOTS extra QMP monitors (run/NAME/eventsN.sock, cmdline.build):
   QEMU broadcasts each event to every connected monitor but serves one client per monitor,
   so a listener that sat on qmp.sock would lock every other command out. A listener claims
   a free slot by flock on its lock file (paths.listener_lock_file) and reads events only;
   the commands keep qmp.sock to themselves. A slot is freed when its listener exits (or is
   killed: the flock goes with the process).

2. pyvirsh's own state changes. define, undefine, start, destroy, suspend, resume and the
   stop of a QEMU that died happen in pyvirsh processes, sometimes with no QEMU running at
   all (define, undefine), and a listener must see them in libvirt's words ("Defined Added",
   "Stopped Destroyed"). The process that makes the change appends one JSON line to the
   connection's event log (paths.event_log); listeners follow the file (polled: a stat
   every POLL seconds costs nothing next to a TCG guest). Lifecycle events come only from
   the log, never from QEMU's STOP/RESUME, so a suspend is reported once. Lines are short
   single O_APPEND writes, so concurrent writers never interleave. Past LOG_LIMIT bytes a
   writer renames the log to events.jsonl.1 and starts a new one; a listener notices the new
   inode, reads the old file to its end and follows the new one.

The log also carries the networks' lifecycle events (define, undefine, start, destroy,
recorded by networks.py with a "network" key instead of "domain"): `net-event` follows it
through NetworkEventListener, and domain listeners skip those lines.

Events that happen while nobody listens are gone, as with libvirtd (QEMU keeps no backlog).
"""

from __future__ import annotations

import os
import time

from ..api import DriverError, ErrorCode, Reason
from ..api import EventListener as EventListenerBase

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from ..fsutil import FileLock
    from .qmp import QMP

LISTENER_SLOTS = 3
POLL = 0.05
LOG_LIMIT = 1 << 20

# libvirt's network lifecycle events (virNetworkEventLifecycleType)
NET_DEFINED, NET_UNDEFINED, NET_STARTED, NET_STOPPED = range(4)
# libvirt's lifecycle event and detail numbers (virDomainEventType and its detail enums)
DEFINED, UNDEFINED, STARTED, SUSPENDED, RESUMED, STOPPED, SHUTDOWN, PMSUSPENDED, CRASHED = range(9)
DEFINED_ADDED, DEFINED_UPDATED, DEFINED_RENAMED, DEFINED_FROM_SNAPSHOT = 0, 1, 2, 3
UNDEFINED_REMOVED, UNDEFINED_RENAMED = 0, 1
STARTED_BOOTED, STARTED_RESTORED, STARTED_FROM_SNAPSHOT = 0, 2, 3
SUSPENDED_PAUSED, SUSPENDED_IOERROR, SUSPENDED_FROM_SNAPSHOT = 0, 2, 5
RESUMED_UNPAUSED, RESUMED_FROM_SNAPSHOT = 0, 2
STOPPED_FROM_SNAPSHOT = 6
SHUTDOWN_FINISHED, SHUTDOWN_GUEST, SHUTDOWN_HOST = 0, 1, 2
CRASHED_PANICKED = 0

# the shut-off reason a domain stopped with -> the Stopped event's detail
_STOPPED_DETAIL = {Reason.SHUTOFF_SHUTDOWN: 0, Reason.SHUTOFF_DESTROYED: 1, Reason.SHUTOFF_CRASHED: 2,
                   Reason.SHUTOFF_SAVED: 4, Reason.SHUTOFF_FAILED: 5, Reason.SHUTOFF_FROM_SNAPSHOT: 6}

# QEMU's block job types -> libvirt's (virDomainBlockJobType); 'commit' of the active layer is 4
_JOB_TYPES = {"stream": 1, "mirror": 2, "commit": 3, "backup": 5}
_KIND_TYPES = {"pull": 1, "copy": 2, "commit": 3, "active-commit": 4}
# virConnectDomainEventBlockJobStatus
JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, JOB_READY = range(4)
_WATCHDOG = {"none": 0, "pause": 1, "reset": 2, "poweroff": 3, "shutdown": 4, "debug": 5, "inject-nmi": 6}
# BLOCK_IO_ERROR's action -> virDomainEventIOErrorAction (libvirt's qemuMonitorIOErrorAction)
_IO_ERROR_ACTIONS = {"ignore": 0, "stop": 1, "report": 2}


# ---------------------------------------------------------------------------
# the event log: written by the commands that change state
# ---------------------------------------------------------------------------

def record(dom, event: int, detail: int, name: str | None = None, uuid: str | None = None) -> None:
    """Log a lifecycle event of a QEMU domain (under another name: a rename's old one).
    Never fails the change it reports. A rename gives the UUID too: a listener for one
    domain follows it across the rename, as libvirt's callbacks match domains by UUID."""
    item: dict = {"t": time.time(), "domain": name or dom.name, "kind": "lifecycle", "event": event,
                  "detail": detail}
    if uuid:
        item["uuid"] = uuid
    _append(dom.paths.event_log, item)


def record_network(event_log: str, name: str, event: int) -> None:
    """Log a lifecycle event of a network (networks.py): libvirt's network driver gives
    each one the detail 0. Never fails the change it reports."""
    _append(event_log, {"t": time.time(), "network": name, "kind": "lifecycle", "event": event, "detail": 0})


def _append(log: str, item: dict) -> None:
    import json         # here: the connection imports this module, and json loads re, enum...
    line = json.dumps(item) + "\n"
    try:
        try:
            if os.stat(log).st_size > LOG_LIMIT:
                os.replace(log, log + ".1")
        except FileNotFoundError:
            pass
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def stopped(dom, reason: int) -> None:
    if reason == Reason.SHUTOFF_DESTROYED:
        # libvirt 9.0 passes on QEMU's SHUTDOWN of the killed QEMU before its own "Stopped
        # Destroyed" (recorded in tests/data/events-libvirt.json); listeners skip that QEMU event
        record(dom, SHUTDOWN, SHUTDOWN_HOST)
    record(dom, STOPPED, _STOPPED_DETAIL.get(reason, 0))


class _LogTail:
    """The lines appended to the event log since the listener began."""

    def __init__(self, path: str):
        self.path = path
        self.file: BinaryIO | None = None
        self.partial = b""
        self._open(at_end=True)

    def _open(self, at_end: bool) -> None:
        try:
            self.file = open(self.path, "rb")       # noqa: SIM115 - kept open while following
        except OSError:
            self.file = None
            return
        if at_end:
            self.file.seek(0, os.SEEK_END)

    def read(self) -> list[dict]:
        if self.file is None:
            self._open(at_end=False)            # created after the listener began: all of it is new
            if self.file is None:
                return []
        records = self._drain()
        try:
            replaced = os.stat(self.path).st_ino != os.fstat(self.file.fileno()).st_ino
        except FileNotFoundError:
            replaced = False
        if replaced:        # rotated: the old file is read to its end above, now the new one
            self.file.close()
            self.partial = b""
            self._open(at_end=False)
            if self.file is not None:
                records += self._drain()
        return records

    def _drain(self) -> list[dict]:
        if self.file is None:
            return []
        import json
        data = self.partial + self.file.read()
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out = []
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


# ---------------------------------------------------------------------------
# listening
# ---------------------------------------------------------------------------

class _Monitor:
    """One claimed listener monitor of a running domain."""

    def __init__(self, qmp: QMP, lock: FileLock):
        self.qmp = qmp
        self.lock = lock
        self.fd = qmp.sock.fileno() if qmp.sock is not None else -1

    @staticmethod
    def claim(conn, name: str) -> _Monitor | None:
        """A free listener monitor of the domain, or None when all are taken (or it has none)."""
        from ..fsutil import FileLock
        from .qmp import QMP

        paths = conn.paths
        for slot in range(LISTENER_SLOTS):
            path = paths.listener_socket(name, slot)
            if not os.path.exists(path):
                continue
            lock = FileLock(paths.listener_lock_file(name, slot), 0.0, "an event monitor of '%s'" % name)
            if not lock.try_acquire():
                continue
            try:
                return _Monitor(QMP(path, timeout=2.0), lock)
            except DriverError:
                lock.release()
        return None

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        self.qmp.close()
        self.lock.release()


class EventListener(EventListenerBase):
    """Events of one connection (or one domain of it), as the records below.

    qemu=False gives libvirt's domain events: ("lifecycle", event, detail), ("reboot",),
    ("block-job", path, type, status), ("block-job-2", target, type, status),
    ("device-removed", alias), ("rtc-change", offset), ("balloon-change", kib),
    ("watchdog", action), ("tray-change", alias, reason), ("pm-wakeup",), ("pm-suspend",),
    ("pm-suspend-disk",), ("io-error", path, alias, action), ("io-error-reason", path, alias,
    action, reason); each as (domain name, kind, *values).
    qemu=True gives QEMU's events as they are: (domain name, event, seconds, micros, details
    JSON text or None), what libvirt's qemu-monitor-event passes on.
    """

    def __init__(self, conn, domain: str | None, qemu: bool, uuid: str | None = None):
        self.conn = conn
        self.domain = domain
        self.uuid = uuid
        self.qemu = qemu
        self.log = _LogTail(conn.paths.event_log)
        self.monitors: dict[str, _Monitor] = {}
        self.kinds: dict[str, str] = {}        # job id -> kind recorded in the status, once seen
        self.pending: list[tuple] = []
        names = [domain] if domain is not None else conn.list_domain_names()
        for name in names:
            self._attach(name, required=domain is not None)

    def _attach(self, name: str, required: bool = False) -> None:
        if name in self.monitors:
            return
        head = self.conn.load_status_head(name)
        if head is None:
            return
        monitor = _Monitor.claim(self.conn, name)
        if monitor is None:
            if required and os.path.exists(self.conn.paths.listener_socket(name, 0)):
                raise DriverError(ErrorCode.OPERATION_FAILED, "all %d event monitors of domain '%s' are in use "
                                  "by other listeners" % (LISTENER_SLOTS, name))
            return
        self.monitors[name] = monitor

    def _detach(self, name: str) -> None:
        monitor = self.monitors.pop(name, None)
        if monitor is not None:
            monitor.close()

    def next(self, timeout: float | None) -> tuple | None:
        """The next event, waiting at most timeout seconds (None: for ever); None on timeout."""
        import select
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.pending:
            self._read_log()
            if self.pending:
                break
            for name, monitor in list(self.monitors.items()):
                self._read_monitor(name, monitor)
            if self.pending:
                break
            wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if wait <= 0:
                return None
            if self.monitors:       # the monitors wake us at once; the log is looked at every POLL
                select.select(list(self.monitors.values()), [], [], wait)
            else:
                time.sleep(wait)
        return self.pending.pop(0)

    def _read_log(self) -> None:
        for item in self.log.read():
            if "domain" not in item:
                continue                # a network's (NetworkEventListener)
            name = str(item.get("domain", ""))
            if self.domain is not None and name != self.domain and \
                    (self.uuid is None or item.get("uuid") != self.uuid):
                continue
            event = item.get("event")
            if event == STARTED or (event == RESUMED and name not in self.monitors):
                self._attach(name)
            if not self.qemu and item.get("kind") == "lifecycle":
                self.pending.append((name, "lifecycle", event, item.get("detail", 0)))
            if event == STOPPED:
                self._detach(name)

    def _read_monitor(self, name: str, monitor: _Monitor) -> None:
        import json
        try:
            events = monitor.qmp.poll_events()
        except DriverError:
            events = None
        if events is None or monitor.qmp.sock is None:
            # QEMU went away (its last events, if any, are taken below). Detached now: select()
            # must never be given the closed socket's number, which the next open() may reuse.
            self._detach(name)
            if events is None:
                return
        for ev in events:
            if self.qemu:
                stamp = ev.get("timestamp", {})
                data = ev.get("data")
                details = json.dumps(data, separators=(",", ":")) if data is not None else None
                self.pending.append((name, ev.get("event", ""), stamp.get("seconds", 0),
                                     stamp.get("microseconds", 0), details))
            else:
                self.pending.extend(self._translate(name, ev))

    def _translate(self, name: str, ev: dict) -> list[tuple]:
        """QEMU's event as libvirt's domain events (libvirt's qemu_process.c handlers)."""
        kind = ev.get("event")
        data = ev.get("data") or {}
        if kind == "RESET":
            return [(name, "reboot")]
        if kind == "SHUTDOWN":
            if data.get("reason") in ("host-qmp-quit", "host-signal"):
                return []       # pyvirsh stopping QEMU (destroy): the log's "Stopped" tells it
            return [(name, "lifecycle", SHUTDOWN, SHUTDOWN_GUEST if data.get("guest") else SHUTDOWN_HOST)]
        if kind == "GUEST_PANICKED":
            return [(name, "lifecycle", CRASHED, CRASHED_PANICKED)]
        if kind in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_READY"):
            return self._block_job(name, kind, data)
        if kind == "DEVICE_DELETED" and data.get("device"):
            return [(name, "device-removed", data["device"])]
        if kind == "RTC_CHANGE":
            return [(name, "rtc-change", data.get("offset", 0))]
        if kind == "BALLOON_CHANGE":
            return [(name, "balloon-change", data.get("actual", 0) // 1024)]
        if kind == "BLOCK_IO_ERROR":
            return self._io_error(name, data)
        if kind == "WATCHDOG":
            return [(name, "watchdog", _WATCHDOG.get(str(data.get("action")), 7))]
        if kind == "DEVICE_TRAY_MOVED":
            return [(name, "tray-change", data.get("id") or data.get("device", ""),
                     0 if data.get("tray-open") else 1)]
        if kind == "WAKEUP":
            return [(name, "pm-wakeup")]
        if kind == "SUSPEND":
            return [(name, "pm-suspend")]
        if kind == "SUSPEND_DISK":
            return [(name, "pm-suspend-disk")]
        return []

    def _io_error(self, name: str, data: dict) -> list[tuple]:
        """libvirt's qemuProcessHandleIOError: io-error and io-error-reason naming the disk by
        its top image and alias (found by the failing node's layer), the reason "enospc" when
        QEMU says the disk is full, else empty; a stop also suspends the domain ("Suspended
        I/O Error"), which no pyvirsh process logs, so the listener reports it."""
        action = _IO_ERROR_ACTIONS.get(str(data.get("action")), 0)
        path = alias = ""
        status = self.conn.load_status(name)
        node = str(data.get("node-name") or "")
        if status is not None:
            from .chaincache import layers
            for disk in status.definition.disks():
                alias_el = disk.el.find("alias")
                disk_alias = alias_el.get("name", "") if alias_el is not None else ""
                if any(node in (layer.node_name, layer.storage_node_name) for layer in layers(disk.el)) or \
                        (not node and disk_alias and disk_alias == data.get("device")):
                    path, alias = disk.source or "", disk_alias
                    break
        reason = "enospc" if data.get("nospace") else ""
        out = [(name, "io-error", path, alias, action),
               (name, "io-error-reason", path, alias, action, reason)]
        if action == _IO_ERROR_ACTIONS["stop"]:
            out.append((name, "lifecycle", SUSPENDED, SUSPENDED_IOERROR))
        return out

    def _block_job(self, name: str, kind: str, data: dict) -> list[tuple]:
        job_id = data.get("device", "")
        if not job_id.startswith("pv-"):
            return []           # not a disk job of pyvirsh's (blockjobs.job_id)
        target = job_id[3:]
        path = ""
        status = self.conn.load_status(name)
        if status is not None:
            job = status.job_for(target)
            if job is not None:
                self.kinds[job_id] = job.kind
            disk = status.definition.find_disk(target)
            if disk is not None and disk.source:
                path = disk.source
        recorded = self.kinds.get(job_id)
        job_type = _KIND_TYPES[recorded] if recorded in _KIND_TYPES else _JOB_TYPES.get(str(data.get("type")), 0)
        if kind == "BLOCK_JOB_READY":
            state = JOB_READY
        elif kind == "BLOCK_JOB_CANCELLED":
            state = JOB_CANCELED
        else:
            state = JOB_FAILED if data.get("error") else JOB_COMPLETED
        out = []
        if path:        # libvirt names the disk by its path only for local, non-empty disks
            out.append((name, "block-job", path, job_type, state))
        out.append((name, "block-job-2", target, job_type, state))
        return out

    def close(self) -> None:
        for name in list(self.monitors):
            self._detach(name)
        self.log.close()


class NetworkEventListener(EventListenerBase):
    """Lifecycle events of the connection's networks (or of one), from the event log only:
    every change of a network happens in a pyvirsh process (networks.py records it).
    next() gives (network name, "lifecycle", event, detail)."""

    def __init__(self, conn, network: str | None):
        self.network = network
        self.log = _LogTail(conn.paths.event_log)
        self.pending: list[tuple] = []

    def next(self, timeout: float | None) -> tuple | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.pending:
            for item in self.log.read():
                name = item.get("network")
                if name is None or (self.network is not None and name != self.network):
                    continue
                self.pending.append((str(name), "lifecycle", item.get("event", 0), item.get("detail", 0)))
            if self.pending:
                break
            wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if wait <= 0:
                return None
            time.sleep(wait)
        return self.pending.pop(0)

    def close(self) -> None:
        self.log.close()


class QemuEvents:
    """The connection's listeners (mixed into connection.QemuConnection)."""

    def network_event_listener(self, network) -> NetworkEventListener:
        return NetworkEventListener(self, network.name if network is not None else None)

    def domain_event_listener(self, domain) -> EventListener:
        return EventListener(self, domain.name if domain is not None else None, qemu=False,
                             uuid=domain.uuid if domain is not None else None)

    def qemu_monitor_event_listener(self, domain) -> EventListener:
        return EventListener(self, domain.name if domain is not None else None, qemu=True)
