"""pyvirsh's twin of libvirt's test driver: an in-memory hypervisor.

test:///default starts from libvirt's built-in node (domain 'test' running as
id 1, pool 'default-pool', network 'default'); its state is fresh in every
process and shared by every connection within one process. test:///PATH.xml
loads a libvirt test-driver node file into a private state per connection.

It is a product feature (scripts and tutorials can run against it without any
hypervisor) and the reference pyvirsh is compared with: every behaviour here is
checked against virsh 9.0 on test:///default by the differential tests.
"""

from __future__ import annotations

import time

from ..api import (BlockInfo, Connection, DestroyFlags, Domain, DomainDisk, DomainInfo, DomainState, DriverError,
                   ErrorCode, NodeInfo, Reason, SecurityLabel, SecurityModel, SnapshotCreateFlags,
                   TreeSnapshot, SnapshotDeleteFlags, SnapshotRevertFlags, StartFlags, UndefineFlags,
                   XMLFlags,
                   check_snapshot_create_flags, check_snapshot_delete_flags, check_snapshot_revert_flags,
                   check_flags, writes)
from .defaults import (DEFAULT_DOMAIN_FACTS, DEFAULT_DOMAIN_XML, DEFAULT_NETWORK_NAME, DEFAULT_NETWORK_UUID,
                       DEFAULT_NETWORK_XML, DEFAULT_POOL)
from .devicecalls import TestDeviceCalls
from .guestagent import TestGuestAgent
from .network import TestNetworkObj, TestNetworks
from .state import TestDomainObj, TestHandle, TestPoolObj, TestState, test_defaults
from .statecalls import TestConnectionStateCalls, TestDomainStateCalls
from .stats import TestConnectionStats, TestDomainStats
from .storage import TestStorage

_default_state: TestState | None = None


def _build_default_state() -> TestState:
    state = TestState()
    obj = TestDomainObj(xml_text=DEFAULT_DOMAIN_XML, facts=DEFAULT_DOMAIN_FACTS)
    state.domains.append(obj)
    state.start(obj, Reason.RUNNING_UNKNOWN)
    from ..storage.pooldef import PoolDef     # os and the error types only

    definition = PoolDef(DEFAULT_POOL["type"], DEFAULT_POOL["name"], DEFAULT_POOL["uuid"])
    definition.target_path = DEFAULT_POOL["path"]
    state.pools.append(TestPoolObj(definition, DEFAULT_POOL["capacity"]))
    network = TestNetworkObj(xml_text=DEFAULT_NETWORK_XML, name=DEFAULT_NETWORK_NAME, uuid=DEFAULT_NETWORK_UUID)
    network.active = True
    state.networks.append(network)
    return state


_default_users = 0


def open_test(uri: str, path: str, readonly: bool) -> TestConnection:
    """test:///default is one state shared by the process's open connections, made
    afresh once the last of them closes (as libvirt's); a node file is read per open."""
    global _default_state, _default_users
    if path == "/default":
        if _default_state is None:
            _default_state = _build_default_state()
        _default_users += 1
        return TestConnection(uri, _default_state, readonly, shared=True)
    from .nodefile import load_node_file
    return TestConnection(uri, load_node_file(path), readonly)


def _no_domain(what: str) -> DriverError:
    return DriverError(ErrorCode.NO_DOMAIN, what)


