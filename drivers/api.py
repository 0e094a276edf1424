"""The interface between pyvirsh's commands and its drivers.

It mirrors libvirt's public API in Python form so that a command never needs to
know which driver it talks to: ``conn.lookup_domain_by_name('x').suspend()``.
Drivers raise :class:`DriverError` carrying libvirt's own error words; the
commands add virsh's context line in front of them.

Nothing here imports click, lxml or prints: this module is on every command's
import path and must stay cheap.
"""

from __future__ import annotations

import os

# The typing module costs start-up time and only the type checker needs it: it reads
# any name TYPE_CHECKING as true (the idiom Python 3.14 documents), Python as False.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self

# Plain classes and int constants rather than enum.Enum/IntFlag: this module is
# imported by every command, and building enum classes costs several
# milliseconds of start-up for nothing a plain int cannot do.


class _Code:
    """One libvirt error code: its name and the prefix libvirt puts before its messages."""

    __slots__ = ("name", "prefix")

    def __init__(self, prefix: str):
        self.name = ""
        self.prefix = prefix

    def __set_name__(self, owner: type, name: str) -> None:
        # Python calls this when ErrorCode's body binds the code to its name:
        # the name is written once, in the table, and never repeated as a string.
        self.name = name

    def __repr__(self) -> str:
        return "ErrorCode.%s" % self.name


class ErrorCode:
    """libvirt error codes that pyvirsh reports, each with libvirt's message prefix."""

    INTERNAL_ERROR = _Code("internal error: ")
    NO_SUPPORT = _Code("this function is not supported by the connection driver: ")
    INVALID_ARG = _Code("invalid argument: ")
    ARGUMENT_UNSUPPORTED = _Code("argument unsupported: ")
    OPERATION_FAILED = _Code("operation failed: ")
    OPERATION_INVALID = _Code("Requested operation is not valid: ")
    OPERATION_DENIED = _Code("operation forbidden: ")
    OPERATION_UNSUPPORTED = _Code("Operation not supported: ")
    OPERATION_TIMEOUT = _Code("Timed out during operation: ")
    OPERATION_ABORTED = _Code("operation aborted: ")
    CONFIG_UNSUPPORTED = _Code("unsupported configuration: ")
    XML_ERROR = _Code("XML error: ")
    XML_DETAIL = _Code("")        # libxml2 parse errors are shown as they are
    SYSTEM_ERROR = _Code("")      # "<what>: <strerror>" messages
    RAW = _Code("")               # messages libvirt reports without a prefix
    # virCheckFlags' refusal: libvirt's VIR_ERR_INVALID_ARG, whose text carries no prefix;
    # virsh's *-edit commands retry without the INACTIVE flag on it.
    UNSUPPORTED_FLAGS = _Code("")
    NO_DOMAIN = _Code("Domain not found: ")
    NO_DOMAIN_SNAPSHOT = _Code("Domain snapshot not found: ")
    INVALID_DOMAIN_SNAPSHOT = _Code("Invalid snapshot: ")
    SNAPSHOT_REVERT_RISKY = _Code("revert requires force: ")
    NO_STORAGE_POOL = _Code("Storage pool not found: ")
    NO_STORAGE_VOL = _Code("Storage volume not found: ")
    STORAGE_POOL_BUILT = _Code("Storage pool already built: ")
    NO_NETWORK = _Code("Network not found: ")
    NO_NETWORK_PORT = _Code("network port not found: ")
    NO_SECRET = _Code("Secret not found: ")
    DEVICE_MISSING = _Code("device not found: ")
    NO_DOMAIN_METADATA = _Code("metadata not found: ")
    BLOCK_COPY_ACTIVE = _Code("block copy still active: ")
    AGENT_UNRESPONSIVE = _Code("Guest agent is not responding: ")
    NO_CONNECT = _Code("no connection driver available for ")
    CONNECT_FAILED = _Code("")


