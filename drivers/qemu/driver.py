"""The QEMU driver: real QEMU processes, no daemon.

Each pyvirsh invocation reads the driver's state from disk (persistent
definitions, status files of running domains), acts, and writes it back
atomically under a per-domain lock; so `define` in one process, `start` in a
second, `dumpxml` in a third and `destroy` in a fourth all agree. A QEMU that
died or was killed behind pyvirsh's back is noticed at the next access: the
domain shows shut off (crashed), its cached chain is dropped and its stale
files are removed.

This module holds the domains (QemuDomain); connection.py holds the connection,
which imports this module only when it makes a domain handle, so that pool,
volume and network commands do not load the domain code.
"""

from __future__ import annotations

import os
import time

from ..api import (BlockInfo, DestroyFlags, Domain, DomainInfo, DomainState, DriverError,
                   ErrorCode, Reason, SecurityLabel, ShutdownMode, StartFlags, UndefineFlags,
                   XMLFlags, check_flags, writes)
from ..fsutil import atomic_write, ensure_dir, remove
from . import events, lifecycle, process, startplan, swtpm
from .blockjobs import BlockJobs, reconcile_jobs
from .chaincache import layers, number_live_disks, set_disk_image
from .guestagent import GuestAgent
from .hotplug import Hotplug
from .monitorcmds import MonitorCommands
from .paths import DomainFilesSeen, DriverPaths
from .domconfig import DomainConfig
from .savestate import SaveState
from .readview import config_loader, read_view, refill, save_config, view_path
from .snapshots import Snapshots
from .stats import QemuStats
from .statefile import read_state
from .status import Status, StatusHead

# The type checker reads any name TYPE_CHECKING as true; Python skips the block: lxml (domxml,
# defaults) and shlex are imported where used, so `list` and `domstate` load neither.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar

    from ..domxml import DomainDef
    from .domainbase import QemuConnectionParts
    from .readview import DefinitionView

START_TIMEOUT = 30.0


class _ReadWhenNeeded:
    """A domain's file, parsed by the connection's loader the first time it is asked for;
    assigning sets the value as read."""

    def __init__(self, loader: str):
        self.loader = loader

    slots: ClassVar[list[str]] = []      # every such attribute's slot (forget empties them all)

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_read_" + name
        _ReadWhenNeeded.slots.append(self.slot)

    def __get__(self, dom, owner=None):
        if dom is None:
            return self
        if self.slot not in dom.__dict__:
            dom.__dict__[self.slot] = getattr(dom.conn, self.loader)(dom.name)
        return dom.__dict__[self.slot]

    def __set__(self, dom, value) -> None:
        dom.__dict__[self.slot] = value

    @staticmethod
    def was_read(dom, name: str) -> bool:
        return "_read_" + name in dom.__dict__

    @staticmethod
    def forget(dom) -> None:
        values = dom.__dict__
        for slot in _ReadWhenNeeded.slots:
            values.pop(slot, None)