class TestConnection(TestConnectionStats, TestConnectionStateCalls, TestStorage, TestNetworks, Connection):
    def __init__(self, uri: str, state: TestState, readonly: bool, shared: bool = False):
        self.uri = uri
        self.state = state
        self.readonly = readonly
        self._shared = shared

    def close(self) -> None:
        global _default_state, _default_users
        if self._shared:
            self._shared = False
            _default_users -= 1
            if _default_users == 0:
                _default_state = None

    # host -------------------------------------------------------------

    def get_hostname(self) -> str:
        import socket
        return socket.gethostname()

    def get_type(self) -> str:
        return "TEST"

    def get_version(self) -> int:
        return 2

    def get_node_info(self) -> NodeInfo:
        return self.state.node

    def get_security_model(self) -> SecurityModel:
        return SecurityModel("testSecurity", "")

    # domains ----------------------------------------------------------

    def _handle(self, obj: TestDomainObj) -> TestDomain:
        return TestDomain(self, obj)

    def domain_event_listener(self, domain):
        """Events of this process's connections: a command of a command string or the shell
        runs to its end before the next, so none arrives while `event` waits."""
        from ..api import EventListener
        return EventListener()

    def network_event_listener(self, network):
        """As domain_event_listener: nothing changes a network while `net-event` waits."""
        from ..api import EventListener
        return EventListener()

    def list_all_domains(self):
        return [self._handle(o) for o in self.state.domains]

    def list_domain_names(self):
        return [o.name for o in self.state.domains]

    def lookup_domain_by_id(self, domid: int):
        for obj in self.state.domains:
            if obj.id == domid and obj.active:
                return self._handle(obj)
        raise _no_domain("no domain with matching id %d" % domid)

    def lookup_domain_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        canonical = parse_uuid(uuid)
        for obj in self.state.domains:
            if canonical is not None and obj.uuid == canonical:
                return self._handle(obj)
        raise _no_domain("no domain with matching uuid '%s'" % uuid)

    def lookup_domain_by_name(self, name: str):
        for obj in self.state.domains:
            if obj.name == name:
                return self._handle(obj)
        raise _no_domain("no domain with matching name '%s'" % name)

    def _parse_definition(self, xml: str):
        from ..domxml import DomainDef
        return DomainDef.from_xml(xml, test_defaults())

    def _find_conflict(self, definition, allow_same: bool):
        """libvirt's virDomainObjListAddLocked name/uuid checks."""
        for obj in self.state.domains:
            if obj.uuid == definition.uuid:
                if obj.name != definition.name:
                    raise DriverError(ErrorCode.OPERATION_FAILED, "domain '%s' is already defined with uuid %s"
                                      % (obj.name, obj.uuid))
                if not allow_same and obj.active:
                    raise DriverError(ErrorCode.OPERATION_INVALID, "domain '%s' is already active" % obj.name)
                return obj
            if obj.name == definition.name:
                raise DriverError(ErrorCode.OPERATION_FAILED, "domain '%s' already exists with uuid %s"
                                  % (obj.name, obj.uuid))
        return None

    @writes("virDomainDefineXML", "virDomainDefineXMLFlags")
    def define_xml(self, xml: str, flags: int = 0):
        definition = self._parse_definition(xml)
        obj = self._find_conflict(definition, allow_same=True)
        if obj is None:
            obj = TestDomainObj(definition)
            self.state.domains.append(obj)
        elif obj.active:
            obj.new_def = definition
        else:
            obj.definition = definition
        obj.persistent = True
        return self._handle(obj)

    @writes("virDomainCreateXML")
    def create_xml(self, xml: str, flags: int = 0):
        check_flags(flags, StartFlags.VALIDATE, "testDomainCreateXML")
        definition = self._parse_definition(xml)
        obj = self._find_conflict(definition, allow_same=False)
        if obj is None:
            obj = TestDomainObj(definition)
            obj.persistent = False
            self.state.domains.append(obj)
        else:
            obj.definition = definition
        self.state.start(obj, Reason.RUNNING_BOOTED)
        return self._handle(obj)