class DriverError(Exception):
    """A failure reported by a driver, worded as libvirt words it."""

    def __init__(self, code: _Code, message: str, preamble: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        # Text libvirt's libraries print on stderr before the error itself
        # (libxml2's "I/O warning : ..." lines); shown raw, ahead of 'error:' lines.
        self.preamble = preamble

    def __str__(self) -> str:
        return self.code.prefix + self.message


def os_reason(e: OSError) -> str:
    """The C library's words for an OSError, as libvirt prints them (g_strerror): the
    reason in SYSTEM_ERROR messages."""
    return os.strerror(e.errno) if e.errno else str(e)


def unsupported_flags(flags: int, function: str) -> DriverError:
    """libvirt's virCheckFlags failure, e.g. for --disk-only on the test driver."""
    return DriverError(ErrorCode.UNSUPPORTED_FLAGS, "unsupported flags (0x%x) in function %s" % (flags, function))


def check_flags(flags: int, supported: int, function: str) -> None:
    """libvirt's virCheckFlags: a driver function refuses the flag bits it does not know."""
    if flags & ~supported:
        raise unsupported_flags(flags & ~supported, function)


def no_support(api_name: str) -> DriverError:
    return DriverError(ErrorCode.NO_SUPPORT, api_name)


def no_support_flagged(api_name: str, with_flags: str, flags: int) -> DriverError:
    """The not-supported error of the call virsh makes: the plain API without flags, the
    *Flags variant with them (virDomainDestroy / virDomainDestroyFlags)."""
    return no_support(with_flags if flags else api_name)


# --------------------------------------------------------------------------
# Domain states and reasons, with the words virsh prints for them
# --------------------------------------------------------------------------

class DomainState:
    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


_STATE_LABELS = ("no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed",
                 "pmsuspended")


def state_label(state: int) -> str:
    """The word virsh prints for a domain state."""
    return _STATE_LABELS[state] if 0 <= state < len(_STATE_LABELS) else "no state"

# Reason numbers are libvirt's (virDomainRunningReason etc.); the words are virsh's.
REASON_LABELS = {
    DomainState.NOSTATE: ["unknown"],
    DomainState.RUNNING: ["unknown", "booted", "migrated", "restored", "from snapshot",
                          "unpaused", "migration canceled", "save canceled", "event wakeup",
                          "crashed", "post-copy", "post-copy failed"],
    DomainState.BLOCKED: ["unknown"],
    DomainState.PAUSED: ["unknown", "user", "migrating", "saving", "dumping", "I/O error",
                         "watchdog", "from snapshot", "shutting down", "creating snapshot",
                         "starting up", "post-copy", "post-copy failed", "api error"],
    DomainState.SHUTDOWN: ["unknown", "user"],
    DomainState.SHUTOFF: ["unknown", "shutdown", "destroyed", "crashed", "migrated", "saved",
                          "failed", "from snapshot", "daemon"],
    DomainState.CRASHED: ["unknown", "panicked"],
    DomainState.PMSUSPENDED: ["unknown"],
}


class Reason:
    """Named reason numbers used by the drivers (libvirt's values)."""
    RUNNING_UNKNOWN = 0
    RUNNING_BOOTED = 1
    RUNNING_RESTORED = 3
    RUNNING_FROM_SNAPSHOT = 4
    RUNNING_UNPAUSED = 5
    RUNNING_SAVE_CANCELED = 7
    PAUSED_UNKNOWN = 0
    PAUSED_USER = 1
    PAUSED_SAVING = 3
    PAUSED_IOERROR = 5
    PAUSED_FROM_SNAPSHOT = 7
    PAUSED_SNAPSHOT = 9
    PAUSED_STARTING_UP = 10
    SHUTOFF_UNKNOWN = 0
    SHUTOFF_SHUTDOWN = 1
    SHUTOFF_DESTROYED = 2
    SHUTOFF_CRASHED = 3
    SHUTOFF_SAVED = 5
    SHUTOFF_FAILED = 6
    SHUTOFF_FROM_SNAPSHOT = 7
    SHUTDOWN_UNKNOWN = 0
    SHUTDOWN_USER = 1
    CRASHED_PANICKED = 1


class QemuMonitorCommandFlags:
    HMP = 1 << 0


class JobStatsFlags:
    COMPLETED = 1 << 0
    KEEP_COMPLETED = 1 << 1


class DomainControlState:
    OK, JOB, OCCUPIED, ERROR = range(4)



def reason_label(state: int, reason: int) -> str:
    labels = REASON_LABELS.get(state, ["unknown"])
    return labels[reason] if 0 <= reason < len(labels) else "unknown"


# --------------------------------------------------------------------------
# Flags, with libvirt's numeric values (they appear in "unsupported flags" errors)
# --------------------------------------------------------------------------

class StartFlags:
    PAUSED = 1 << 0
    AUTODESTROY = 1 << 1
    BYPASS_CACHE = 1 << 2
    FORCE_BOOT = 1 << 3
    VALIDATE = 1 << 4
    RESET_NVRAM = 1 << 5


class DefineFlags:
    VALIDATE = 1 << 0


class UndefineFlags:
    MANAGED_SAVE = 1 << 0
    SNAPSHOTS_METADATA = 1 << 1
    NVRAM = 1 << 2
    KEEP_NVRAM = 1 << 3
    CHECKPOINTS_METADATA = 1 << 4
    TPM = 1 << 5
    KEEP_TPM = 1 << 6


class XMLFlags:
    SECURE = 1 << 0
    INACTIVE = 1 << 1
    UPDATE_CPU = 1 << 2
    MIGRATABLE = 1 << 3


class SaveRestoreFlags:
    """virDomainSaveRestoreFlags (save, restore, managedsave, save-image-define)."""
    BYPASS_CACHE = 1 << 0
    RUNNING = 1 << 1
    PAUSED = 1 << 2
    RESET_NVRAM = 1 << 3


class ModificationImpact:
    """virDomainModificationImpact: which definition a change affects (0 = the current one)."""
    CURRENT = 0
    LIVE = 1 << 0
    CONFIG = 1 << 1


class VcpuFlags:
    """virDomainVcpuFlags beyond ModificationImpact."""
    MAXIMUM = 1 << 2
    GUEST = 1 << 3
    HOTPLUGGABLE = 1 << 4


class MemoryFlags:
    """virDomainMemoryModFlags beyond ModificationImpact."""
    MAXIMUM = 1 << 2


class MetadataType:
    """virDomainMetadataType."""
    DESCRIPTION = 0
    TITLE = 1
    ELEMENT = 2


class ShutdownMode:
    DEFAULT = 0
    ACPI_POWER_BTN = 1 << 0
    GUEST_AGENT = 1 << 1
    INITCTL = 1 << 2
    SIGNAL = 1 << 3
    PARAVIRT = 1 << 4


class DestroyFlags:
    GRACEFUL = 1 << 0
    REMOVE_LOGS = 1 << 1


class ConsoleFlags:
    FORCE = 1 << 0      # take the console over from the session holding it
    SAFE = 1 << 1       # only if the driver can keep sessions exclusive


class SnapshotCreateFlags:
    REDEFINE = 1 << 0
    CURRENT = 1 << 1
    NO_METADATA = 1 << 2
    HALT = 1 << 3
    DISK_ONLY = 1 << 4
    REUSE_EXT = 1 << 5
    QUIESCE = 1 << 6
    ATOMIC = 1 << 7
    LIVE = 1 << 8
    VALIDATE = 1 << 9


class GuestInfoTypes:
    """virDomainGuestInfoTypes: what guestinfo asks for (none: everything)."""
    USERS = 1 << 0
    OS = 1 << 1
    TIMEZONE = 1 << 2
    HOSTNAME = 1 << 3
    FILESYSTEM = 1 << 4
    DISKS = 1 << 5
    INTERFACES = 1 << 6


class InterfaceAddressesSource:
    LEASE = 0
    AGENT = 1
    ARP = 2


class SetTimeFlags:
    SYNC = 1 << 0


class UserPasswordFlags:
    ENCRYPTED = 1 << 0


class AgentCommandTimeout:
    """virDomainQemuAgentCommandTimeoutValues (seconds otherwise)."""
    BLOCK = -2
    DEFAULT = -1
    NOWAIT = 0


class SnapshotListFlags:
    DESCENDANTS = 1 << 0    # below one snapshot
    ROOTS = 1 << 0          # the same bit, for whole-domain lists
    METADATA = 1 << 1
    LEAVES = 1 << 2
    NO_LEAVES = 1 << 3
    NO_METADATA = 1 << 4
    INACTIVE = 1 << 5
    ACTIVE = 1 << 6
    DISK_ONLY = 1 << 7
    INTERNAL = 1 << 8
    EXTERNAL = 1 << 9
    TOPOLOGICAL = 1 << 10


class SnapshotDeleteFlags:
    CHILDREN = 1 << 0
    METADATA_ONLY = 1 << 1
    CHILDREN_ONLY = 1 << 2


class SnapshotRevertFlags:
    RUNNING = 1 << 0
    PAUSED = 1 << 1
    FORCE = 1 << 2
    RESET_NVRAM = 1 << 3


class DeviceModifyFlags:
    """virDomainDeviceModifyFlags (attach, detach and update of devices)."""
    CURRENT = 0
    LIVE = 1
    CONFIG = 2
    FORCE = 4


class BlockJobType:
    UNKNOWN = 0
    PULL = 1
    COPY = 2
    COMMIT = 3
    ACTIVE_COMMIT = 4
    BACKUP = 5


_JOB_LABELS = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup")


def job_type_label(job_type: int) -> str:
    """virsh's virshDomainBlockJobToString."""
    return _JOB_LABELS[job_type] if 0 <= job_type < len(_JOB_LABELS) else _JOB_LABELS[0]


class BlockCommitFlags:
    SHALLOW = 1 << 0
    DELETE = 1 << 1
    ACTIVE = 1 << 2
    RELATIVE = 1 << 3
    BANDWIDTH_BYTES = 1 << 4


class BlockRebaseFlags:
    SHALLOW = 1 << 0
    REUSE_EXT = 1 << 1
    COPY_RAW = 1 << 2
    COPY = 1 << 3
    RELATIVE = 1 << 4
    COPY_DEV = 1 << 5
    BANDWIDTH_BYTES = 1 << 6


class BlockCopyFlags:
    SHALLOW = 1 << 0
    REUSE_EXT = 1 << 1
    TRANSIENT_JOB = 1 << 2
    SYNCHRONOUS_WRITES = 1 << 3


class BlockJobAbortFlags:
    ASYNC = 1 << 0
    PIVOT = 1 << 1


class BlockJobInfoFlags:
    BANDWIDTH_BYTES = 1 << 0


class BlockJobSetSpeedFlags:
    BANDWIDTH_BYTES = 1 << 0


class BlockPullFlags:
    BANDWIDTH_BYTES = 1 << 6


class BlockResizeFlags:
    BYTES = 1 << 0


class StoragePoolListFlags:
    """virConnectListAllStoragePoolsFlags; a pool type's bit is in POOL_TYPE_FLAGS."""
    INACTIVE = 1 << 0
    ACTIVE = 1 << 1
    PERSISTENT = 1 << 2
    TRANSIENT = 1 << 3
    AUTOSTART = 1 << 4
    NO_AUTOSTART = 1 << 5


# libvirt's pool types in its own order, each with its list-filter bit.
POOL_TYPE_FLAGS = {
    "dir": 1 << 6, "fs": 1 << 7, "netfs": 1 << 8, "logical": 1 << 9, "disk": 1 << 10, "iscsi": 1 << 11,
    "iscsi-direct": 1 << 19, "scsi": 1 << 12, "mpath": 1 << 13, "rbd": 1 << 14, "sheepdog": 1 << 15,
    "gluster": 1 << 16, "zfs": 1 << 17, "vstorage": 1 << 18,
}


class StoragePoolBuildFlags:
    NEW = 0
    REPAIR = 1 << 0
    RESIZE = 1 << 1
    NO_OVERWRITE = 1 << 2
    OVERWRITE = 1 << 3


class StoragePoolCreateFlags:
    """virStoragePoolCreate / virStoragePoolCreateXML flags: build before starting."""
    NORMAL = 0
    BUILD = 1 << 0
    BUILD_OVERWRITE = 1 << 1
    BUILD_NO_OVERWRITE = 1 << 2


class StorageXMLFlags:
    INACTIVE = 1 << 0


class VolCreateFlags:
    PREALLOC_METADATA = 1 << 0
    REFLINK = 1 << 1
    VALIDATE = 1 << 2


# pyvirsh's own bit, beyond libvirt's flags of vol delete, wipe and resize: act on a volume
# that is the backing file of another volume (a running domain's image is never forced).
VOL_FORCE = 1 << 24


class VolDeleteFlags:
    ZEROED = 1 << 0
    WITH_SNAPSHOTS = 1 << 1
    FORCE = VOL_FORCE


class VolResizeFlags:
    ALLOCATE = 1 << 0
    DELTA = 1 << 1
    SHRINK = 1 << 2
    FORCE = VOL_FORCE


class VolStreamFlags:
    """virStorageVolUploadFlags / virStorageVolDownloadFlags."""
    SPARSE_STREAM = 1 << 0


# virStorageVolWipeAlgorithm, in libvirt's order (the index is the number).
VOL_WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33",
                       "random", "trim")


class VolGetInfoFlags:
    PHYSICAL = 1 << 0


