"""The state of one test-driver connection: its domains (with their
definitions and snapshot trees), the node, the storage pools and their volumes.

Shared by driver.py (the API over it) and nodefile.py (which loads it from a
libvirt node file); it imports neither, so neither imports the other back.
"""

from __future__ import annotations

from ..api import DomainState, DriverError, NodeInfo, Reason
from .defaults import DEFAULT_NODE

# Imports for the type checker only (which reads any name TYPE_CHECKING as true): domxml
# loads lxml, which the listing commands never need, and typing costs start-up time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..domxml import DomainDef, DomainDefaults
    from ..storage.pooldef import PoolDef
    from ..snapshots import SnapshotTree

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"


class TestDomainObj:
    """One domain's state (libvirt's virDomainObj)."""

    def __init__(self, definition: DomainDef | None = None, xml_text: str | None = None,
                 facts: dict[str, Any] | None = None) -> None:
        self._def = definition          # DomainDef, parsed lazily from xml_text when None
        self._xml_text = xml_text
        self._facts = facts
        if definition is not None:
            self.name, self.uuid = definition.name, definition.uuid
        else:
            assert facts is not None, "a domain is made from its definition, or its XML text and facts"
            self.name, self.uuid = facts["name"], facts["uuid"]
        self.id = -1
        self.state = DomainState.SHUTOFF
        self.reason = Reason.SHUTOFF_UNKNOWN
        self.persistent = True
        self.autostart = False
        self.managed_save = False
        self.new_def: DomainDef | None = None       # persistent definition waiting for the next shutdown
        self.snapshots: SnapshotTree | None = None  # created on first use
        self.messages: list[str] = []               # taints, computed when the domain starts

    @property
    def definition(self):
        if self._def is None:
            from ..domxml import DomainDef
            self._def = DomainDef.from_trusted_xml(self._xml_text)
        return self._def

    @definition.setter
    def definition(self, value):
        self._def = value
        self._facts = None
        self.name, self.uuid = value.name, value.uuid

    def facts(self) -> dict:
        if self._facts is not None:
            return self._facts
        d = self.definition
        return {"os_type": d.os_type, "memory_kib": d.memory_kib,
                "current_memory_kib": d.current_memory_kib, "vcpus": d.vcpus, "title": d.title}

    @property
    def active(self) -> bool:
        return self.id != -1

    def snapshot_tree(self):
        if self.snapshots is None:
            from ..snapshots import SnapshotTree
            self.snapshots = SnapshotTree()
        return self.snapshots

    def snapshot_count(self) -> int:
        return len(self.snapshots) if self.snapshots is not None else 0


class TestVolObj:
    """One volume (libvirt's virStorageVolDef); its key is its path, as in libvirt's test driver."""

    def __init__(self, name: str, path: str, vol_type: str, capacity: int, allocation: int,
                 fmt: str | None = None, backing: tuple[str, str | None] | None = None):
        self.name = name
        self.path = path
        self.type = vol_type            # the XML's word: file, block, dir, ...
        self.capacity = capacity
        self.allocation = allocation
        self.format = fmt
        self.backing = backing          # the backing volume's (path, format)

    @property
    def key(self) -> str:
        return self.path


class TestPoolObj:
    """One pool (libvirt's virStoragePoolObj): its definition, the sizes libvirt's test driver
    makes up for it (every pool is 100 GiB, filled by its volumes' allocations), its volumes."""

    def __init__(self, definition: PoolDef, capacity: int):
        self.definition = definition
        self.capacity = capacity
        self.allocation = 0
        self.available = capacity
        self.volumes: list[TestVolObj] = []
        self.active = True
        self.persistent = True
        self.autostart = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def uuid(self) -> str:
        return self.definition.uuid

    @property
    def type(self) -> str:
        return self.definition.type

    @property
    def path(self) -> str:
        return self.definition.target_path or ""

    def add_volume(self, vol: TestVolObj) -> None:
        """A new volume, its allocation taken from the pool's free space (which stops at 0)."""
        self.volumes.append(vol)
        self.allocation += vol.allocation
        self.available = max(self.capacity - self.allocation, 0)

    def remove_volume(self, vol: TestVolObj) -> None:
        self.volumes.remove(vol)
        self.allocation -= vol.allocation
        self.available += vol.allocation

    def find_volume(self, name: str) -> TestVolObj | None:
        return next((v for v in self.volumes if v.name == name), None)

    def xml(self) -> str:
        """pool-dumpxml: the running definition with the made-up sizes."""
        definition = self.definition
        definition.capacity, definition.allocation, definition.available = (
            self.capacity, self.allocation, self.available)
        return definition.to_xml()


class TestState:
    """Everything one test connection sees."""

    def __init__(self) -> None:
        self.domains: list[TestDomainObj] = []
        self.next_id = 1
        self.node = NodeInfo(*DEFAULT_NODE)
        self.pools: list[TestPoolObj] = []
        self.networks: list = []        # network.TestNetworkObj, in definition order
        self.hostname = None

    def start(self, obj: TestDomainObj, reason: int) -> None:
        obj.id = self.next_id
        self.next_id += 1
        obj.state = DomainState.RUNNING
        obj.reason = reason
        # The built-in default domain has no taints; don't parse it to find that out.
        obj.messages = _taints(obj.definition) if obj._facts is None else []

    def stop(self, obj: TestDomainObj, reason: int) -> None:
        obj.id = -1
        obj.state = DomainState.SHUTOFF
        obj.reason = reason
        if obj.new_def is not None:
            obj.definition = obj.new_def
            obj.new_def = None
        if not obj.persistent:
            self.domains.remove(obj)


_DEFAULTS: list[DomainDefaults] = []


def test_defaults():
    """The test driver's post-parse defaults (made once; domxml, and lxml, load on first use)."""
    if not _DEFAULTS:
        from ..domxml import DomainDefaults

        class TestDefaults(DomainDefaults):
            interface_target_prefix = "testnet"

        _DEFAULTS.append(TestDefaults())
    return _DEFAULTS[0]


def _taints(definition) -> list[str]:
    """The taint and deprecation messages libvirt's test driver reports for a running domain."""
    messages = []
    root = definition.root
    if any(d.get("rawio") == "yes" for d in root.iterfind("devices/disk")):
        messages.append("tainted: running with undesirable elevated privileges")
    if any(i.find("script") is not None for i in root.iterfind("devices/interface")):
        messages.append("tainted: network configuration using opaque shell scripts")
    if any(d.get("type") == "block" and d.get("device") == "cdrom" and d.find("source") is not None
           for d in root.iterfind("devices/disk")):
        messages.append("tainted: use of host cdrom passthrough")
    if root.find("os/dtb") is not None:
        messages.append("tainted: custom device tree blob used")
    model = root.find("cpu/model")
    if model is not None and model.text == "Deprecated-Test":
        messages.append("tainted: use of deprecated configuration settings")
        messages.append("deprecated configuration: CPU model Deprecated-Test")
    return messages


class TestHandle:
    """A handle on one object of a connection's state (a domain, a pool, a volume):
    it carries the object's name and, once the object is gone, fails every call
    with libvirt's not-found error (_gone) instead of acting on a stale object."""

    def __init__(self, conn, obj):
        self.conn = conn
        self.obj = obj
        self.name = obj.name

    def connection(self):
        return self.conn

    def _present(self) -> bool:
        raise NotImplementedError

    def _gone(self) -> DriverError:
        raise NotImplementedError

    def _live(self):
        if not self._present():
            raise self._gone()
        return self.obj