class TestDomain(TestDeviceCalls, TestDomainStats, TestDomainStateCalls, TestHandle, TestGuestAgent, Domain):
    def __init__(self, conn: TestConnection, obj: TestDomainObj):
        super().__init__(conn, obj)
        self.uuid = obj.uuid

    def _present(self) -> bool:
        return self.obj in self.conn.state.domains

    def _gone(self) -> DriverError:
        return _no_domain("no domain with matching uuid '%s' (%s)" % (self.uuid, self.name))

    # information ------------------------------------------------------

    def get_id(self) -> int:
        return self._live().id

    def get_info(self) -> DomainInfo:
        obj = self._live()
        facts = obj.facts()
        now_ns = time.time_ns() // 1000 * 1000
        return DomainInfo(obj.state, facts["memory_kib"], facts["current_memory_kib"], facts["vcpus"],
                          now_ns)

    def get_state(self):
        obj = self._live()
        return obj.state, obj.reason

    def get_os_type(self) -> str:
        self._live()
        return "linux"

    def is_persistent(self) -> bool:
        return self._live().persistent

    def get_autostart(self) -> bool:
        return self._live().autostart

    def has_managed_save(self) -> bool:
        return self._live().managed_save

    def get_title(self) -> str:
        return self._live().facts().get("title") or ""

    def get_security_label(self):
        obj = self._live()
        if not obj.active:
            return SecurityLabel("", "", "", False)
        return SecurityLabel("testSecurity", "", "libvirt-test", True)

    def get_messages(self) -> list[str]:
        obj = self._live()
        return list(obj.messages) if obj.active else []

    def get_xml_desc(self, flags: int = 0) -> str:
        obj = self._live()
        if flags & XMLFlags.INACTIVE:
            definition = obj.new_def or obj.definition
            return definition.to_xml()
        if obj._def is None and obj._facts is not None and obj.active and obj.id == 1:
            # The untouched default domain: no need to parse it to print it.
            return DEFAULT_DOMAIN_XML.replace("<domain type='test'>", "<domain type='test' id='1'>", 1)
        return obj.definition.to_xml(obj.id if obj.active else None)

    def get_definition(self, inactive: bool = False):
        obj = self._live()
        return (obj.new_def or obj.definition) if inactive else obj.definition

    def get_disks(self, inactive: bool = False):
        obj = self._live()
        if obj._def is None and obj.new_def is None and obj._facts is not None:
            # The untouched default domain: its disks are known without parsing it.
            return [DomainDisk.from_dict(disk) for disk in obj._facts["disks"]]
        from ..diskinfo import disk_records
        return disk_records(self.get_definition(inactive))

    def get_block_info(self, disk: str) -> BlockInfo:
        obj = self._live()
        found = obj.definition.find_disk(disk)
        if found is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid path %s not assigned to domain" % disk)
        if found.source is None:
            raise DriverError(ErrorCode.INVALID_ARG,
                              "disk '%s' does not currently have a source assigned" % disk)
        return BlockInfo(1099506450432, 1099511627776, 1099511627776)

    # lifecycle --------------------------------------------------------

    @writes("virDomainCreate", "virDomainCreateWithFlags")
    def create(self, flags: int = 0) -> None:
        obj = self._live()
        allowed = StartFlags.FORCE_BOOT | StartFlags.VALIDATE
        check_flags(flags, allowed, "testDomainCreateWithFlags")
        if obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "Domain '%s' is already running" % obj.name)
        obj.managed_save = False        # libvirt's test driver boots afresh (reason 'booted') either way
        self.conn.state.start(obj, Reason.RUNNING_BOOTED)

    @writes("virDomainDestroy", "virDomainDestroyFlags")
    def destroy(self, flags: int = 0) -> None:
        obj = self._live()
        check_flags(flags, DestroyFlags.GRACEFUL, "testDomainDestroyFlags")
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        self.conn.state.stop(obj, Reason.SHUTOFF_DESTROYED)

    @writes("virDomainShutdown", "virDomainShutdownFlags")
    def shutdown(self, flags: int = 0) -> None:
        obj = self._live()
        check_flags(flags, 0, "testDomainShutdownFlags")
        if not obj.active:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "domain '%s' not running" % obj.name)
        self.conn.state.stop(obj, Reason.SHUTOFF_SHUTDOWN)

    @writes("virDomainReboot")
    def reboot(self, flags: int = 0) -> None:
        obj = self._live()
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        obj.state = DomainState.RUNNING
        obj.reason = Reason.RUNNING_BOOTED

    @writes("virDomainSuspend")
    def suspend(self) -> None:
        obj = self._live()
        if obj.state != DomainState.RUNNING:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "domain '%s' not running" % obj.name)
        obj.state = DomainState.PAUSED
        obj.reason = Reason.PAUSED_USER

    @writes("virDomainResume")
    def resume(self) -> None:
        obj = self._live()
        if obj.state != DomainState.PAUSED:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "domain '%s' not paused" % obj.name)
        obj.state = DomainState.RUNNING
        obj.reason = Reason.RUNNING_UNPAUSED

    @writes("virDomainUndefineFlags")
    def undefine(self, flags: int = 0) -> None:
        obj = self._live()
        allowed = (UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA |
                   UndefineFlags.CHECKPOINTS_METADATA | UndefineFlags.KEEP_NVRAM |
                   UndefineFlags.TPM | UndefineFlags.KEEP_TPM)
        check_flags(flags, allowed, "testDomainUndefineFlags")
        if not obj.persistent:
            raise DriverError(ErrorCode.OPERATION_INVALID, "cannot undefine transient domain")
        if obj.managed_save and not flags & UndefineFlags.MANAGED_SAVE:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              "Refusing to undefine while domain managed save image exists")
        count = obj.snapshot_count()
        if count and not obj.active and not flags & UndefineFlags.SNAPSHOTS_METADATA:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              "cannot delete inactive domain with %d snapshots" % count)
        obj.managed_save = False
        if obj.active:
            obj.persistent = False
            obj.new_def = None
        else:
            self.conn.state.domains.remove(obj)

    # snapshots --------------------------------------------------------

    @writes("virDomainSnapshotCreateXML")
    def snapshot_create_xml(self, xml: str, flags: int = 0):
        from ..snapshots import SnapshotDef
        F = SnapshotCreateFlags
        check_snapshot_create_flags(flags)
        allowed = F.REDEFINE | F.CURRENT | F.HALT | F.QUIESCE | F.ATOMIC | F.LIVE | F.VALIDATE
        check_flags(flags, allowed, "testDomainSnapshotCreateXML")
        obj = self._live()
        redefine = bool(flags & F.REDEFINE)
        if not obj.persistent and flags & F.HALT:
            raise DriverError(ErrorCode.OPERATION_INVALID, "cannot halt after transient domain snapshot")
        snap = SnapshotDef.parse(xml, redefine=redefine)
        tree = obj.snapshot_tree()
        if redefine:
            tree.redefine(snap, obj.uuid, self.conn._parse_definition, bool(flags & F.CURRENT))
            return TestSnapshot(self, snap.name)
        if snap.name in tree:
            raise DriverError(ErrorCode.OPERATION_FAILED, "domain moment %s already exists" % snap.name)
        snap.set_domain(obj.definition)
        state = obj.state
        snap.state = {DomainState.RUNNING: "running", DomainState.PAUSED: "paused"}.get(state, "shutoff")
        if snap.memory_location == "external":
            location = "external"
        else:
            snap.memory_location = "no" if snap.state == "shutoff" else "internal"
            location = "internal"
        snap.align_disks(obj.definition, location, True)
        snap.parent = tree.current
        tree.add(snap)
        tree.current = snap.name
        if flags & F.HALT and obj.active:
            self.conn.state.stop(obj, Reason.SHUTOFF_FROM_SNAPSHOT)
        return TestSnapshot(self, snap.name)

    def list_all_snapshots(self, flags: int = 0):
        obj = self._live()
        if obj.snapshots is None:
            return []           # nothing to filter: don't load the snapshot code (and lxml)
        return [TestSnapshot(self, s.name) for s in obj.snapshots.filtered(None, flags)]

    def snapshot_lookup_by_name(self, name: str):
        self._live().snapshot_tree().get(name)
        return TestSnapshot(self, name)

    def has_current_snapshot(self) -> bool:
        return self._live().snapshot_tree().current is not None

    def snapshot_current(self):
        tree = self._live().snapshot_tree()
        if tree.current is None:
            raise DriverError(ErrorCode.NO_DOMAIN_SNAPSHOT, "the domain does not have a current snapshot")
        return TestSnapshot(self, tree.current)