class NetworkListFlags:
    """virConnectListAllNetworksFlags."""
    INACTIVE = 1 << 0
    ACTIVE = 1 << 1
    PERSISTENT = 1 << 2
    TRANSIENT = 1 << 3
    AUTOSTART = 1 << 4
    NO_AUTOSTART = 1 << 5


ALL_NETWORK_LIST_FLAGS = (1 << 6) - 1


def network_matches(flags: int, active: bool, persistent: bool, autostart: bool) -> bool:
    """Whether a network passes virConnectListAllNetworks' filter (no bit of a pair: no filter)."""
    F = NetworkListFlags
    for yes, no, value in ((F.ACTIVE, F.INACTIVE, active), (F.PERSISTENT, F.TRANSIENT, persistent),
                           (F.AUTOSTART, F.NO_AUTOSTART, autostart)):
        if flags & (yes | no) and not (flags & yes and value or flags & no and not value):
            return False
    return True


class NetworkXMLFlags:
    INACTIVE = 1 << 0


class NetworkUpdateFlags:
    """virNetworkUpdateFlags: CURRENT (0) means live if running, else config."""
    CURRENT = 0
    LIVE = 1 << 0
    CONFIG = 1 << 1


# virNetworkUpdateCommand and virNetworkSection: the index is libvirt's number.
NETWORK_UPDATE_COMMANDS = ("none", "modify", "delete", "add-last", "add-first")
NETWORK_SECTIONS = ("none", "bridge", "domain", "ip", "ip-dhcp-host", "ip-dhcp-range", "forward",
                    "forward-interface", "forward-pf", "portgroup", "dns-host", "dns-txt", "dns-srv")


class StatsTypes:
    """virDomainStatsTypes: the groups domstats asks for (0 = every group the driver has)."""
    STATE = 1 << 0
    CPU_TOTAL = 1 << 1
    BALLOON = 1 << 2
    VCPU = 1 << 3
    INTERFACE = 1 << 4
    BLOCK = 1 << 5
    PERF = 1 << 6
    IOTHREAD = 1 << 7
    MEMORY = 1 << 8
    DIRTYRATE = 1 << 9
    VM = 1 << 10


class StatsFlags:
    """virConnectGetAllDomainStatsFlags: the list filters, and how the stats are gathered."""
    ACTIVE = 1 << 0
    INACTIVE = 1 << 1
    PERSISTENT = 1 << 2
    TRANSIENT = 1 << 3
    RUNNING = 1 << 4
    PAUSED = 1 << 5
    SHUTOFF = 1 << 6
    OTHER = 1 << 7
    NOWAIT = 1 << 29
    BACKING = 1 << 30
    ENFORCE_STATS = 1 << 31


def stats_filter_matches(flags: int, dom: Domain) -> bool:
    """Whether a domain passes domstats' --list-* filters (libvirt's virDomainObjListFilter):
    each pair given on one side only filters; a state filter keeps the states named."""
    F = StatsFlags
    active = dom.is_active()
    if flags & (F.ACTIVE | F.INACTIVE) in (F.ACTIVE, F.INACTIVE) and active != bool(flags & F.ACTIVE):
        return False
    if flags & (F.PERSISTENT | F.TRANSIENT) in (F.PERSISTENT, F.TRANSIENT) and \
            dom.is_persistent() != bool(flags & F.PERSISTENT):
        return False
    states = flags & (F.RUNNING | F.PAUSED | F.SHUTOFF | F.OTHER)
    if states:
        state = dom.get_state()[0]
        kind = {DomainState.RUNNING: F.RUNNING, DomainState.PAUSED: F.PAUSED,
                DomainState.SHUTOFF: F.SHUTOFF}.get(state, F.OTHER)
        if not states & kind:
            return False
    return True


class DiskErrorCode:
    """virDomainDiskErrorCode, with the words virsh's domblkerror prints."""
    NONE = 0
    UNSPEC = 1
    NO_SPACE = 2
    LABELS = ("no error", "unspecified error", "no space")


# virDomainMemoryStatTags in libvirt's order: the words dommemstat prints.
MEMORY_STAT_NAMES = ("swap_in", "swap_out", "major_fault", "minor_fault", "unused", "available", "actual",
                     "rss", "usable", "last_update", "disk_caches", "hugetlb_pgalloc", "hugetlb_pgfail")


# --------------------------------------------------------------------------
# Plain records returned by drivers
# --------------------------------------------------------------------------

class Record:
    """A plain record the API returns: its fields are its __slots__, each a plain
    value (int, str, bool, None), a list of those, or a list of records.

    to_dict/from_dict turn it into JSON-ready data and back: what a remote
    driver sends over the wire and what --json prints. A subclass naming a
    list-of-records field in _ITEMS (field -> record class) gets it rebuilt.
    """

    __slots__: tuple[str, ...] = ()
    _ITEMS: ClassVar[dict[str, type[Record]]] = {}

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, list):
                value = [v.to_dict() if isinstance(v, Record) else v for v in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        unknown = set(data) - set(cls.__slots__)
        if unknown:
            raise ValueError("%s has no field %s" % (cls.__name__, ", ".join(sorted(unknown))))
        values = {}
        for name in cls.__slots__:
            if name not in data:
                raise ValueError("%s needs the field %s" % (cls.__name__, name))
            value = data[name]
            item = cls._ITEMS.get(name)
            if item is not None:
                value = [item.from_dict(v) for v in value]
            values[name] = value
        return cls(**values)

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n)
                                                 for n in self.__slots__)

    # Records are mutable and equal by value, so unhashable; typeshed types object.__hash__ as a
    # method, where Python's documented way to say "unhashable" is None.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__))


class NodeInfo(Record):
    """virNodeInfo."""
    __slots__ = ("model", "memory_kib", "cpus", "mhz", "nodes", "sockets", "cores", "threads")

    def __init__(self, model, memory_kib, cpus, mhz, nodes, sockets, cores, threads):
        self.model = model
        self.memory_kib = memory_kib
        self.cpus = cpus
        self.mhz = mhz
        self.nodes = nodes
        self.sockets = sockets
        self.cores = cores
        self.threads = threads


class DomainInfo(Record):
    """virDomainInfo; state is a DomainState number."""
    __slots__ = ("state", "max_mem_kib", "memory_kib", "nr_virt_cpu", "cpu_time_ns")

    def __init__(self, state, max_mem_kib, memory_kib, nr_virt_cpu, cpu_time_ns):
        self.state = state
        self.max_mem_kib = max_mem_kib
        self.memory_kib = memory_kib
        self.nr_virt_cpu = nr_virt_cpu
        self.cpu_time_ns = cpu_time_ns


class BlockInfo(Record):
    """virDomainBlockInfo, in bytes."""
    __slots__ = ("capacity", "allocation", "physical")

    def __init__(self, capacity, allocation, physical):
        self.capacity = capacity
        self.allocation = allocation
        self.physical = physical


class BlockJobInfo(Record):
    """What virDomainGetBlockJobInfo returns: job type, bandwidth, progress."""
    __slots__ = ("type", "bandwidth", "cur", "end", "ready")

    def __init__(self, type, bandwidth, cur, end, ready=False):
        self.type = type
        self.bandwidth = bandwidth
        self.cur = cur
        self.end = end
        self.ready = ready


class SecurityLabel(Record):
    """virSecurityLabel."""
    __slots__ = ("model", "doi", "label", "enforcing")

    def __init__(self, model, doi, label, enforcing):
        self.model = model
        self.doi = doi
        self.label = label
        self.enforcing = enforcing


class SecurityModel(Record):
    """virSecurityModel: the host's security driver and its DOI."""
    __slots__ = ("model", "doi")

    def __init__(self, model, doi):
        self.model = model
        self.doi = doi


class StoragePoolState:
    INACTIVE = 0
    BUILDING = 1
    RUNNING = 2
    DEGRADED = 3
    INACCESSIBLE = 4


_POOL_STATE_LABELS = ("inactive", "building", "running", "degraded", "inaccessible")


def pool_state_label(state: int) -> str:
    """The word virsh prints for a pool state (virshStoragePoolStateToString)."""
    return _POOL_STATE_LABELS[state] if 0 <= state < len(_POOL_STATE_LABELS) else "unknown"


class StoragePoolInfo(Record):
    """virStoragePoolInfo: a StoragePoolState and sizes in bytes."""
    __slots__ = ("state", "capacity", "allocation", "available")

    def __init__(self, state, capacity, allocation, available):
        self.state = state
        self.capacity = capacity
        self.allocation = allocation
        self.available = available


class StorageVolType:
    FILE = 0
    BLOCK = 1
    DIR = 2
    NETWORK = 3
    NETDIR = 4
    PLOOP = 5