class QemuDomain(MonitorCommands, QemuStats, Hotplug, SaveState, DomainConfig, BlockJobs, Snapshots, GuestAgent,
                 Domain):
    conn: QemuConnectionParts      # connection.QemuConnection (it imports this module)

    def __init__(self, conn: QemuConnectionParts, name: str):
        self.conn = conn
        self.name = name
        self._head: StatusHead | None = None
        # Which files a listing's one read of the directories found (see refresh); None: ask the disk.
        self._seen: DomainFilesSeen | None = None

    # The files are parsed when first needed: `list` and `domstate` need only the status
    # file's first line (StatusHead) and which files exist.
    if TYPE_CHECKING:
        config: DomainDef | None        # the persistent definition, or None (a transient domain)
        status: Status | None           # the running domain's status, or None (shut off)
    else:
        config = _ReadWhenNeeded("load_config")
        status = _ReadWhenNeeded("load_status")

    def _forget(self) -> None:
        """Read the files again when next needed."""
        _ReadWhenNeeded.forget(self)
        self._seen = None

    def _file_exists(self, kind: str, path_of: Callable[[str], str]) -> bool:
        """Whether the domain's file of this kind (a DomainFilesSeen field) exists: as a listing
        saw it, else asked of the disk (path_of: the DriverPaths method naming it)."""
        if self._seen is not None:
            return getattr(self._seen, kind)
        return os.path.exists(path_of(self.name))

    def _light_head(self) -> StatusHead | None:
        """The status's head: from the status if it was read, else from the file's first line."""
        if _ReadWhenNeeded.was_read(self, "status"):
            return self.status.head() if self.status is not None else None
        return self._head

    @property
    def uuid(self) -> str:  # type: ignore[override]  # read-only: the definition is its one source
        return self._facts().uuid

    def connection(self):
        return self.conn

    @property
    def paths(self) -> DriverPaths:
        return self.conn.paths

    # ------------------------------------------------------------------
    # state on disk
    # ------------------------------------------------------------------

    def refresh(self, locked: bool = False, must_exist: bool = True, strict: bool | None = None,
                seen: DomainFilesSeen | None = None) -> None:
        """Load the domain's files; notice a QEMU that went away and clean up after it.

        Block jobs are reconciled with QEMU on the way. If that fails (a hung monitor,
        a graph that disagrees with the cache), a strict refresh (the default under the
        lock, before acting) raises; otherwise the domain stays usable: listing,
        inspecting and destroying must never be locked up by one bad job.

        seen: which of its files a listing found a moment ago (connection.list_all_domains
        reads the directories once for all domains). A file it did not find is not opened
        or looked for; one it found is read as always. It stands for the disk only while
        nothing here changes the files: any clean-up, or a status gone since, drops it.
        """
        self.conn.sweep_dead_writers_temps()
        self._forget()
        if seen is not None and not seen.status:
            head = None
        else:
            head = self.conn.load_status_head(self.name)
            if head is None:
                seen = None         # the status went since the listing: the rest is asked of the disk too
        self._head, self._seen = head, seen
        if self.conn.passive:
            pass
        elif head is None and self._file_exists("spawn_intent", self.paths.spawn_intent_file):
            self._with_lock(locked, self._stop_unrecorded_qemu)
            head = self._light_head()
        elif head is not None and not process.qemu_alive(head.pid, head.pidfile):
            self._seen = None
            if locked:
                self._reap()
            else:
                # Never wait on another process's lock here (see reconcile_jobs): the
                # holder notices the dead QEMU itself.
                lock = self.conn.domain_lock(self.name)
                if lock.try_acquire():
                    try:
                        self._forget()
                        if self.status is not None and \
                                not process.qemu_alive(self.status.pid, self.status.pidfile):
                            self._reap()
                    finally:
                        lock.release()
            head = self._light_head()
        if head is not None and not self.conn.passive and \
                self._file_exists("spawn_intent", self.paths.spawn_intent_file):
            self._with_lock(locked, self._finish_start)
            head = self._light_head()
        if head is not None and head.state == DomainState.RUNNING and not self.conn.passive and \
                lifecycle.stopped_at(self.paths.monitor_socket(self.name)):
            # the guest powered off or panicked since: libvirtd would have acted at once
            self._with_lock(locked, self._apply_lifecycle)
            head = self._light_head()
        if head is not None and head.pending and not self.conn.passive:
            self._seen = None
            try:
                reconcile_jobs(self, locked)
            except DriverError:
                if locked if strict is None else strict:
                    raise
            head = self._light_head()
        if must_exist and head is None and \
                not self._file_exists("config", self.paths.config_file):
            raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % self.name)

    def _with_lock(self, locked: bool, action) -> None:
        """Run a clean-up under the domain lock, reloading the files first; an unlocked
        caller never waits (the holder of the lock cleans up itself)."""
        self._seen = None           # the files are asked of the disk from here on
        if locked:
            action()
            return
        lock = self.conn.domain_lock(self.name)
        if lock.try_acquire():
            try:
                self._forget()
                action()
            finally:
                lock.release()

    def _stop_unrecorded_qemu(self) -> None:
        """A start was killed after spawning QEMU and before recording it: find that QEMU by
        its pidfile argument and stop it. Its guest never ran (QEMU waits under -S until the
        status is recorded), so nothing is lost, and the domain is plainly shut off again."""
        intent = self.paths.spawn_intent_file(self.name)
        if self.status is not None or not os.path.exists(intent):
            return
        for pid in process.pids_naming(self.paths.pidfile(self.name)):
            process.kill_now(pid)
        swtpm.stop(self.paths, self.name)
        remove(self.paths.monitor_socket(self.name))
        self._remove_listener_sockets()
        remove(self.paths.pidfile(self.name))
        from .netifaces import unplug
        unplug(self.paths.run, self.name)
        remove(intent)

    def _finish_start(self) -> None:
        """A start was killed after recording QEMU but before letting the guest run (or
        pause, as asked): finish it. The intent file says which the user asked for."""
        intent = self.paths.spawn_intent_file(self.name)
        status = self.status
        wanted = read_state(intent)
        if status is None or wanted is None:
            return
        if status.reason != Reason.PAUSED_STARTING_UP:
            # Killed after the status was written: the start is complete once the guest was
            # let go, which a start does after writing the status (_launch).
            if status.state == DomainState.RUNNING and not wanted.startswith("restore-"):
                try:
                    with self._connect_new_monitor(status.pid, status.monitor, self.paths.log_file(self.name)) as qmp:
                        if qmp.execute("query-status").get("status") == "prelaunch":
                            qmp.execute("cont")
                except DriverError:
                    return          # QEMU went away meanwhile: the next liveness check reaps it
            remove(intent)
            return
        try:
            with self._connect_new_monitor(status.pid, status.monitor, self.paths.log_file(self.name)) as qmp:
                if wanted.startswith("restore-") and qmp.execute("query-status").get("status") == "inmigrate":
                    # A restore killed before QEMU had the guest's RAM: the image is still there
                    # (a managed save goes only after a restore completes); stop this QEMU.
                    qmp.close()
                    self._stop_qemu(status)
                    self._cleanup(Reason.SHUTOFF_SAVED)
                    return
                self._record_chardevs(qmp)
                lifecycle.setup(qmp, status.definition.root)
                if wanted.strip().endswith("running"):
                    qmp.execute("cont")
                self._set_started(not wanted.strip().endswith("running"), wanted.startswith("restore-"))
                self.save_status()
        except DriverError:
            return          # QEMU went away meanwhile: the next liveness check reaps it
        remove(intent)
        remove(self.paths.shutoff_file(self.name))

    def _apply_lifecycle(self) -> None:
        """A guest that powered off or panicked left QEMU stopped (-no-shutdown): do what its
        <on_poweroff>/<on_crash> says, as libvirtd does on QEMU's event (lifecycle.py)."""
        from .qmp import QMP
        status = self.status
        if status is None or status.state != DomainState.RUNNING or \
                not process.qemu_alive(status.pid, status.pidfile):
            return
        try:
            with QMP(status.monitor, timeout=1.0) as q:
                event = lifecycle.stopped_event(q)
                if event is None:
                    return
                if event == lifecycle.IO_ERROR:
                    # QEMU stopped the guest on a disk error: paused (I/O error) until a resume
                    status.state, status.reason = DomainState.PAUSED, Reason.PAUSED_IOERROR
                    self.save_status()
                    return
                action = lifecycle.action_for(status.definition.root, event)
                if action.startswith("coredump-"):
                    lifecycle.dump_core(q, self.paths.dump_dir, self.name)
                    action = action[len("coredump-"):]
                if action == "restart":
                    q.execute("system_reset")
                    q.execute("cont")
                    status.state, status.reason = DomainState.RUNNING, Reason.RUNNING_BOOTED
                elif action == "preserve":      # on_crash only: QEMU stays, stopped, for a look at the guest
                    status.state, status.reason = DomainState.CRASHED, Reason.CRASHED_PANICKED
        except DriverError:
            return          # a busy or vanishing monitor: the next command looks again
        if action in ("restart", "preserve"):
            self.save_status()
            return
        self._stop_qemu(status)
        self._cleanup(Reason.SHUTOFF_SHUTDOWN if event == "on_poweroff" else Reason.SHUTOFF_CRASHED)

    def _reap(self) -> None:
        """QEMU is gone without pyvirsh stopping it: record why and remove its runtime files."""
        status = self._require_active()
        reason = Reason.SHUTOFF_SHUTDOWN if status.shutdown_requested else Reason.SHUTOFF_CRASHED
        self._cleanup(reason)

    def _remove_listener_sockets(self) -> None:
        from .events import LISTENER_SLOTS
        for slot in range(LISTENER_SLOTS):
            remove(self.paths.listener_socket(self.name, slot))

    def _cleanup(self, reason: int) -> None:
        self._seen = None
        status = self.status
        if status is not None:
            remove(status.monitor)
            self._remove_listener_sockets()
            remove(status.pidfile)
            swtpm.stop(self.paths, self.name)
            tpm = swtpm.emulated_tpm(status.definition.root)
            if tpm is not None and self.config is None and not swtpm.keeps_state(tpm):
                swtpm.remove_state(self.paths, status.definition.uuid)     # a transient domain's, as libvirt
            _remove_run_dir(self.paths.run_dir(self.name))
            _remove_queued_files(status)
        remove(self.paths.status_file(self.name))
        remove(view_path(self.paths.status_file(self.name)))
        remove(self.paths.spawn_intent_file(self.name))
        from .netifaces import unplug
        unplug(self.paths.run, self.name)       # the taps of its network and bridge interfaces
        self.status = None
        if self.config is not None:
            self.conn.set_shutoff_reason(self.name, reason)
        else:
            remove(self.paths.shutoff_file(self.name))
        if status is not None:
            events.stopped(self, reason)

    def save_status(self) -> None:
        self._require_active().save(self.paths.status_file(self.name))

    def point_config_disk(self, target: str, path: str, fmt: str, disk_type: str = "file") -> None:
        """The persistent definition follows a disk's new image, as libvirt rewrites it."""
        config = self.config
        disk = config.find_disk(target) if config is not None else None
        if config is None or disk is None:
            return
        set_disk_image(disk, disk_type, path, fmt)
        save_config(self.paths.config_file(self.name), config.to_xml())

    def _require_active(self) -> Status:
        if self.status is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        return self.status

    def qmp(self):
        from .qmp import QMP, MonitorGone
        status = self._require_active()
        try:
            return QMP(status.monitor)
        except MonitorGone:
            # QEMU went away after this command read the status (killed, or stopped by
            # another pyvirsh): libvirt's words for a domain that is not running; the next
            # command reaps it.
            if not process.qemu_alive(status.pid, status.pidfile):
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running") from None
            raise

    # ------------------------------------------------------------------
    # information
    # ------------------------------------------------------------------

    def get_definition(self, inactive: bool = False) -> DomainDef:
        if inactive and self.config is not None:
            return self.config
        if self.status is not None:
            return self.status.definition
        if self.config is None:         # refresh(must_exist=False) found neither
            raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % self.name)
        return self.config

    def _view_source(self, inactive: bool = False) -> str | None:
        """The file whose definition get_definition(inactive) would parse, if neither file
        was parsed yet (then the in-memory definition is the one to read)."""
        if _ReadWhenNeeded.was_read(self, "status") or _ReadWhenNeeded.was_read(self, "config"):
            return None
        config = self.paths.config_file(self.name)
        if self._head is None or (inactive and os.path.exists(config)):
            return config
        return self.paths.status_file(self.name)

    def _view(self, inactive: bool = False) -> DefinitionView | None:
        """The definition's facts without lxml (readview.py): None when the view is missing
        or not made from the file as it is now, and the definition must be parsed."""
        source = self._view_source(inactive)
        if source is None:
            return None
        # Read once per refresh (dominfo asks for several facts): a "_read_" key, so that
        # _forget() drops it with the parsed files.
        key = "_read_view " + source
        if key not in self.__dict__:
            view = read_view(source)
            if view is None and not self.conn.passive:
                view = refill(source, config_loader(source) if source == self.paths.config_file(self.name)
                              else lambda text: Status.from_text(text, source).view())
            self.__dict__[key] = view
        return self.__dict__[key]

    def _facts(self, inactive: bool = False) -> DefinitionView | DomainDef:
        """What get_definition(inactive) has for uuid, title, os_type, memory and vcpus:
        from the view when it is current, else parsed."""
        view = self._view(inactive)
        return view if view is not None else self.get_definition(inactive)

    def get_disks(self, inactive: bool = False):
        view = self._view(inactive)
        if view is not None:
            return view.disks
        from ..diskinfo import disk_records
        return disk_records(self.get_definition(inactive))

    def get_id(self) -> int:
        head = self._light_head()
        return head.id if head is not None else -1

    def get_state(self):
        head = self._light_head()
        if head is None:
            if self._seen is not None and not self._seen.shutoff:
                return DomainState.SHUTOFF, Reason.SHUTOFF_UNKNOWN      # as shutoff_reason reads no file
            return DomainState.SHUTOFF, self.conn.shutoff_reason(self.name)
        return head.state, head.reason

    def get_info(self) -> DomainInfo:
        definition = self._facts()
        state, _ = self.get_state()
        head = self._light_head()
        cpu = process.cpu_time_ns(head.pid) if head is not None else 0
        return DomainInfo(state, definition.memory_kib, definition.current_memory_kib, definition.vcpus, cpu)

    def get_os_type(self) -> str:
        return self._facts().os_type

    def is_persistent(self) -> bool:
        if not _ReadWhenNeeded.was_read(self, "config"):
            return self._file_exists("config", self.paths.config_file)
        return self.config is not None

    def get_title(self) -> str:
        return self._facts().title

    def get_security_label(self):
        return SecurityLabel("", "", "", False)

    def get_xml_desc(self, flags: int = 0) -> str:
        inactive = bool(flags & XMLFlags.INACTIVE) or self._light_head() is None
        source = self._view_source(inactive)
        # A status view holds the live XML (with the id), not a transient domain's inactive one.
        if source is not None and not (inactive and source == self.paths.status_file(self.name)):
            view = self._view(inactive)
            # A running domain's channels show the guest's side (state='connected'), which only
            # QEMU knows now: their live XML is never answered from the view.
            if view is not None and (inactive or "<channel" not in view.xml):
                return view.xml
        if flags & XMLFlags.INACTIVE or self.status is None:
            return self.get_definition(inactive=True).to_xml()
        self.refresh_channel_states()       # no daemon follows the guest's ports: ask QEMU now
        return self.status.definition.to_xml(self.status.id)

    def get_block_info(self, disk: str) -> BlockInfo:
        definition = self.get_definition()
        found = definition.find_disk(disk)
        if found is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid path %s not assigned to domain" % disk)
        if found.source is None:
            raise DriverError(ErrorCode.INVALID_ARG, "disk '%s' does not currently have a source assigned" % disk)
        path = found.source
        capacity = None
        if self.status is not None:
            chain = layers(found.el)
            if chain:
                capacity = self.status.capacity.get(chain[0].index)
        if capacity is None:
            # A shut-off domain: its images are not in use, so reading the top header is fine.
            from ..storage.probe import read_header
            header = read_header(path, found.driver_type or "raw")
            capacity = header.virtual_size or 0
        try:
            st = os.stat(path)
        except OSError as err:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot stat file '%s': %s" % (path, err.strerror))
        physical = st.st_size
        if found.type == "block":
            with open(path, "rb") as f:
                physical = f.seek(0, os.SEEK_END)
            allocation = physical
        else:
            allocation = st.st_blocks * 512
        return BlockInfo(capacity, allocation, physical)

    # ------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------

    def _prepare_live_definition(self, definition: DomainDef, status_capacity: dict) -> tuple[DomainDef, int]:
        """Copy the definition and record each disk's probed chain in it (probe once, here)."""
        from .volumedisks import resolve_volume_disks
        live = definition.copy()
        resolve_volume_disks(self.conn, live)       # <disk type='volume'>: the volume's file
        # libvirt numbers the disks' sources from the last disk to the first, empty drives
        # included, then the probed layers (chaincache's docstring has the example)
        return live, number_live_disks(list(live.disks()), status_capacity)

    def launch(self, definition: DomainDef, paused: bool, incoming: tuple[str, int] | None = None,
               log_events: bool = True, early: startplan.EarlyQemu | None = None) -> startplan.Plan | None:
        """Probe chains, spawn QEMU, wait for its monitor, record the status. Lock held.

        incoming: (save image, offset of its QEMU stream) to restore the guest's RAM from.
        log_events=False: the caller logs the lifecycle events itself (a snapshot revert).
        early: the QEMU spawned from the start plan (create), kept only if it is the one
        this start spawns (startplan.py). Returns the plan for the next start (or None)."""
        from .portlock import claim_for
        with claim_for(definition.root) as ports:
            return self._launch(definition, paused, incoming, log_events, ports, early)

    def _clear_run_dir(self) -> None:
        """The domain's run directory, without what a QEMU before left in it."""
        ensure_dir(self.paths.run_dir(self.name))
        remove(self.paths.monitor_socket(self.name))
        remove(self.paths.pidfile(self.name))
        self._remove_listener_sockets()

    def _log_start(self, argv: list[str], planned: bool = False) -> int:
        """The command line in the domain's log, as libvirt logs it before each start;
        planned: spawned from the start plan, before the definition was read. Returns where
        QEMU's own output begins."""
        with open(self.paths.log_file(self.name), "a") as f:
            f.write("%s: starting up%s\n%s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 " (the last start's command line)" if planned else "",
                                                 process.command_line(argv)))
            return f.tell()

    def _write_spawn_intent(self, paused: bool, incoming: bool) -> None:
        """The intent first: a pyvirsh killed between the spawn and the status leaves this
        file, and the next command finds that QEMU by its pidfile and stops it; killed
        after the status, the next command finishes the start as asked (_finish_start).
        Not fsynced: it guards against a killed pyvirsh, and a crash of the host that could
        lose it takes the QEMU it speaks of along."""
        atomic_write(self.paths.spawn_intent_file(self.name),
                     ("restore-" if incoming else "") + ("paused" if paused else "running"), durable=False)

    def _spawn_planned(self, paused: bool) -> startplan.EarlyQemu | None:
        """Spawn the start plan's QEMU, before the definition is parsed (startplan.py);
        None without a plan for the present definition. Lock held, domain shut off."""
        from .sockpath import short_path
        plan = startplan.load(self.paths.start_plan_file(self.name), self.paths.config_file(self.name))
        if plan is None or os.path.exists(self.paths.offline_jobs_file(self.name)):
            return None             # an offline job refuses the start: the full path says so
        self._clear_run_dir()
        try:
            ready = startplan.make_ready(plan.argv)
        except OSError:
            ready = False           # the start without a plan meets it and says so
        if not ready:
            return None
        monitor = self.paths.monitor_socket(self.name)
        listener = process.listening_socket(short_path(monitor))
        argv = plan.with_monitor_fd(listener.fileno())
        try:
            output_from = self._log_start(argv, planned=True)
            self._write_spawn_intent(paused, False)
            pid = process.spawn(argv, self.paths.log_file(self.name), pass_fds=(listener.fileno(),))
        except BaseException:
            listener.close()
            remove(monitor)
            remove(self.paths.spawn_intent_file(self.name))
            raise
        return startplan.EarlyQemu(pid, listener, argv, output_from)

    def _abandon_early(self, early: startplan.EarlyQemu, why: str) -> None:
        """Stop the plan's QEMU, which this start does not keep (its guest never ran: -S),
        and remove what it made; its monitor socket stays for a QEMU spawned instead."""
        early.settled = True
        process.kill_now(early.pid)
        remove(self.paths.pidfile(self.name))
        self._remove_listener_sockets()
        with open(self.paths.log_file(self.name), "a") as f:
            f.write("pyvirsh: %s: that QEMU was stopped before the guest ran\n" % why)

    def _launch(self, definition: DomainDef, paused: bool, incoming: tuple[str, int] | None, log_events: bool,
                ports, early: startplan.EarlyQemu | None) -> startplan.Plan | None:
        """launch's work; returns what the next start can spawn first (startplan.py), or None
        when that start needs more made before QEMU than its monitor socket."""
        from . import cmdline
        from .offline import refuse_start_with_offline_jobs
        from .sockpath import short_path

        refuse_start_with_offline_jobs(self)
        capacity: dict[int, int] = {}
        live, next_index = self._prepare_live_definition(definition, capacity)
        monitor = self.paths.monitor_socket(self.name)
        pidfile = self.paths.pidfile(self.name)
        if early is None:
            self._clear_run_dir()
        listeners = [short_path(self.paths.listener_socket(self.name, slot)) for slot in range(events.LISTENER_SLOTS)]
        from .netifaces import TAP_TYPES, close_fds, plug, unplug
        tap_fds = plug(self.conn, live, self.paths.run, self.name)   # taps of network and bridge interfaces
        # The monitor listens from here on (QEMU gets it as fd=N): the QMP connection below is
        # made at once and waits for QEMU's greeting, with no polling for a socket file.
        try:
            listener = early.listener if early is not None else process.listening_socket(short_path(monitor))
        except BaseException:
            close_fds(tap_fds)
            unplug(self.paths.run, self.name)
            raise
        try:
            argv = cmdline.build(live, live.root.findtext("devices/emulator"), listener.fileno(), pidfile,
                                 state_dir=self.paths.state, listeners=listeners, tap_fds=tap_fds)
        except BaseException:
            listener.close()
            close_fds(tap_fds)
            remove(monitor)
            unplug(self.paths.run, self.name)
            raise
        if incoming is not None:
            argv += ["-incoming", "defer"]
        tpm = swtpm.emulated_tpm(live.root)
        # What a plan can hold: QEMU and its monitor socket, nothing made or chosen for it before
        # (taps, which plug made, with their descriptors; swtpm; a graphics port, chosen at each
        # start, under the port claim or where no claim guards the choice).
        plannable = (tpm is None and incoming is None
                     and not any(i.get("type") in TAP_TYPES for i in live.root.iterfind("devices/interface"))
                     and not any(g.get("autoport") == "yes" for g in live.root.iterfind("devices/graphics")))
        monitor_fd = listener.fileno()
        if early is not None and not (plannable and argv == early.argv):
            self._abandon_early(early, "this start's command line is another (the chains or the programs changed)")
            early = None
        if early is not None:
            pid, output_from = early.pid, early.output_from
            early.settled = True
        else:
            output_from = self._log_start(argv)
            self._write_spawn_intent(paused, incoming is not None)
            try:
                if tpm is not None:         # QEMU connects to it at once: started first
                    swtpm.start(self.paths, self.name, live.uuid, tpm)
                pid = process.spawn(argv, self.paths.log_file(self.name),
                                    pass_fds=(listener.fileno(), *tap_fds.values()))
            except BaseException:
                listener.close()
                close_fds(tap_fds)
                self._stop_unrecorded_qemu()
                unplug(self.paths.run, self.name)
                raise
        domid = self.conn.next_domain_id()      # while QEMU starts up
        listener.close()            # QEMU's copy alone keeps it open: its death resets our connection
        close_fds(tap_fds)          # likewise the bridge helper's taps: they go when QEMU ends
        intent = self.paths.spawn_intent_file(self.name)
        self.status = Status(live, DomainState.PAUSED, Reason.PAUSED_STARTING_UP, pid, domid, monitor, pidfile,
                             next_index)
        self.status.capacity = capacity
        try:
            # Recorded at once: never a stray QEMU from here on.
            self.save_status()
            with self._connect_new_monitor(pid, monitor, self.paths.log_file(self.name), output_from) as qmp:
                ports.release()         # QEMU has bound its graphics port by its greeting
                from .netifaces import set_link_states
                set_link_states(qmp, live.root)         # <link state='down'/>: a round trip only then
                if incoming is None:
                    # One round trip: the ptys to record and libvirt's settings.
                    batch = [("query-chardev", None)] + lifecycle.setup_commands(live.root)
                    self._record_chardevs(qmp, qmp.execute_batch(batch)[0])
                    # The status as the guest will be, written while QEMU still waits (-S), so
                    # that a running guest does not slow the writing down; killed before the
                    # `cont`, this start leaves its intent and the next command sends it
                    # (_finish_start).
                    self._set_started(paused, False)
                    self.save_status()
                    if not paused:
                        qmp.execute("cont")
                else:
                    from .savestate import load_incoming
                    self._record_chardevs(qmp)
                    lifecycle.setup(qmp, live.root)        # before its RAM comes in
                    load_incoming(qmp, *incoming)
                    if not paused:
                        qmp.execute("cont")
                    self._set_started(paused, True)
                    self.save_status()
            remove(intent)
        except BaseException:
            process.terminate(pid)
            swtpm.stop(self.paths, self.name)
            remove(monitor)
            self._remove_listener_sockets()
            remove(pidfile)
            remove(self.paths.status_file(self.name))
            remove(view_path(self.paths.status_file(self.name)))
            remove(intent)
            unplug(self.paths.run, self.name)
            _remove_run_dir(self.paths.run_dir(self.name))
            self.status = None
            raise
        remove(self.paths.shutoff_file(self.name))
        if log_events:
            if not paused and not incoming:
                # libvirt 9.0 reports QEMU's RESUME of the starting guest first (recorded in
                # tests/data/events-libvirt.json)
                events.record(self, events.RESUMED, events.RESUMED_UNPAUSED)
            events.record(self, events.STARTED, events.STARTED_RESTORED if incoming else events.STARTED_BOOTED)
            if paused:
                events.record(self, events.SUSPENDED, events.SUSPENDED_PAUSED)
        return startplan.Plan.of(argv, monitor_fd) if plannable else None

    def _set_started(self, paused: bool, restored: bool) -> None:
        """The status of a start done: running, or paused as asked."""
        assert self.status is not None
        if paused:
            self.status.reason = Reason.PAUSED_USER
        else:
            self.status.state = DomainState.RUNNING
            self.status.reason = Reason.RUNNING_RESTORED if restored else Reason.RUNNING_BOOTED

    def _connect_new_monitor(self, pid: int, monitor: str, log: str, output_from: int = 0):
        """QMP of a QEMU just spawned, once it listens; its log's last lines (from output_from
        on: QEMU's own) if it died first."""
        from .qmp import QMP, MonitorGone
        # The socket listens from the spawn on (launch): the connection waits in its backlog
        # until QEMU serves it, and fails at once if QEMU dies first (its copy was the last).
        try:
            return QMP(monitor, timeout=START_TIMEOUT)
        except MonitorGone:
            if not process.wait_gone(pid, 2.0):
                raise
        tail = process.log_tail(log, 3, output_from)
        raise DriverError(ErrorCode.INTERNAL_ERROR, "process exited while connecting to monitor: %s"
                          % (tail or "QEMU did not start"))

    def _record_chardevs(self, qmp, chardevs: list | None = None) -> None:
        """Show the pty QEMU gave each serial port in the live XML, as libvirt does
        (chardevs: query-chardev's answer, if the caller asked already)."""
        ptys = {}
        for chardev in qmp.execute("query-chardev") if chardevs is None else chardevs:
            filename = chardev.get("filename", "")
            if filename.startswith("pty:"):
                ptys[chardev["label"]] = filename[4:]
        devices = self._require_active().definition.devices
        for n, serial in enumerate(devices.iterfind("serial")):
            path = ptys.get("charserial%d" % n)
            if path:
                _set_source_path(serial, path)
                if n == 0:
                    for console in devices.iterfind("console"):
                        console.set("tty", path)
                        _set_source_path(console, path)

    @writes("virDomainCreate", "virDomainCreateWithFlags")
    def create(self, flags: int = 0) -> None:
        allowed = StartFlags.PAUSED | StartFlags.FORCE_BOOT | StartFlags.BYPASS_CACHE
        check_flags(flags, allowed, "qemuDomainCreateWithFlags")
        paused = bool(flags & StartFlags.PAUSED)
        with self.locked():
            if self.status is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain is already running")
            early = None
            if flags & StartFlags.FORCE_BOOT or not os.path.exists(self.paths.managed_save_file(self.name)):
                early = self._spawn_planned(paused)         # before the definition is parsed
            try:
                if self.config is None:
                    raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % self.name)
                if flags & StartFlags.FORCE_BOOT:
                    remove(self.paths.managed_save_file(self.name))
                elif self.restore_managed_save(paused, bool(flags & StartFlags.BYPASS_CACHE)):
                    return
                plan = self.launch(self.config, paused, early=early)
            except BaseException:
                if early is not None and not early.settled:
                    early.listener.close()
                    self._abandon_early(early, "the start failed")
                    remove(self.paths.monitor_socket(self.name))
                    remove(self.paths.spawn_intent_file(self.name))
                    _remove_run_dir(self.paths.run_dir(self.name))
                raise
            startplan.record(self.paths.start_plan_file(self.name), self.paths.config_file(self.name), plan)

    @writes("virDomainDestroy", "virDomainDestroyFlags")
    def destroy(self, flags: int = 0) -> None:
        check_flags(flags, DestroyFlags.GRACEFUL | DestroyFlags.REMOVE_LOGS, "qemuDomainDestroyFlags")
        with self.locked_active(strict=False) as status:     # a broken job must not keep QEMU alive
            self._stop_qemu(status, graceful=bool(flags & DestroyFlags.GRACEFUL))
            self._cleanup(Reason.SHUTOFF_DESTROYED)
            if flags & DestroyFlags.REMOVE_LOGS:
                remove(self.paths.log_file(self.name))

    def _stop_qemu(self, status: Status, graceful: bool = False) -> None:
        from .qmp import QMP

        def quit_over_qmp():
            with QMP(status.monitor, timeout=2.0) as q:
                try:
                    q.execute("quit", timeout=2.0)
                except DriverError:
                    pass
        process.terminate(status.pid, quit_over_qmp)

    @writes("virDomainShutdown", "virDomainShutdownFlags")
    def shutdown(self, flags: int = 0) -> None:
        _acpi_only(flags, "shutdown")
        with self.locked_active() as status:
            with self.qmp() as q:
                q.execute("system_powerdown")
            status.shutdown_requested = True
            self.save_status()

    @writes("virDomainReboot")
    def reboot(self, flags: int = 0) -> None:
        _acpi_only(flags, "reboot")
        with self.locked_active(), self.qmp() as q:
            q.execute("system_reset")

    @writes("virDomainSuspend")
    def suspend(self) -> None:
        with self.locked_active() as status:
            if status.state != DomainState.PAUSED:
                with self.qmp() as q:
                    q.execute("stop")
            status.state, status.reason = DomainState.PAUSED, Reason.PAUSED_USER
            self.save_status()
            events.record(self, events.SUSPENDED, events.SUSPENDED_PAUSED)

    @writes("virDomainResume")
    def resume(self) -> None:
        with self.locked_active() as status:
            if status.state != DomainState.PAUSED:
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not paused")
            with self.qmp() as q:
                q.execute("cont")
            status.state, status.reason = DomainState.RUNNING, Reason.RUNNING_UNPAUSED
            self.save_status()
            events.record(self, events.RESUMED, events.RESUMED_UNPAUSED)

    @writes("virDomainOpenConsole")
    def open_console(self, dev_name: str | None, flags: int = 0):
        """The session reads the status once and holds no domain lock: destroy, block jobs
        and the rest go on while a console is open (see console.py)."""
        from .console import open_console
        self.refresh()
        return open_console(self, dev_name, flags)

    @writes("virDomainUndefineFlags")
    def undefine(self, flags: int = 0) -> None:
        allowed = (UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.KEEP_NVRAM |
                   UndefineFlags.CHECKPOINTS_METADATA | UndefineFlags.KEEP_TPM | UndefineFlags.NVRAM |
                   UndefineFlags.TPM)
        check_flags(flags, allowed, "qemuDomainUndefineFlags")
        with self.conn.driver_lock(), self.locked():
            if self.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "cannot undefine transient domain")
            if self.has_managed_save() and not flags & UndefineFlags.MANAGED_SAVE:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  "Refusing to undefine while domain managed save image exists")
            count = self.snapshot_count()
            if count and not flags & UndefineFlags.SNAPSHOTS_METADATA:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  "cannot delete inactive domain with %d snapshots" % count)
            config = self.config
            self._undefine_nvram(config, flags)
            if count:
                self.drop_snapshot_metadata()
            tpm = swtpm.emulated_tpm(config.root)
            if tpm is not None and self.status is None:
                # a running domain's state goes when it stops (a transient domain's)
                keep = flags & UndefineFlags.KEEP_TPM or (not flags & UndefineFlags.TPM and swtpm.keeps_state(tpm))
                if not keep:
                    swtpm.remove_state(self.paths, config.uuid)
            from .offline import drop_offline_jobs
            drop_offline_jobs(self)
            remove(self.paths.config_file(self.name))
            remove(view_path(self.paths.config_file(self.name)))
            remove(self.paths.shutoff_file(self.name))
            remove(self.paths.start_plan_file(self.name))
            remove(self.paths.managed_save_file(self.name))
            remove(self.paths.autostart_file(self.name))
            self.config = None
            events.record(self, events.UNDEFINED, events.UNDEFINED_REMOVED)

    def _undefine_nvram(self, config: DomainDef, flags: int) -> None:
        """libvirt's rule: an existing NVRAM file is removed with --nvram, kept with
        --keep-nvram, and without either the domain stays defined."""
        from .firmware import nvram_path
        path = nvram_path(config.root, self.name, self.paths.state)
        if path is None or not os.path.exists(path):
            return
        if flags & UndefineFlags.NVRAM:
            try:
                os.unlink(path)
            except OSError as err:
                raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to remove nvram: %s: %s"
                                  % (path, err.strerror)) from None
        elif not flags & UndefineFlags.KEEP_NVRAM:
            raise DriverError(ErrorCode.OPERATION_INVALID, "cannot undefine domain with nvram")