class TestSnapshot(TreeSnapshot):
    dom: TestDomain     # made only by TestDomain, over itself

    def _tree(self):
        return self.dom._live().snapshot_tree()

    @writes("virDomainSnapshotDelete")
    def delete(self, flags: int = 0) -> None:
        F = SnapshotDeleteFlags
        check_snapshot_delete_flags(flags)
        check_flags(flags, F.CHILDREN | F.CHILDREN_ONLY, "testDomainSnapshotDelete")
        tree = self._tree()
        snap = tree.get(self.name)
        if flags & (F.CHILDREN | F.CHILDREN_ONLY):
            moved_current = False
            for child in tree.descendants(self.name):
                if tree.current == child.name:
                    moved_current = True
                del tree.snaps[child.name]
            if moved_current:
                tree.current = self.name
        if not flags & F.CHILDREN_ONLY:
            tree.remove(snap.name)

    @writes("virDomainRevertToSnapshot")
    def revert(self, flags: int = 0) -> None:
        F = SnapshotRevertFlags
        check_snapshot_revert_flags(flags)
        allowed = F.RUNNING | F.PAUSED | F.FORCE
        check_flags(flags, allowed, "testDomainRevertToSnapshot")
        obj = self.dom._live()
        state = self.dom.conn.state
        snap = self._tree().get(self.name)
        running_snapshot = snap.state in ("running", "paused")
        if not obj.persistent and not running_snapshot and not flags & (F.RUNNING | F.PAUSED):
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              "transient domain needs to request run or pause to revert to inactive snapshot")
        if not flags & F.FORCE:
            if snap.domain is None:
                raise DriverError(ErrorCode.SNAPSHOT_REVERT_RISKY, "snapshot '%s' lacks domain '%s' rollback info"
                                  % (snap.name, obj.name))
            if obj.active and not running_snapshot and flags & (F.RUNNING | F.PAUSED):
                raise DriverError(ErrorCode.SNAPSHOT_REVERT_RISKY, "must respawn guest to start inactive snapshot")
        tree = obj.snapshot_tree()
        tree.current = None
        config = snap.domain.copy() if snap.domain is not None else obj.definition.copy()
        if running_snapshot:
            if obj.active:
                # The twin always respawns the guest from the snapshot's definition.
                state.stop(obj, Reason.SHUTOFF_FROM_SNAPSHOT) if obj.persistent else None
                obj.id = -1
            obj.definition = config
            state.start(obj, Reason.RUNNING_FROM_SNAPSHOT)
            if not flags & F.RUNNING and (snap.state == "paused" or flags & F.PAUSED):
                obj.state = DomainState.PAUSED
                obj.reason = Reason.PAUSED_FROM_SNAPSHOT
        else:
            obj.definition = config
            if obj.active:
                state.stop(obj, Reason.SHUTOFF_FROM_SNAPSHOT)
            if flags & (F.RUNNING | F.PAUSED):
                state.start(obj, Reason.RUNNING_FROM_SNAPSHOT)
                if flags & F.PAUSED:
                    obj.state = DomainState.PAUSED
                    obj.reason = Reason.PAUSED_FROM_SNAPSHOT
        tree.current = snap.name