_VOL_TYPE_LABELS = ("file", "block", "dir", "network", "netdir", "ploop")


def vol_type_label(vol_type: int) -> str:
    """The word virsh prints for a volume type (virshVolumeTypeToString)."""
    return _VOL_TYPE_LABELS[vol_type] if 0 <= vol_type < len(_VOL_TYPE_LABELS) else "unknown"


def vol_type_number(label: str) -> int | None:
    """The StorageVolType of a volume XML's type attribute, None when unknown."""
    return _VOL_TYPE_LABELS.index(label) if label in _VOL_TYPE_LABELS else None


class StorageVolInfo(Record):
    """virStorageVolInfo: a StorageVolType and sizes in bytes."""
    __slots__ = ("type", "capacity", "allocation")

    def __init__(self, type, capacity, allocation):
        self.type = type
        self.capacity = capacity
        self.allocation = allocation


class NetworkDHCPLease(Record):
    """virNetworkDHCPLease: one lease of a network's DHCP server (expiry in seconds since
    the epoch, type 0 for IPv4 and 1 for IPv6; absent strings are None)."""
    __slots__ = ("iface", "expirytime", "type", "mac", "iaid", "ipaddr", "prefix", "hostname", "clientid")

    def __init__(self, iface, expirytime, type, mac, iaid, ipaddr, prefix, hostname, clientid):
        self.iface = iface
        self.expirytime = expirytime
        self.type = type
        self.mac = mac
        self.iaid = iaid
        self.ipaddr = ipaddr
        self.prefix = prefix
        self.hostname = hostname
        self.clientid = clientid


class DiskLayer(Record):
    """One image of a disk's cached backing chain (libvirt's <source index> / <backingStore index>).

    format is None for a backing layer whose format the XML does not record."""
    __slots__ = ("index", "path", "format", "type")

    def __init__(self, index, path, format, type):
        self.index = index
        self.path = path
        self.format = format
        self.type = type


class FSInfo(Record):
    """virDomainFSInfo: a guest file system and the domain's disk targets under it."""
    __slots__ = ("mountpoint", "name", "fstype", "dev_aliases")

    def __init__(self, mountpoint, name, fstype, dev_aliases):
        self.mountpoint = mountpoint
        self.name = name
        self.fstype = fstype
        self.dev_aliases = dev_aliases


class IPAddress(Record):
    """virDomainIPAddress; type is "ipv4" or "ipv6"."""
    __slots__ = ("type", "addr", "prefix")

    def __init__(self, type, addr, prefix):
        self.type = type
        self.addr = addr
        self.prefix = prefix


class DomainInterface(Record):
    """virDomainInterface: a guest interface, its MAC (or None) and addresses."""
    __slots__ = ("name", "hwaddr", "addrs")
    _ITEMS: ClassVar[dict[str, type[Record]]] = {"addrs": IPAddress}

    def __init__(self, name, hwaddr, addrs):
        self.name = name
        self.hwaddr = hwaddr
        self.addrs = addrs


class BlockStats(Record):
    """virDomainBlockStatsStruct (-1: the driver does not know the value)."""

    __slots__ = ("rd_req", "rd_bytes", "wr_req", "wr_bytes", "errs")

    def __init__(self, rd_req, rd_bytes, wr_req, wr_bytes, errs):
        self.rd_req = rd_req
        self.rd_bytes = rd_bytes
        self.wr_req = wr_req
        self.wr_bytes = wr_bytes
        self.errs = errs


class InterfaceStats(Record):
    """virDomainInterfaceStatsStruct, seen from the guest (-1: unknown)."""

    __slots__ = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop")

    def __init__(self, rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop):
        self.rx_bytes = rx_bytes
        self.rx_packets = rx_packets
        self.rx_errs = rx_errs
        self.rx_drop = rx_drop
        self.tx_bytes = tx_bytes
        self.tx_packets = tx_packets
        self.tx_errs = tx_errs
        self.tx_drop = tx_drop


class VcpuInfo(Record):
    """virVcpuInfo: state is 1 (running) as libvirt's VIR_VCPU_RUNNING; cpu_time in ns."""

    __slots__ = ("number", "state", "cpu_time", "cpu")

    def __init__(self, number, state, cpu_time, cpu):
        self.number = number
        self.state = state
        self.cpu_time = cpu_time
        self.cpu = cpu


class DomainDisk(Record):
    """One <disk> of a domain definition, as commands need it (pyvirsh extension).

    source is what domblklist shows (path, device, network or volume name),
    None when there is none; has_source says whether the disk has a <source>
    element at all (virsh's test for an empty drive). chain is the cached
    backing chain, top first, empty when no chain is cached. pool is the storage
    pool of a <disk type='volume'> (source is then the volume's name).
    """
    __slots__ = ("type", "device", "target", "bus", "source", "has_source", "format", "readonly", "chain",
                 "pool")
    _ITEMS: ClassVar[dict[str, type[Record]]] = {"chain": DiskLayer}

    def __init__(self, type, device, target, bus, source, has_source, format, readonly, chain, pool=None):
        self.type = type
        self.device = device
        self.target = target
        self.bus = bus
        self.source = source
        self.has_source = has_source
        self.format = format
        self.readonly = readonly
        self.chain = chain
        self.pool = pool


def find_disk(disks: list[DomainDisk], name: str) -> DomainDisk | None:
    """A disk by target ('vda') or by source path, as libvirt's virDomainDiskByName."""
    for disk in disks:
        if disk.target == name:
            return disk
    for disk in disks:
        if disk.source is not None and disk.source == name:
            return disk
    return None


def writes(api_name: str, with_flags: str | None = None):
    """Mark a driver method that changes state: refused on a read-only connection
    with libvirt's words, before the driver looks at anything else.

    with_flags names the libvirt API virsh calls instead when flags are given
    (virDomainDestroy vs virDomainDestroyFlags); flags is the last argument.
    """

    def decorate(method):
        def checked(self, *args, **kwargs):
            if self.connection().readonly:
                flags = kwargs.get("flags", args[-1] if args and isinstance(args[-1], int) else 0)
                name = with_flags if with_flags and flags else api_name
                raise DriverError(ErrorCode.OPERATION_DENIED, "read only access prevents %s" % name)
            return method(self, *args, **kwargs)
        checked.__name__ = method.__name__
        checked.__doc__ = method.__doc__
        checked.__wrapped__ = method        # inspect.signature shows the method's own parameters
        return checked

    return decorate


# --------------------------------------------------------------------------
# The interfaces. Each method is one libvirt API call (named in its default
# body); the default answers "not supported" in libvirt's words, so a driver
# implements only what it can do and every command reports the rest as virsh
# would. What libvirt has no function for sits apart, in the pyvirsh
# extension mixins right below, which the handles inherit.
# --------------------------------------------------------------------------

class ConnectionExtensions:
    """pyvirsh-only calls on a connection: libvirt has no function for these."""

    passive: bool = False       # set for TAB completion: read state only, never touch a hypervisor

    if TYPE_CHECKING:
        # Only Connection mixes this class in; the defaults below build on this call of it.
        def list_all_domains(self) -> list[Domain]: ...

    def completion_view(self) -> Self:
        """A connection TAB completion may use: it reads state and never talks to a hypervisor."""
        return self

    def list_domain_names(self) -> list[str]:
        """Cheap listing for completion: never talks to a hypervisor process."""
        return [d.name for d in self.list_all_domains()]

    def list_domain_names_by_state(self, active: bool) -> list[str]:
        """Names of the running (or the shut-off) domains, for completion."""
        return [d.name for d in self.list_all_domains() if d.is_active() == active]


class DomainExtensions:
    """pyvirsh-only calls on a domain: libvirt has no function for these (its
    clients parse the XML or listen to events instead)."""

    def get_disks(self, inactive: bool = False) -> list[DomainDisk]:
        """The disks of the live definition (or the persistent one if inactive), with
        their cached backing chains: what domblklist, domblkinfo and completion show.

        libvirt's clients read them from the XML; a driver builds them with
        diskinfo.disk_records from its definition."""
        raise no_support("virDomainGetXMLDesc")

    def get_definition(self, inactive: bool = False):
        """The parsed definition (a domxml.DomainDef): live, or the persistent one if inactive.

        For the drivers' own use; it holds lxml elements and never crosses to
        the commands, which use get_disks and get_xml_desc."""
        raise no_support("virDomainGetXMLDesc")

    def block_job_outcome(self, disk: str) -> str:
        """How the disk's last job ended, for --wait: completed, failed or canceled."""
        return "completed"

    def wait_block_job_event(self, disk: str, timeout: float) -> bool | None:
        """Sleep until the disk's job may have changed, at most timeout seconds. True when
        the wait listened for the job's own events (it ends as soon as the job changes, so a
        caller may wait in long slices); None when it just let the time pass."""
        import time
        time.sleep(timeout)
        return None


