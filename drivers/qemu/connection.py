"""The QEMU driver's connection: host facts, domain lookups and definitions, and (through its
mixins) pools, volumes, networks, events and save images; no daemon.

The domains themselves are driver.py's QemuDomain, imported only where a domain handle
is made: a pool, volume or network command never loads the domain code (block jobs,
hotplug, snapshots, the guest agent...), which is most of the driver's import time.
"""

from __future__ import annotations

import os

from ..api import Connection, DriverError, ErrorCode, NodeInfo, Reason, StartFlags, check_flags, writes
from ..fsutil import FileLock, atomic_write, read_text, remove_dead_writers_temps
from . import events
from .capabilities import Capabilities
from .domconfig import Autostart
from .events import QemuEvents
from .networks import QemuNetworks
from .paths import DirListing, DriverPaths
from .pools import QemuStorage
from .readview import save_config
from .savestate import SaveImages
from .statefile import read_number
from .stats import QemuConnectionStats
from .status import Status, StatusHead

# The type checker reads any name TYPE_CHECKING as true; Python skips the block: lxml (domxml,
# defaults) is imported where used, and the domain code (driver.py) where a handle is made.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domxml import DomainDef
    from .driver import QemuDomain

LOCK_TIMEOUT = 30.0
NAME_MAX = 200

def open_qemu(uri: str, mode: str, root: str | None, readonly: bool) -> QemuConnection:
    paths = DriverPaths(mode, root)
    if mode == "system" and os.geteuid() != 0:
        raise DriverError(ErrorCode.OPERATION_DENIED, "qemu:///system needs root; use qemu:///session "
                          "or qemu:///embed?root=DIR")
    paths.create()
    return QemuConnection(uri, paths, readonly)


def check_name(name: str) -> None:
    if name in (".", "..") or name.startswith(".") or len(name.encode()) > NAME_MAX or \
            any(ch in name for ch in "\0\n"):
        raise DriverError(ErrorCode.XML_ERROR, "domain name '%s' is not usable as a file name" % name)