def _acpi_only(flags: int, what: str) -> None:
    """Without a guest agent, shutdown and reboot have only the ACPI button."""
    if flags & ~ShutdownMode.ACPI_POWER_BTN:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "%s mode is not supported: only 'acpi' works "
                          "without a guest agent" % what)


def _set_source_path(chardev, path: str) -> None:
    from lxml import etree
    src = chardev.find("source")
    if src is None:
        src = etree.Element("source")
        chardev.insert(0, src)
    src.set("path", path)


def _remove_run_dir(run_dir: str) -> None:
    """A stopped domain's run directory goes, with the channel/ directory of its automatic
    channel sockets (devargs.channel_args): QEMU unlinks those when it exits cleanly, a
    killed QEMU leaves them. Anything else found there is not pyvirsh's and stays."""
    import stat
    channels = os.path.join(run_dir, "channel")
    try:
        names = os.listdir(channels)
    except OSError:
        names = []
    for name in names:
        path = os.path.join(channels, name)
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass
    for directory in (channels, run_dir):
        try:
            os.rmdir(directory)
        except OSError:
            pass


def _remove_queued_files(status: Status) -> None:
    """Files a finished job queued for removal (status.unlink: merged images of a
    `blockcommit --delete` or a snapshot delete) that QEMU still had open when the job was
    settled: with QEMU gone they go now. A path that is again a layer of a cached chain is
    kept, whatever the queue says."""
    in_chains = {os.path.realpath(layer.path) for disk in status.definition.devices.iterfind("disk")
                 for layer in layers(disk) if layer.path}
    for path in status.unlink:
        if os.path.realpath(path) not in in_chains:
            remove(path)