class Connection(ConnectionExtensions):
    """An open hypervisor connection (virConnect)."""

    uri: str = ""
    readonly: bool = False

    def connection(self) -> Connection:
        return self

    def close(self) -> None:
        pass

    # host
    def get_uri(self) -> str:
        """virConnectGetURI."""
        return self.uri

    def get_hostname(self) -> str:
        raise no_support("virConnectGetHostname")

    def get_type(self) -> str:
        raise no_support("virConnectGetType")

    def get_version(self) -> int:
        """Hypervisor version as libvirt's packed integer (major*1e6 + minor*1e3 + micro)."""
        raise no_support("virConnectGetVersion")

    def get_node_info(self) -> NodeInfo:
        raise no_support("virNodeGetInfo")

    def get_security_model(self) -> SecurityModel:
        """The host's security driver; model "" when there is none."""
        raise no_support("virNodeGetSecurityModel")

    # domains
    def list_all_domains(self) -> list[Domain]:
        raise no_support("virConnectListAllDomains")

    def lookup_domain_by_id(self, domid: int) -> Domain:
        raise no_support("virDomainLookupByID")

    def lookup_domain_by_uuid(self, uuid: str) -> Domain:
        raise no_support("virDomainLookupByUUIDString")

    def lookup_domain_by_name(self, name: str) -> Domain:
        raise no_support("virDomainLookupByName")

    def define_xml(self, xml: str, flags: int = 0) -> Domain:
        raise no_support_flagged("virDomainDefineXML", "virDomainDefineXMLFlags", flags)

    def create_xml(self, xml: str, flags: int = 0) -> Domain:
        raise no_support("virDomainCreateXML")

    # saved state images
    @writes("virDomainRestoreFlags")
    def restore(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        """Start the domain saved in path (flags: SaveRestoreFlags); xml replaces its definition."""
        raise no_support("virDomainRestoreFlags")

    def save_image_get_xml_desc(self, path: str, flags: int = 0) -> str:
        """The definition kept in a save image (flags: XMLFlags.SECURE)."""
        raise no_support("virDomainSaveImageGetXMLDesc")

    @writes("virDomainSaveImageDefineXML")
    def save_image_define_xml(self, path: str, xml: str, flags: int = 0) -> None:
        """Replace the definition kept in a save image (flags: SaveRestoreFlags RUNNING/PAUSED)."""
        raise no_support("virDomainSaveImageDefineXML")

    def autostart_run(self) -> list[tuple[str, str | None]]:
        """pyvirsh extension: start every autostart domain that is shut off; (name, error or None)."""
        raise no_support("virConnectListAllDomains")

    # storage pools and volumes
    def list_all_storage_pools(self, flags: int = 0) -> list[StoragePool]:
        """The pools matching flags (StoragePoolListFlags; no bit of a kind means no filter)."""
        raise no_support("virConnectListAllStoragePools")

    def num_of_storage_pools(self) -> int:
        """Active pools (the call virsh falls back on without virConnectListAllStoragePools)."""
        raise no_support("virConnectNumOfStoragePools")

    def num_of_defined_storage_pools(self) -> int:
        raise no_support("virConnectNumOfDefinedStoragePools")

    def lookup_storage_pool_by_name(self, name: str) -> StoragePool:
        raise no_support("virStoragePoolLookupByName")

    def lookup_storage_pool_by_uuid(self, uuid: str) -> StoragePool:
        raise no_support("virStoragePoolLookupByUUIDString")

    def storage_pool_define_xml(self, xml: str, flags: int = 0) -> StoragePool:
        raise no_support("virStoragePoolDefineXML")

    def storage_pool_create_xml(self, xml: str, flags: int = 0) -> StoragePool:
        """A transient pool, started at once; flags are StoragePoolCreateFlags."""
        raise no_support("virStoragePoolCreateXML")

    def get_storage_pool_capabilities(self, flags: int = 0) -> str:
        """The <storagepoolCapabilities> document: every pool type and whether the driver runs it."""
        raise no_support("virConnectGetStoragePoolCapabilities")

    def find_storage_pool_sources(self, pool_type: str, spec: str | None, flags: int = 0) -> str:
        """A <sources> document of the pools of pool_type that could be made; spec is a
        <source> document narrowing the search (a host to ask)."""
        raise no_support("virConnectFindStoragePoolSources")

    def lookup_storage_vol_by_key(self, key: str) -> StorageVol:
        raise no_support("virStorageVolLookupByKey")

    def lookup_storage_vol_by_path(self, path: str) -> StorageVol:
        raise no_support("virStorageVolLookupByPath")

    # virtual networks
    def list_all_networks(self, flags: int = 0) -> list[Network]:
        """The networks matching flags (NetworkListFlags; no bit of a pair means no filter)."""
        raise no_support("virConnectListAllNetworks")

    def lookup_network_by_name(self, name: str) -> Network:
        raise no_support("virNetworkLookupByName")

    def lookup_network_by_uuid(self, uuid: str) -> Network:
        raise no_support("virNetworkLookupByUUIDString")

    def network_define_xml(self, xml: str, flags: int = 0) -> Network:
        raise no_support_flagged("virNetworkDefineXML", "virNetworkDefineXMLFlags", flags)

    def network_create_xml(self, xml: str, flags: int = 0) -> Network:
        """A transient network, started at once."""
        raise no_support_flagged("virNetworkCreateXML", "virNetworkCreateXMLFlags", flags)

    # statistics (typed parameters as ordered (name, value) pairs)
    def get_all_domain_stats(self, stats: int, flags: int = 0) -> list[tuple[Domain, list[tuple[str, object]]]]:
        """stats: StatsTypes bits (0: all the driver has); flags: StatsFlags."""
        raise no_support("virConnectGetAllDomainStats")

    def domain_list_get_stats(self, doms: list[Domain], stats: int,
                              flags: int = 0) -> list[tuple[Domain, list[tuple[str, object]]]]:
        raise no_support("virDomainListGetStats")

    def get_cpu_map(self) -> list[bool]:
        """virNodeGetCPUMap: one entry per host CPU, True when it is online."""
        raise no_support("virNodeGetCPUMap")

    # events
    def domain_event_listener(self, domain: Domain | None) -> EventListener:
        """Start listening for domain events (of one domain, or of all); see EventListener."""
        raise no_support("virConnectDomainEventRegisterAny")

    def qemu_monitor_event_listener(self, domain: Domain | None) -> EventListener:
        """Start listening for QEMU's monitor events, passed on as QEMU sends them."""
        raise no_support("virConnectDomainQemuMonitorEventRegister")

    def network_event_listener(self, network: Network | None) -> EventListener:
        """Start listening for network lifecycle events (of one network, or of all): next()
        gives (network name, "lifecycle", event, detail), libvirt's virNetworkEventLifecycleType."""
        raise no_support("virConnectNetworkEventRegisterAny")


class EventListener:
    """Events as they happen, from the moment the listener was made.

    next() gives a tuple (domain name, kind, *values): for domain events kind is one of
    virsh's event names ('lifecycle', 'reboot', 'block-job', ...) with libvirt's numbers as
    the values (drivers/qemu/events.py lists them); for QEMU monitor events it is QEMU's
    event name, followed by seconds, microseconds and the event's data as JSON text (or None).
    """

    def next(self, timeout: float | None) -> tuple | None:
        """The next event, waiting at most timeout seconds (None: no limit); None on timeout."""
        import time
        if timeout is None:
            while True:
                time.sleep(3600)
        time.sleep(timeout)
        return None

    def close(self) -> None:
        pass


class ConsoleStream:
    """An open console (the virStream virDomainOpenConsole connects): bytes to and from a
    guest's character device, without blocking.

    The caller polls fileno() for reading (and for writing while send() takes less than
    it is given), and also event_fds() for reading: either being readable means recv()
    has something to say.
    """

    def fileno(self) -> int:
        raise NotImplementedError

    def event_fds(self) -> list[int]:
        return []

    def recv(self, size: int) -> bytes | None:
        """Bytes from the guest; None when there are none yet; b"" when the device is gone
        (the domain stopped). Raises DriverError when the session was ended from outside
        (another console took it over)."""
        raise NotImplementedError

    def send(self, data: bytes) -> int:
        """Bytes to the guest: how many were taken (0 when the device cannot take more now)."""
        raise NotImplementedError

    def close(self) -> None:
        """End the session and give the device up."""


class Domain(DomainExtensions):
    """A domain handle (virDomain)."""

    name: str = ""
    uuid: str = ""

    def connection(self) -> Connection:
        raise NotImplementedError

    def get_id(self) -> int:
        """-1 when the domain is not running."""
        raise no_support("virDomainGetID")

    def get_info(self) -> DomainInfo:
        raise no_support("virDomainGetInfo")

    def get_state(self) -> tuple[int, int]:
        """(DomainState, reason)."""
        raise no_support("virDomainGetState")

    def get_os_type(self) -> str:
        raise no_support("virDomainGetOSType")

    def is_active(self) -> bool:
        """virDomainIsActive."""
        return self.get_id() != -1

    def is_persistent(self) -> bool:
        raise no_support("virDomainIsPersistent")

    def get_autostart(self) -> bool:
        raise no_support("virDomainGetAutostart")

    def has_managed_save(self) -> bool:
        raise no_support("virDomainHasManagedSaveImage")

    def get_security_label(self) -> SecurityLabel:
        raise no_support("virDomainGetSecurityLabel")

    def get_messages(self) -> list[str]:
        """Taint and deprecation messages."""
        raise no_support("virDomainGetMessages")

    def get_title(self) -> str:
        """virDomainGetMetadata(VIR_DOMAIN_METADATA_TITLE); "" when the domain has none."""
        raise no_support("virDomainGetMetadata")

    def get_xml_desc(self, flags: int = 0) -> str:
        raise no_support("virDomainGetXMLDesc")

    # lifecycle
    def create(self, flags: int = 0) -> None:
        raise no_support_flagged("virDomainCreate", "virDomainCreateWithFlags", flags)

    def destroy(self, flags: int = 0) -> None:
        raise no_support_flagged("virDomainDestroy", "virDomainDestroyFlags", flags)

    def shutdown(self, flags: int = 0) -> None:
        raise no_support_flagged("virDomainShutdown", "virDomainShutdownFlags", flags)

    def reboot(self, flags: int = 0) -> None:
        raise no_support("virDomainReboot")

    def suspend(self) -> None:
        raise no_support("virDomainSuspend")

    def resume(self) -> None:
        raise no_support("virDomainResume")

    def undefine(self, flags: int = 0) -> None:
        raise no_support("virDomainUndefineFlags")

    # saved state, managed save
    @writes("virDomainSaveFlags")
    def save(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        """Save the running domain's RAM to path and stop it (flags: SaveRestoreFlags)."""
        raise no_support("virDomainSaveFlags")

    @writes("virDomainManagedSave")
    def managed_save(self, flags: int = 0) -> None:
        raise no_support("virDomainManagedSave")

    @writes("virDomainManagedSaveRemove")
    def managed_save_remove(self, flags: int = 0) -> None:
        raise no_support("virDomainManagedSaveRemove")

    def managed_save_get_xml_desc(self, flags: int = 0) -> str:
        raise no_support("virDomainManagedSaveGetXMLDesc")

    @writes("virDomainManagedSaveDefineXML")
    def managed_save_define_xml(self, xml: str, flags: int = 0) -> None:
        raise no_support("virDomainManagedSaveDefineXML")

    # resources and descriptive data
    @writes("virDomainSetMemoryFlags")
    def set_memory_flags(self, memory_kib: int, flags: int = 0) -> None:
        """flags: ModificationImpact, MemoryFlags.MAXIMUM for the maximum."""
        raise no_support("virDomainSetMemoryFlags")

    @writes("virDomainSetVcpusFlags")
    def set_vcpus_flags(self, count: int, flags: int = 0) -> None:
        """flags: ModificationImpact and VcpuFlags."""
        raise no_support("virDomainSetVcpusFlags")

    def get_metadata(self, kind: int, uri: str | None = None, flags: int = 0) -> str:
        """kind: MetadataType; flags: ModificationImpact."""
        raise no_support("virDomainGetMetadata")

    @writes("virDomainSetMetadata")
    def set_metadata(self, kind: int, metadata: str | None, key: str | None = None, uri: str | None = None,
                     flags: int = 0) -> None:
        raise no_support("virDomainSetMetadata")

    @writes("virDomainRename")
    def rename(self, new_name: str, flags: int = 0) -> None:
        raise no_support("virDomainRename")

    @writes("virDomainSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        raise no_support("virDomainSetAutostart")

    # console
    @writes("virDomainOpenConsole")
    def open_console(self, dev_name: str | None, flags: int = 0) -> ConsoleStream:
        """The console (dev_name None) or the serial/console/parallel device with that alias,
        opened for this session alone; flags are ConsoleFlags."""
        raise no_support("virDomainOpenConsole")

    # disks and block jobs
    def get_block_info(self, disk: str) -> BlockInfo:
        raise no_support("virDomainGetBlockInfo")

    @writes("virDomainBlockPull")
    def block_pull(self, disk: str, bandwidth: int, flags: int = 0) -> None:
        raise no_support("virDomainBlockPull")

    @writes("virDomainBlockRebase")
    def block_rebase(self, disk: str, base: str | None, bandwidth: int, flags: int = 0) -> None:
        raise no_support("virDomainBlockRebase")

    @writes("virDomainBlockCommit")
    def block_commit(self, disk: str, base: str | None, top: str | None,
                     bandwidth: int, flags: int = 0) -> None:
        raise no_support("virDomainBlockCommit")

    @writes("virDomainBlockCopy")
    def block_copy(self, disk: str, dest_xml: str, params: dict, flags: int = 0) -> None:
        raise no_support("virDomainBlockCopy")

    def get_block_job_info(self, disk: str, flags: int = 0) -> BlockJobInfo | None:
        raise no_support("virDomainGetBlockJobInfo")

    @writes("virDomainBlockJobAbort")
    def block_job_abort(self, disk: str, flags: int = 0) -> None:
        raise no_support("virDomainBlockJobAbort")

    @writes("virDomainBlockJobSetSpeed")
    def block_job_set_speed(self, disk: str, bandwidth: int, flags: int = 0) -> None:
        raise no_support("virDomainBlockJobSetSpeed")

    @writes("virDomainBlockResize")
    def block_resize(self, disk: str, size: int, flags: int = 0) -> None:
        raise no_support("virDomainBlockResize")

    # devices: libvirt's plain calls mean DeviceModifyFlags.LIVE; virsh picks the *Flags
    # call whenever an --live/--config/--current/--persistent option is given
    @writes("virDomainAttachDevice")
    def attach_device(self, xml: str) -> None:
        raise no_support("virDomainAttachDevice")

    @writes("virDomainAttachDeviceFlags")
    def attach_device_flags(self, xml: str, flags: int = 0) -> None:
        raise no_support("virDomainAttachDeviceFlags")

    @writes("virDomainDetachDevice")
    def detach_device(self, xml: str) -> None:
        raise no_support("virDomainDetachDevice")

    @writes("virDomainDetachDeviceFlags")
    def detach_device_flags(self, xml: str, flags: int = 0) -> None:
        raise no_support("virDomainDetachDeviceFlags")

    @writes("virDomainUpdateDeviceFlags")
    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        raise no_support("virDomainUpdateDeviceFlags")

    # guest agent
    def fs_freeze(self, mountpoints: list[str], flags: int = 0) -> int:
        """Freeze the guest's file systems (all when mountpoints is empty); how many froze."""
        raise no_support("virDomainFSFreeze")

    def fs_thaw(self, mountpoints: list[str], flags: int = 0) -> int:
        raise no_support("virDomainFSThaw")

    def get_fs_info(self, flags: int = 0) -> list[FSInfo]:
        raise no_support("virDomainGetFSInfo")

    def get_time(self, flags: int = 0) -> tuple[int, int]:
        """The guest's clock: (seconds, nanoseconds) since the epoch."""
        raise no_support("virDomainGetTime")

    def set_time(self, seconds: int, nseconds: int, flags: int = 0) -> None:
        """flags: SetTimeFlags (SYNC: the guest reads its own RTC, the time is ignored)."""
        raise no_support("virDomainSetTime")

    def get_guest_info(self, types: int, flags: int = 0) -> list[list]:
        """virDomainGetGuestInfo's typed parameters, in order: [field, value] pairs
        (value a str, an int or a bool)."""
        raise no_support("virDomainGetGuestInfo")

    def get_guest_vcpus(self, flags: int = 0) -> list[list]:
        """[field, value] pairs: vcpus, online, offlinable (cpu lists as strings)."""
        raise no_support("virDomainGetGuestVcpus")

    def set_guest_vcpus(self, cpumap: str, state: bool, flags: int = 0) -> None:
        raise no_support("virDomainSetGuestVcpus")

    def set_user_password(self, user: str, password: str, flags: int = 0) -> None:
        """flags: UserPasswordFlags."""
        raise no_support("virDomainSetUserPassword")

    def interface_addresses(self, source: int, flags: int = 0) -> list[DomainInterface]:
        """source: InterfaceAddressesSource."""
        raise no_support("virDomainInterfaceAddresses")

    def qemu_agent_command(self, command: str, timeout: int, flags: int = 0) -> str:
        """Send a raw JSON command to the guest agent; its whole reply as JSON text.
        timeout: seconds, or AgentCommandTimeout."""
        raise no_support("virDomainQemuAgentCommand")

    # monitor, display and keyboard
    @writes("virDomainQemuMonitorCommand")
    def qemu_monitor_command(self, command: str, flags: int = 0, fds: list[int] | None = None) -> str:
        """Send a raw QMP command (or with QemuMonitorCommandFlags.HMP a human monitor
        command line) to QEMU; the whole reply as JSON text (the HMP output as text).
        fds travel with the command (virDomainQemuMonitorCommandWithFiles)."""
        raise no_support("virDomainQemuMonitorCommandWithFiles" if fds else "virDomainQemuMonitorCommand")

    @writes("virDomainScreenshot")
    def screenshot(self, screen: int, flags: int = 0) -> tuple[str, bytes]:
        """The screen's picture: (MIME type, image bytes)."""
        raise no_support("virDomainScreenshot")

    @writes("virDomainSendKey")
    def send_key(self, codeset: int, holdtime: int, keycodes: list[int], flags: int = 0) -> None:
        """Press and release keys (codeset: a keycodes.CODESETS index); holdtime in ms, 0: QEMU's default."""
        raise no_support("virDomainSendKey")

    def get_control_info(self, flags: int = 0) -> tuple[int, int, int]:
        """(DomainControlState, details, milliseconds in that state)."""
        raise no_support("virDomainGetControlInfo")

    def get_job_stats(self, flags: int = 0) -> dict:
        """The current (or with JobStatsFlags.COMPLETED the last) job's typed parameters;
        'type' is libvirt's virDomainJobType number."""
        raise no_support("virDomainGetJobStats")

    # snapshots
    def snapshot_create_xml(self, xml: str, flags: int = 0) -> Snapshot:
        raise no_support("virDomainSnapshotCreateXML")

    def list_all_snapshots(self, flags: int = 0) -> list[Snapshot]:
        raise no_support("virDomainListAllSnapshots")

    def snapshot_lookup_by_name(self, name: str) -> Snapshot:
        raise no_support("virDomainSnapshotLookupByName")

    def has_current_snapshot(self) -> bool:
        raise no_support("virDomainHasCurrentSnapshot")

    def snapshot_current(self) -> Snapshot:
        raise no_support("virDomainSnapshotCurrent")

    # statistics
    def block_stats(self, disk: str) -> BlockStats:
        """disk: a target or source path; '' asks for the sum over all disks."""
        raise no_support("virDomainBlockStats")

    def block_stats_flags(self, disk: str, flags: int = 0) -> list[tuple[str, int]]:
        """The typed parameters of virDomainBlockStatsFlags, in the driver's order."""
        raise no_support("virDomainBlockStatsFlags")

    def interface_stats(self, device: str) -> InterfaceStats:
        """device: the host-side name (<target dev>) or the MAC address."""
        raise no_support("virDomainInterfaceStats")

    def memory_stats(self, flags: int = 0) -> list[tuple[str, int]]:
        """(MEMORY_STAT_NAMES word, value) pairs in the driver's order."""
        raise no_support("virDomainMemoryStats")

    @writes("virDomainSetMemoryStatsPeriod")
    def set_memory_stats_period(self, period: int, flags: int = 0) -> None:
        """flags: ModificationImpact."""
        raise no_support("virDomainSetMemoryStatsPeriod")

    def get_disk_errors(self) -> list[tuple[str, int]]:
        """(disk target, DiskErrorCode) for each disk with an error."""
        raise no_support("virDomainGetDiskErrors")

    def get_cpu_stats(self, start_cpu: int, ncpus: int, flags: int = 0) -> list[list[tuple[str, object]]]:
        """start_cpu -1: one list, the totals; else one list per CPU from start_cpu (an empty
        list for a CPU the domain may not use). ncpus 0 with start_cpu 0 asks for the number
        of host CPUs instead: [[("count", n)]]."""
        raise no_support("virDomainGetCPUStats")

    def get_vcpus(self) -> tuple[list[VcpuInfo], list[list[bool]]]:
        """Each active vCPU's info and its affinity over the host CPUs."""
        raise no_support("virDomainGetVcpus")

    def get_vcpu_pin_info(self, flags: int = 0) -> list[list[bool]]:
        """The configured affinity of each vCPU; flags: ModificationImpact."""
        raise no_support("virDomainGetVcpuPinInfo")

    def get_vcpus_flags(self, flags: int = 0) -> int:
        """flags: ModificationImpact and VcpuFlags (MAXIMUM, GUEST)."""
        raise no_support("virDomainGetVcpusFlags")


class Snapshot:
    """A domain snapshot handle (virDomainSnapshot)."""

    name: str = ""

    def get_xml_desc(self, flags: int = 0) -> str:
        raise no_support("virDomainSnapshotGetXMLDesc")

    def get_parent(self) -> Snapshot:
        raise no_support("virDomainSnapshotGetParent")

    def is_current(self) -> bool:
        raise no_support("virDomainSnapshotIsCurrent")

    def has_metadata(self) -> bool:
        raise no_support("virDomainSnapshotHasMetadata")

    def list_all_children(self, flags: int = 0) -> list[Snapshot]:
        raise no_support("virDomainSnapshotListAllChildren")

    def delete(self, flags: int = 0) -> None:
        raise no_support("virDomainSnapshotDelete")

    def revert(self, flags: int = 0) -> None:
        raise no_support("virDomainRevertToSnapshot")


class StoragePool:
    """A storage pool handle (virStoragePool); name and uuid are the handle's own."""

    name: str = ""
    uuid: str = ""

    def connection(self) -> Connection:
        raise NotImplementedError

    def get_info(self) -> StoragePoolInfo:
        raise no_support("virStoragePoolGetInfo")

    def is_active(self) -> bool:
        raise no_support("virStoragePoolIsActive")

    def is_persistent(self) -> bool:
        raise no_support("virStoragePoolIsPersistent")

    def get_autostart(self) -> bool:
        raise no_support("virStoragePoolGetAutostart")

    def list_all_volumes(self, flags: int = 0) -> list[StorageVol]:
        raise no_support("virStoragePoolListAllVolumes")

    def num_of_volumes(self) -> int:
        """The call virsh falls back on without virStoragePoolListAllVolumes."""
        raise no_support("virStoragePoolNumOfVolumes")

    def lookup_vol_by_name(self, name: str) -> StorageVol:
        raise no_support("virStorageVolLookupByName")

    @writes("virStorageVolCreateXML")
    def create_vol_xml(self, xml: str, flags: int = 0) -> StorageVol:
        """A new volume from its XML; flags are VolCreateFlags."""
        raise no_support("virStorageVolCreateXML")

    def get_xml_desc(self, flags: int = 0) -> str:
        """flags are StorageXMLFlags."""
        raise no_support("virStoragePoolGetXMLDesc")

    @writes("virStoragePoolCreate")
    def create(self, flags: int = 0) -> None:
        """Start the pool; flags are StoragePoolCreateFlags."""
        raise no_support("virStoragePoolCreate")

    @writes("virStoragePoolBuild")
    def build(self, flags: int = 0) -> None:
        """flags are StoragePoolBuildFlags."""
        raise no_support("virStoragePoolBuild")

    @writes("virStoragePoolDestroy")
    def destroy(self) -> None:
        raise no_support("virStoragePoolDestroy")

    @writes("virStoragePoolDelete")
    def delete(self, flags: int = 0) -> None:
        raise no_support("virStoragePoolDelete")

    @writes("virStoragePoolUndefine")
    def undefine(self) -> None:
        raise no_support("virStoragePoolUndefine")

    @writes("virStoragePoolSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        raise no_support("virStoragePoolSetAutostart")

    @writes("virStoragePoolRefresh")
    def refresh(self, flags: int = 0) -> None:
        raise no_support("virStoragePoolRefresh")

    @writes("virStorageVolCreateXMLFrom")
    def create_vol_xml_from(self, xml: str, clone: StorageVol, flags: int = 0) -> StorageVol:
        """A new volume from its XML holding a copy of clone's data; flags are VolCreateFlags."""
        raise no_support("virStorageVolCreateXMLFrom")


class StorageVol:
    """A storage volume handle (virStorageVol); name and key are the handle's own."""

    name: str = ""
    key: str = ""

    def connection(self) -> Connection:
        raise NotImplementedError

    def lookup_pool(self) -> StoragePool:
        """The pool holding the volume."""
        raise no_support("virStoragePoolLookupByVolume")

    def get_path(self) -> str:
        raise no_support("virStorageVolGetPath")

    def get_info(self) -> StorageVolInfo:
        raise no_support("virStorageVolGetInfo")

    def get_info_flags(self, flags: int) -> StorageVolInfo:
        """flags are VolGetInfoFlags (PHYSICAL: the allocation field holds the physical size)."""
        raise no_support("virStorageVolGetInfoFlags")

    def get_xml_desc(self, flags: int = 0) -> str:
        raise no_support("virStorageVolGetXMLDesc")

    @writes("virStorageVolDelete")
    def delete(self, flags: int = 0) -> None:
        raise no_support("virStorageVolDelete")

    @writes("virStorageVolWipe")
    def wipe(self, flags: int = 0) -> None:
        """Overwrite the volume with zeros (virsh's vol-wipe without --algorithm)."""
        raise no_support("virStorageVolWipe")

    @writes("virStorageVolWipePattern")
    def wipe_pattern(self, algorithm: int, flags: int = 0) -> None:
        """algorithm is an index into VOL_WIPE_ALGORITHMS."""
        raise no_support("virStorageVolWipePattern")

    @writes("virStorageVolResize")
    def resize(self, capacity: int, flags: int = 0) -> None:
        """flags are VolResizeFlags."""
        raise no_support("virStorageVolResize")

    @writes("virStorageVolUpload")
    def upload(self, local_path: str, offset: int, length: int, flags: int = 0) -> None:
        """The bytes of local_path written into the volume at offset (length 0: all of them).

        libvirt streams them; a daemonless driver reads the file itself."""
        raise no_support("virStorageVolUpload")

    def download(self, local_fd: int, offset: int, length: int, flags: int = 0) -> None:
        """The volume's bytes from offset (length 0: to its end) written to local_fd."""
        raise no_support("virStorageVolDownload")


class Network:
    """A virtual network handle (virNetwork); name and uuid are the handle's own."""

    name: str = ""
    uuid: str = ""

    def connection(self) -> Connection:
        raise NotImplementedError

    def is_active(self) -> bool:
        raise no_support("virNetworkIsActive")

    def is_persistent(self) -> bool:
        raise no_support("virNetworkIsPersistent")

    def get_autostart(self) -> bool:
        raise no_support("virNetworkGetAutostart")

    def get_bridge_name(self) -> str:
        raise no_support("virNetworkGetBridgeName")

    def get_xml_desc(self, flags: int = 0) -> str:
        """flags are NetworkXMLFlags."""
        raise no_support("virNetworkGetXMLDesc")

    @writes("virNetworkCreate")
    def create(self) -> None:
        raise no_support("virNetworkCreate")

    @writes("virNetworkDestroy")
    def destroy(self) -> None:
        raise no_support("virNetworkDestroy")

    @writes("virNetworkUndefine")
    def undefine(self) -> None:
        raise no_support("virNetworkUndefine")

    @writes("virNetworkSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        raise no_support("virNetworkSetAutostart")

    @writes("virNetworkUpdate")
    def update(self, command: int, section: int, parent_index: int, xml: str, flags: int = 0) -> None:
        """command and section index NETWORK_UPDATE_COMMANDS and NETWORK_SECTIONS; flags are
        NetworkUpdateFlags."""
        raise no_support("virNetworkUpdate")

    def get_dhcp_leases(self, mac: str | None, flags: int = 0) -> list[NetworkDHCPLease]:
        raise no_support("virNetworkGetDHCPLeases")

    def list_all_ports(self, flags: int = 0) -> list[NetworkPort]:
        raise no_support("virNetworkListAllPorts")

    def port_lookup_by_uuid(self, uuid: str) -> NetworkPort:
        raise no_support("virNetworkPortLookupByUUID")

    @writes("virNetworkPortCreateXML")
    def port_create_xml(self, xml: str, flags: int = 0) -> NetworkPort:
        raise no_support("virNetworkPortCreateXML")


class NetworkPort:
    """A port of a virtual network (virNetworkPort): one guest interface plugged into it; uuid
    is the handle's own."""

    uuid: str = ""

    def connection(self) -> Connection:
        raise NotImplementedError

    def get_xml_desc(self, flags: int = 0) -> str:
        raise no_support("virNetworkPortGetXMLDesc")

    @writes("virNetworkPortDelete")
    def delete(self, flags: int = 0) -> None:
        raise no_support("virNetworkPortDelete")


class TreeSnapshot(Snapshot):
    """A snapshot handle over a driver-kept SnapshotTree (drivers/snapshots.py).

    Both drivers keep snapshots the same way and differ only in where the tree
    lives (memory, or a metadata file next to the domain), which `_tree` says.
    Every call looks the snapshot up again, so a handle to a deleted snapshot
    fails with libvirt's 'no domain snapshot' error. `_tree` is called on every
    call and must be cheap: a driver that keeps the tree in a file parses it
    again only when the file changed (see qemu/snapshots.py). The tree it
    returns is for reading only.
    """

    def __init__(self, dom: Domain, name: str):
        self.dom = dom
        self.name = name

    def _tree(self):
        raise NotImplementedError

    def connection(self):
        return self.dom.conn

    def get_xml_desc(self, flags: int = 0) -> str:
        return self._tree().get(self.name).to_xml()

    def get_parent(self) -> Snapshot:
        snap = self._tree().get(self.name)
        if snap.parent is None:
            raise DriverError(ErrorCode.NO_DOMAIN_SNAPSHOT, "snapshot '%s' does not have a parent" % self.name)
        return type(self)(self.dom, snap.parent)

    def is_current(self) -> bool:
        tree = self._tree()
        tree.get(self.name)
        return tree.current == self.name

    def has_metadata(self) -> bool:
        self._tree().get(self.name)
        return True

    def list_all_children(self, flags: int = 0) -> list[Snapshot]:
        tree = self._tree()
        tree.get(self.name)
        return [type(self)(self.dom, s.name) for s in tree.filtered(self.name, flags)]



# --------------------------------------------------------------------------
# Checks libvirt's public API makes before any driver sees a call
# --------------------------------------------------------------------------

_FLAG_NAMES = {
    (SnapshotCreateFlags, SnapshotCreateFlags.REDEFINE): "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
    (SnapshotCreateFlags, SnapshotCreateFlags.CURRENT): "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT",
    (SnapshotCreateFlags, SnapshotCreateFlags.LIVE): "VIR_DOMAIN_SNAPSHOT_CREATE_LIVE",
    (SnapshotCreateFlags, SnapshotCreateFlags.HALT): "VIR_DOMAIN_SNAPSHOT_CREATE_HALT",
    (SnapshotDeleteFlags, SnapshotDeleteFlags.CHILDREN): "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
    (SnapshotDeleteFlags, SnapshotDeleteFlags.CHILDREN_ONLY): "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY",
    (SnapshotRevertFlags, SnapshotRevertFlags.RUNNING): "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
    (SnapshotRevertFlags, SnapshotRevertFlags.PAUSED): "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED",
}


def _flag_name(kind, bit) -> str:
    return _FLAG_NAMES[(kind, bit)]


def _exclusive_flags(flags, kind, a, b):
    if flags & a and flags & b:
        raise DriverError(ErrorCode.RAW, "Flags '%s' and '%s' are mutually exclusive"
                          % (_flag_name(kind, a), _flag_name(kind, b)))


def check_snapshot_create_flags(flags: int) -> None:
    F = SnapshotCreateFlags
    if flags & F.CURRENT and not flags & F.REDEFINE:
        raise DriverError(ErrorCode.RAW, "Flag '%s' is required by flag '%s'"
                          % (_flag_name(F, F.REDEFINE), _flag_name(F, F.CURRENT)))
    _exclusive_flags(flags, F, F.LIVE, F.REDEFINE)
    _exclusive_flags(flags, F, F.HALT, F.REDEFINE)


def check_save_flags(flags: int) -> None:
    """virDomainSaveFlags, virDomainRestoreFlags, virDomainManagedSave, virDomainSaveImageDefineXML."""
    if flags & SaveRestoreFlags.RUNNING and flags & SaveRestoreFlags.PAUSED:
        raise DriverError(ErrorCode.RAW, "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' "
                          "are mutually exclusive")


def check_snapshot_delete_flags(flags: int) -> None:
    F = SnapshotDeleteFlags
    _exclusive_flags(flags, F, F.CHILDREN, F.CHILDREN_ONLY)


def check_snapshot_revert_flags(flags: int) -> None:
    F = SnapshotRevertFlags
    _exclusive_flags(flags, F, F.RUNNING, F.PAUSED)