class QemuConnection(QemuEvents, QemuConnectionStats, SaveImages, Autostart, QemuStorage, QemuNetworks,
                     Connection):
    def __init__(self, uri: str, paths: DriverPaths, readonly: bool):
        self.uri = uri
        self.paths = paths
        self.readonly = readonly
        self.caps = Capabilities(paths.capabilities_cache())
        # One lock object per domain, so nested operations (a snapshot delete running
        # block jobs) re-enter the lock this process already holds instead of waiting on it.
        self._locks: dict[str, FileLock] = {}
        # Passive connections (TAB completion) only read state files: no liveness
        # checks that could lead to cleanup, no QMP, no locks.
        self.passive = False
        self._temps_swept = False

    def sweep_dead_writers_temps(self) -> None:
        """Once per connection, before the first domain is looked at: temporary files of
        writers that were killed go, even if this command itself writes nothing."""
        if self._temps_swept or self.passive:
            return
        self._temps_swept = True
        for directory in (self.paths.run, self.paths.config, self.paths.state, self.paths.snapshot_dir):
            remove_dead_writers_temps(directory)

    def completion_view(self) -> QemuConnection:
        view = QemuConnection(self.uri, self.paths, True)
        view.passive = True
        return view

    # host -------------------------------------------------------------

    def get_hostname(self) -> str:
        import socket
        return socket.gethostname()

    def get_type(self) -> str:
        return "QEMU"

    def get_version(self) -> int:
        from .capabilities import find_emulator, host_arch
        import subprocess
        try:
            out = subprocess.run([find_emulator(host_arch()), "--version"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout     # an old or odd QEMU: version 0
            major, minor, micro = (out.split("version ", 1)[1].split()[0].split(".") + ["0", "0"])[:3]
            return int(major) * 1000000 + int(minor) * 1000 + int(micro.split("(")[0] or 0)
        except (OSError, IndexError, ValueError):
            return 0

    def get_node_info(self) -> NodeInfo:
        cpus = os.cpu_count() or 1
        model = os.uname().machine
        mhz = 0
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("cpu MHz"):
                        mhz = int(float(line.split(":")[1]))
                        break
        except OSError:
            pass
        memory = 0
        try:
            with open("/proc/meminfo") as f:
                memory = int(f.readline().split()[1])
        except (OSError, IndexError, ValueError):
            pass
        return NodeInfo(model, memory, cpus, mhz, 1, 1, cpus, 1)

    # locks and records --------------------------------------------------

    def domain_lock(self, name: str) -> FileLock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = FileLock(self.paths.lock_file(name), LOCK_TIMEOUT, "domain '%s'" % name)
        return lock

    def driver_lock(self) -> FileLock:
        return self.domain_lock(".driver")

    def _names(self) -> list[str]:
        # A transient domain whose start was killed is named by its spawn intent alone:
        # looking at it stops its QEMU (a passive connection only reads).
        return DirListing(self.paths).domain_names(spawn_intents=not self.passive)

    def load_config(self, name: str) -> DomainDef | None:
        path = self.paths.config_file(name)
        text = read_text(path)
        if text is None:
            return None
        from ..domxml import DomainDef
        return DomainDef.from_trusted_xml(text, path)

    def load_status(self, name: str) -> Status | None:
        return Status.load(self.paths.status_file(name))

    def load_status_head(self, name: str) -> StatusHead | None:
        return StatusHead.read(self.paths.status_file(name))

    def next_domain_id(self) -> int:
        # Its own lock: taken while a domain lock is held, so it must never wait on one.
        with self.domain_lock(".ids"):
            path = self.paths.id_counter()
            value = read_number(path) or 1
            atomic_write(path, str(value + 1))
            return value

    def shutoff_reason(self, name: str) -> int:
        reason = read_number(self.paths.shutoff_file(name))
        return reason if reason is not None else Reason.SHUTOFF_UNKNOWN

    def set_shutoff_reason(self, name: str, reason: int) -> None:
        atomic_write(self.paths.shutoff_file(name), str(reason))

    # domains ----------------------------------------------------------

    def domain_handle(self, name: str) -> QemuDomain:
        """A handle whose files are not read yet (for a domain about to be made)."""
        from .driver import QemuDomain
        return QemuDomain(self, name)

    def check_domain_name(self, name: str) -> None:
        check_name(name)

    def _handle(self, name: str) -> QemuDomain:
        from .driver import QemuDomain
        dom = QemuDomain(self, name)
        dom.refresh()
        return dom

    def list_all_domains(self):
        # The config and run directories are read once; each domain's refresh then opens
        # or stats only the files the listing found (see QemuDomain.refresh).
        from .driver import QemuDomain
        listing = DirListing(self.paths)
        out = []
        for name in listing.domain_names(spawn_intents=not self.passive):
            dom = QemuDomain(self, name)
            try:
                dom.refresh(seen=listing.files_of(name))
            except DriverError:
                continue
            out.append(dom)
        return out

    def list_domain_names(self):
        return self._names()

    def list_domain_names_by_state(self, active: bool):
        listing = DirListing(self.paths)
        running = listing.running_names()
        return [n for n in listing.domain_names(spawn_intents=not self.passive) if (n in running) == active]

    def lookup_domain_by_name(self, name: str):
        if "/" in name or name in (".", ".."):
            raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % name)
        if not any(os.path.exists(p) for p in (self.paths.config_file(name), self.paths.status_file(name),
                                               self.paths.spawn_intent_file(name))):
            raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % name)
        return self._handle(name)

    def lookup_domain_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        wanted = parse_uuid(uuid)
        # The files are only read to find the name: only the domain found is refreshed
        # (which may reap its dead QEMU or reconcile its jobs), never the others.
        for name in self._names() if wanted is not None else []:
            try:
                status = self.load_status(name)
                definition = status.definition if status is not None else self.load_config(name)
            except DriverError:
                continue            # an unusable domain is skipped, as a listing skips it
            if definition is not None and definition.uuid == wanted:
                return self._handle(name)
        raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching uuid '%s'" % uuid)

    def lookup_domain_by_id(self, domid: int):
        for name in self._names():
            try:
                head = self.load_status_head(name)
            except DriverError:
                continue
            if head is not None and head.id == domid:
                dom = self._handle(name)
                if dom.get_id() == domid:       # its QEMU may have died: then it has no id
                    return dom
        raise DriverError(ErrorCode.NO_DOMAIN, "no domain with matching id %d" % domid)

    def parse_definition(self, xml: str) -> DomainDef:
        from ..domxml import DomainDef
        from .defaults import QemuDefaults
        definition = DomainDef.from_xml(xml, QemuDefaults(self.caps))
        check_name(definition.name)
        return definition

    def _check_unique(self, definition: DomainDef, *, allow_running: bool):
        """libvirt's name/uuid rules; returns the existing domain of that name, if any."""
        existing = None
        for dom in self.list_all_domains():
            if dom.uuid == definition.uuid and dom.name != definition.name:
                raise DriverError(ErrorCode.OPERATION_FAILED, "domain '%s' is already defined with uuid %s"
                                  % (dom.name, dom.uuid))
            if dom.name == definition.name:
                if dom.uuid != definition.uuid:
                    raise DriverError(ErrorCode.OPERATION_FAILED, "domain '%s' already exists with uuid %s"
                                      % (dom.name, dom.uuid))
                if not allow_running and dom.is_active():
                    raise DriverError(ErrorCode.OPERATION_INVALID, "domain '%s' is already active" % dom.name)
                existing = dom
        return existing

    @writes("virDomainDefineXML", "virDomainDefineXMLFlags")
    def define_xml(self, xml: str, flags: int = 0):
        definition = self.parse_definition(xml)
        with self.driver_lock(), self.domain_lock(definition.name):
            self._check_unique(definition, allow_running=True)
            existed = os.path.exists(self.paths.config_file(definition.name))
            save_config(self.paths.config_file(definition.name), definition.to_xml())
        dom = self._handle(definition.name)
        events.record(dom, events.DEFINED, events.DEFINED_UPDATED if existed else events.DEFINED_ADDED)
        return dom

    @writes("virDomainCreateXML")
    def create_xml(self, xml: str, flags: int = 0):
        check_flags(flags, StartFlags.PAUSED | StartFlags.VALIDATE, "qemuDomainCreateXML")
        definition = self.parse_definition(xml)
        with self.driver_lock():
            self._check_unique(definition, allow_running=False)
        dom = self.domain_handle(definition.name)
        with self.domain_lock(definition.name):
            dom.refresh(locked=True, must_exist=False)
            if dom.is_active():
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain '%s' is already active" % dom.name)
            dom.launch(definition, bool(flags & StartFlags.PAUSED))
        return dom

