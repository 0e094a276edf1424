"""Statistics of QEMU domains as libvirt 9.0's QEMU driver reports them (qemuDomainGetStats*,
qemuDomainBlockStats*, qemuDomainMemoryStats, ...), field names and order included.

What QEMU knows (block I/O, image sizes, balloon, vCPU threads, dirty rate) is asked in ONE
monitor connection per domain with only the queries the requested groups need; what the host
knows (CPU times, scheduler delays, tap counters, resident memory) comes from /proc. A cached
backing chain is numbered and named from the live status XML (chaincache), never re-probed.
"""

from __future__ import annotations

import os

from ..api import (BlockStats, DiskErrorCode, DomainState, DriverError, ErrorCode, InterfaceStats,
                   ModificationImpact, StatsFlags, StatsTypes, VcpuFlags, VcpuInfo, check_flags,
                   stats_filter_matches, writes)

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..domxml import DomainDef
    from .qmp import QMP
    from .status import Status

_ALL_GROUPS = (1 << 11) - 1
_ALL_FILTERS = (StatsFlags.ACTIVE | StatsFlags.INACTIVE | StatsFlags.PERSISTENT | StatsFlags.TRANSIENT
                | StatsFlags.RUNNING | StatsFlags.PAUSED | StatsFlags.SHUTOFF | StatsFlags.OTHER)
_TICK_NS = 1000000000 // os.sysconf("SC_CLK_TCK")

# QEMU's balloon statistics -> libvirt's memory stat words, in the order libvirt reports them
# (recorded from a guest's driver: last_update, QEMU's time of the guest's last report, comes
# right after usable).
_BALLOON_STATS = [("stat-swap-in", "swap_in"), ("stat-swap-out", "swap_out"),
                  ("stat-major-faults", "major_fault"), ("stat-minor-faults", "minor_fault"),
                  ("stat-free-memory", "unused"), ("stat-total-memory", "available"),
                  ("stat-available-memory", "usable"), ("last-update", "last_update"),
                  ("stat-disk-caches", "disk_caches"),
                  ("stat-htlb-pgalloc", "hugetlb_pgalloc"), ("stat-htlb-pgfail", "hugetlb_pgfail")]
# dommemstat's words -> domstats' balloon.* names where they differ.
_DOMSTATS_BALLOON_NAMES = {"last_update": "last-update"}
# query-blockstats fields -> virDomainBlockStatsFlags' typed parameters.
_BLOCK_FIELDS = [("rd_bytes", "rd_bytes"), ("rd_operations", "rd_operations"),
                 ("rd_total_time_ns", "rd_total_times"), ("wr_bytes", "wr_bytes"),
                 ("wr_operations", "wr_operations"), ("wr_total_time_ns", "wr_total_times"),
                 ("flush_operations", "flush_operations"), ("flush_total_time_ns", "flush_total_times")]
_DIRTYRATE_STATUS = {"unstarted": 0, "measuring": 1, "measured": 2}
_BALLOON_QOM = {"path": "/machine/peripheral/balloon0", "property": "guest-stats"}
# The monitor queries each group needs, asked together in one round trip.
_GROUP_QUERIES: list[tuple[int, list[tuple[str, dict | None]]]] = [
    (StatsTypes.BALLOON, [("query-balloon", None), ("qom-get", _BALLOON_QOM)]),
    (StatsTypes.VCPU, [("query-cpus-fast", None)]),
    (StatsTypes.BLOCK, [("query-blockstats", None), ("query-named-block-nodes", {"flat": True})]),
    (StatsTypes.DIRTYRATE, [("query-dirty-rate", None)]),
]
_MONITOR_GROUPS = StatsTypes.BALLOON | StatsTypes.VCPU | StatsTypes.BLOCK | StatsTypes.DIRTYRATE


def _invalid(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, message)


# ---------------------------------------------------------------------------
# what the host knows, from /proc
# ---------------------------------------------------------------------------

def _proc_stat(path: str) -> list[bytes]:
    """The fields of a /proc/.../stat file after the command name (field 3 is index 0)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    return data[data.rfind(b")") + 2:].split()


def _user_system_ns(fields: list[bytes]) -> tuple[int, int]:
    if len(fields) < 13:
        return 0, 0
    return int(fields[11]) * _TICK_NS, int(fields[12]) * _TICK_NS


def _schedstat(path: str) -> tuple[int, int]:
    """(time on CPU, time waiting for a CPU) in ns."""
    try:
        with open(path) as f:
            run, wait = f.read().split()[:2]
        return int(run), int(wait)
    except (OSError, ValueError):
        return 0, 0


def _rss_kib(pid: int) -> int:
    fields = _proc_stat("/proc/%d/stat" % pid)
    return int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024 if len(fields) > 21 else 0


def _tap_counters(ifname: str) -> list[int] | None:
    """The host's /proc/net/dev counters of a device: rx bytes, packets, errs, drop, tx the same."""
    try:
        with open("/proc/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return None
    for line in lines:
        name, _, rest = line.partition(":")
        if name.strip() == ifname:
            v = [int(x) for x in rest.split()]
            return [v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]]
    return None


def host_cpu_map() -> list[bool]:
    """The host's present CPUs, True where online (virNodeGetCPUMap)."""
    def parse(path: str) -> set[int]:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            return set()
        cpus: set[int] = set()
        for part in filter(None, text.split(",")):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
        return cpus

    present = parse("/sys/devices/system/cpu/present") or set(range(os.cpu_count() or 1))
    online = parse("/sys/devices/system/cpu/online") or present
    return [cpu in online for cpu in range(max(present) + 1)]


# ---------------------------------------------------------------------------
# what QEMU knows: one monitor connection, the queries the groups need
# ---------------------------------------------------------------------------

class _Monitor:
    """The replies of one monitor connection, each query asked at most once."""

    def __init__(self, q: QMP | None):
        self.q = q
        self.replies: dict[str, Any] = {}

    def prefetch(self, queries: list[tuple[str, dict | None]]) -> None:
        """Ask all these at once (one round trip); get() then answers from the replies."""
        if self.q is None or not queries:
            return
        try:
            results = self.q.execute_many(queries)
        except DriverError:
            return
        for (command, arguments), result in zip(queries, results):
            self.replies[command + repr(arguments)] = None if isinstance(result, DriverError) else result

    def get(self, command: str, arguments: dict | None = None):
        key = command + repr(arguments)
        if key not in self.replies:
            if self.q is None:
                self.replies[key] = None
            else:
                try:
                    self.replies[key] = self.q.execute(command, arguments)
                except DriverError:
                    self.replies[key] = None
        return self.replies[key]


def _disk_alias(disk) -> str:
    alias = disk.el.find("alias")
    return alias.get("name") if alias is not None else ""


def _backend_stats(mon: _Monitor, alias: str) -> dict | None:
    """query-blockstats' entry of the device with that id (its BlockBackend's I/O counters)."""
    for entry in mon.get("query-blockstats") or []:
        qdev = entry.get("qdev") or entry.get("device") or ""
        if qdev == alias or qdev.startswith("/machine/peripheral/%s/" % alias):
            return entry
    return None


def _node_images(mon: _Monitor) -> dict[str, dict]:
    """node-name -> the 'image' QEMU reports for it (virtual-size, actual-size)."""
    nodes = mon.get("query-named-block-nodes", {"flat": True}) or []
    return {node.get("node-name"): node.get("image") or {} for node in nodes}


def _io_params(prefix: str, stats: dict) -> list[tuple[str, object]]:
    return [(prefix + "rd.reqs", stats.get("rd_operations", 0)), (prefix + "rd.bytes", stats.get("rd_bytes", 0)),
            (prefix + "rd.times", stats.get("rd_total_time_ns", 0)),
            (prefix + "wr.reqs", stats.get("wr_operations", 0)), (prefix + "wr.bytes", stats.get("wr_bytes", 0)),
            (prefix + "wr.times", stats.get("wr_total_time_ns", 0)),
            (prefix + "fl.reqs", stats.get("flush_operations", 0)),
            (prefix + "fl.times", stats.get("flush_total_time_ns", 0))]


class QemuConnectionStats:
    """domstats over every domain of the connection (or the ones given)."""

    if TYPE_CHECKING:
        def list_all_domains(self) -> list[Any]: ...

    def get_all_domain_stats(self, stats: int, flags: int = 0):
        return self._domain_stats(self.list_all_domains(), stats, flags)

    def domain_list_get_stats(self, doms, stats: int, flags: int = 0):
        return self._domain_stats(doms, stats, flags)

    def _domain_stats(self, doms, stats: int, flags: int):
        check_flags(flags, _ALL_FILTERS | StatsFlags.ENFORCE_STATS | StatsFlags.BACKING | StatsFlags.NOWAIT,
                    "qemuConnectGetAllDomainStats")
        if flags & StatsFlags.ENFORCE_STATS and stats & ~_ALL_GROUPS:
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "Stats types bits 0x%x are not supported by "
                              "this daemon or QEMU" % (stats & ~_ALL_GROUPS))
        groups = stats & _ALL_GROUPS or _ALL_GROUPS
        chosen = []
        for dom in doms:
            try:
                if stats_filter_matches(flags, dom):
                    chosen.append(dom)
            except DriverError as err:
                if err.code is not ErrorCode.NO_DOMAIN:     # undefined meanwhile: libvirt lists
                    raise                                   # the domains it still has
        results: list = [None] * len(chosen)

        def collect(i: int) -> None:
            try:
                results[i] = chosen[i].collect_stats(groups, flags)
            except DriverError as err:
                results[i] = err

        running = [i for i, dom in enumerate(chosen) if dom.is_active()]
        if len(running) > 1 and groups & _MONITOR_GROUPS:
            # Each QEMU answers in its own time: ask them all at once, not one after another.
            import threading
            threads = [threading.Thread(target=collect, args=(i,)) for i in running]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for i in range(len(chosen)):
            if results[i] is None:
                collect(i)
        records = []
        for dom, result in zip(chosen, results):
            if isinstance(result, DriverError):
                if result.code is ErrorCode.NO_DOMAIN:
                    continue
                raise result
            records.append((dom, result))
        return records

    def get_cpu_map(self) -> list[bool]:
        return host_cpu_map()


class QemuStats:
    """The statistics calls of QemuDomain."""

    if TYPE_CHECKING:
        name: str
        status: Status | None
        config: DomainDef | None

        def locked(self, strict: bool | None = None) -> Any: ...
        def qmp(self) -> QMP: ...
        def refresh(self, locked: bool = False, must_exist: bool = True, strict: bool | None = None) -> None: ...
        def get_definition(self, inactive: bool = False) -> DomainDef: ...
        def get_state(self) -> tuple[int, int]: ...
        def _require_active(self) -> Status: ...
        def _defs(self, flags: int) -> tuple[DomainDef | None, DomainDef | None]: ...
        def _write_definitions(self, live: DomainDef | None, persistent: DomainDef | None) -> None: ...
        def _agent_call(self, execute: str, arguments: dict | None = None, seconds: int = ...,
                        report_unsupported: bool = True) -> Any: ...

    def _running_status(self) -> Status:
        self.refresh(must_exist=True, strict=False)
        return self._require_active()

    def _monitor(self):
        """One monitor connection for a batch of queries; None when QEMU does not answer."""
        try:
            return self.qmp()
        except DriverError:
            return None

    # ------------------------------------------------------------------
    # domstats
    # ------------------------------------------------------------------

    def collect_stats(self, groups: int, flags: int) -> list[tuple[str, object]]:
        """One domain's record of domstats: the groups asked for, in libvirt's order."""
        status = self.status
        if status is None:
            return self._inactive_stats(groups)
        q = self._monitor() if groups & _MONITOR_GROUPS else None
        mon = _Monitor(q)
        mon.prefetch([query for group, queries in _GROUP_QUERIES for query in queries if groups & group])
        try:
            return self._active_stats(status, mon, groups, flags)
        finally:
            if q is not None:
                q.close()

    def _active_stats(self, status: Status, mon: _Monitor, groups: int, flags: int) -> list[tuple[str, object]]:
        definition = status.definition
        params: list[tuple[str, object]] = []
        if groups & StatsTypes.STATE:
            params += [("state.state", status.state), ("state.reason", status.reason)]
        if groups & StatsTypes.CPU_TOTAL:
            user, system = _user_system_ns(_proc_stat("/proc/%d/stat" % status.pid))
            params += [("cpu.time", user + system), ("cpu.user", user), ("cpu.system", system),
                       ("cpu.cache.monitor.count", 0), ("cpu.haltpoll.success.time", 0),
                       ("cpu.haltpoll.fail.time", 0)]
        if groups & StatsTypes.BALLOON:
            current = self._balloon_actual(mon, definition)
            params += [("balloon.current", current), ("balloon.maximum", definition.memory_kib)]
            for name, value in self._balloon_guest_stats(mon, status.pid):
                params.append(("balloon." + _DOMSTATS_BALLOON_NAMES.get(name, name), value))
        if groups & StatsTypes.VCPU:
            params += [("vcpu.current", definition.vcpus), ("vcpu.maximum", definition.max_vcpus)]
            for n, tid in enumerate(self._vcpu_threads(mon, status.pid)[:definition.vcpus]):
                user, system = _user_system_ns(_proc_stat("/proc/%d/task/%d/stat" % (status.pid, tid)))
                params += [("vcpu.%d.state" % n, 1), ("vcpu.%d.time" % n, user + system),
                           ("vcpu.%d.wait" % n, 0),
                           ("vcpu.%d.delay" % n, _schedstat("/proc/%d/task/%d/schedstat" % (status.pid, tid))[1])]
        if groups & StatsTypes.INTERFACE:
            params += self._interface_params(definition)
        if groups & StatsTypes.BLOCK:
            params += self._block_params(definition, mon, bool(flags & StatsFlags.BACKING))
        if groups & StatsTypes.DIRTYRATE:
            rate = mon.get("query-dirty-rate")
            if rate is not None:
                params += [("dirtyrate.calc_status", _DIRTYRATE_STATUS.get(rate.get("status"), 0)),
                           ("dirtyrate.calc_start_time", rate.get("start-time", 0)),
                           ("dirtyrate.calc_period", rate.get("calc-time", 0)),
                           ("dirtyrate.calc_mode", rate.get("mode", "page-sampling"))]
                if rate.get("status") == "measured" and "dirty-rate" in rate:
                    params.append(("dirtyrate.megabytes_per_second", rate["dirty-rate"]))
        return params

    def _inactive_stats(self, groups: int) -> list[tuple[str, object]]:
        definition = self.get_definition()
        params: list[tuple[str, object]] = []
        if groups & StatsTypes.STATE:
            state, reason = self.get_state()
            params += [("state.state", state), ("state.reason", reason)]
        if groups & StatsTypes.CPU_TOTAL:
            # libvirt reads the times of "process 0", which /proc serves as its own: the
            # asking process's times (a daemon's, or virsh's in embedded mode).
            user, system = _user_system_ns(_proc_stat("/proc/self/stat"))
            params += [("cpu.time", user + system), ("cpu.user", user), ("cpu.system", system)]
        if groups & StatsTypes.BALLOON:
            params += [("balloon.current", definition.current_memory_kib),
                       ("balloon.maximum", definition.memory_kib)]
        if groups & StatsTypes.VCPU:
            params += [("vcpu.current", definition.vcpus), ("vcpu.maximum", definition.max_vcpus)]
        if groups & StatsTypes.BLOCK:
            disks = definition.disks()
            params.append(("block.count", len(disks)))
            for n, disk in enumerate(disks):
                params.append(("block.%d.name" % n, disk.target))
                if disk.source is None:
                    continue
                params.append(("block.%d.path" % n, disk.source))
                params += self._offline_sizes("block.%d." % n, disk)
        return params

    @staticmethod
    def _offline_sizes(prefix: str, disk) -> list[tuple[str, object]]:
        """A shut-off domain's image sizes: its top image's header and file, as libvirt reads them."""
        try:
            st = os.stat(disk.source)
        except OSError:
            return []
        capacity = st.st_size
        fmt = disk.driver_type or "raw"
        if fmt != "raw":
            try:
                from ..storage.probe import read_header
                capacity = read_header(disk.source, fmt).virtual_size or 0
            except (DriverError, OSError, ValueError):
                capacity = 0
        allocation = st.st_blocks * 512
        out: list[tuple[str, object]] = []
        if allocation:
            out.append((prefix + "allocation", allocation))
        if capacity:
            out.append((prefix + "capacity", capacity))
        if st.st_size:
            out.append((prefix + "physical", st.st_size))
        return out

    def _balloon_actual(self, mon: _Monitor, definition: DomainDef) -> int:
        if definition.root.find("devices/memballoon[@model='none']") is not None:
            return definition.current_memory_kib
        reply = mon.get("query-balloon")
        return reply["actual"] // 1024 if reply and "actual" in reply else definition.current_memory_kib

    @staticmethod
    def _balloon_guest_stats(mon: _Monitor, pid: int) -> list[tuple[str, int]]:
        """The guest's balloon statistics QEMU polled (those the guest gives), then last_update
        and the QEMU process's resident memory."""
        out: list[tuple[str, int]] = []
        reply = mon.get("qom-get", _BALLOON_QOM)
        if reply:
            stats = reply.get("stats") or {}
            for qemu_name, name in _BALLOON_STATS:
                if name == "last_update":
                    out.append((name, reply.get("last-update", 0)))
                    continue
                value = stats.get(qemu_name, -1)
                if 0 <= value < 1 << 63:          # QEMU sends -1 (as 2**64-1) for what the guest does not give
                    out.append((name, value // 1024 if name not in ("swap_in", "swap_out", "major_fault",
                                                                    "minor_fault", "hugetlb_pgalloc",
                                                                    "hugetlb_pgfail") else value))
        out.append(("rss", _rss_kib(pid)))
        return out

    @staticmethod
    def _vcpu_threads(mon: _Monitor, pid: int) -> list[int]:
        cpus = mon.get("query-cpus-fast") or []
        return [cpu.get("thread-id", pid) for cpu in sorted(cpus, key=lambda c: c.get("cpu-index", 0))]

    @staticmethod
    def _interface_params(definition: DomainDef) -> list[tuple[str, object]]:
        interfaces = definition.interfaces()
        params: list[tuple[str, object]] = [("net.count", len(interfaces))]
        for n, iface in enumerate(interfaces):
            target = iface.find("target")
            ifname = target.get("dev") if target is not None else None
            if not ifname:
                continue
            params.append(("net.%d.name" % n, ifname))
            counters = _tap_counters(ifname)
            if counters is None:
                continue
            # A tap's receive is the guest's transmit: libvirt swaps them.
            guest = counters[4:] + counters[:4]
            for (name, value) in zip(("rx.bytes", "rx.pkts", "rx.errs", "rx.drop",
                                      "tx.bytes", "tx.pkts", "tx.errs", "tx.drop"), guest):
                params.append(("net.%d.%s" % (n, name), value))
        return params

    def _block_params(self, definition: DomainDef, mon: _Monitor, backing: bool) -> list[tuple[str, object]]:
        from .chaincache import layers

        images = _node_images(mon)
        entries: list[list[tuple[str, object]]] = []
        for disk in definition.disks():
            chain = layers(disk.el) if disk.source is not None else []
            top_stats = _backend_stats(mon, _disk_alias(disk)) or {}
            shown = chain if backing else chain[:1]
            if not shown:
                entry: list[tuple[str, object]] = [("name", disk.target)]
                if disk.source is not None:
                    entry.append(("path", disk.source))
                if top_stats:
                    entry += _io_params("", top_stats.get("stats") or {})
                entries.append(entry)
                continue
            for depth, layer in enumerate(shown):
                entry = [("name", disk.target), ("path", layer.path), ("backingIndex", layer.index)]
                if depth == 0 and top_stats:
                    entry += _io_params("", top_stats.get("stats") or {})
                    allocation = (top_stats.get("stats") or {}).get("wr_highest_offset", 0)
                else:
                    allocation = 0
                image = images.get(layer.node_name) or {}
                entry.append(("allocation", allocation))
                if "virtual-size" in image:
                    entry.append(("capacity", image["virtual-size"]))
                if "actual-size" in image:
                    entry.append(("physical", image["actual-size"]))
                entries.append(entry)
        params: list[tuple[str, object]] = [("block.count", len(entries))]
        for n, entry in enumerate(entries):
            params += [("block.%d.%s" % (n, name), value) for name, value in entry]
        return params

    # ------------------------------------------------------------------
    # the single-purpose calls
    # ------------------------------------------------------------------

    def _block_entry(self, disk: str) -> tuple[dict, Status]:
        status = self._running_status()
        found = status.definition.find_disk(disk)
        if found is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid path: %s" % disk)
        with self.qmp() as q:
            entry = _backend_stats(_Monitor(q), _disk_alias(found))
        return (entry or {}).get("stats") or {}, status

    def _all_block_stats(self) -> dict:
        """The counters summed over every disk (domblkstat without a device)."""
        status = self._running_status()
        total: dict[str, int] = {}
        with self.qmp() as q:
            mon = _Monitor(q)
            for disk in status.definition.disks():
                stats = (_backend_stats(mon, _disk_alias(disk)) or {}).get("stats") or {}
                for key, value in stats.items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        total[key] = total.get(key, 0) + value
        return total

    def block_stats_flags(self, disk: str, flags: int = 0) -> list[tuple[str, int]]:
        check_flags(flags, 0, "qemuDomainBlockStatsFlags")
        stats = self._block_entry(disk)[0] if disk else self._all_block_stats()
        return [(name, stats.get(field, 0)) for field, name in _BLOCK_FIELDS]

    def block_stats(self, disk: str) -> BlockStats:
        stats = self._block_entry(disk)[0] if disk else self._all_block_stats()
        return BlockStats(stats.get("rd_operations", 0), stats.get("rd_bytes", 0), stats.get("wr_operations", 0),
                          stats.get("wr_bytes", 0), -1)

    def interface_stats(self, device: str) -> InterfaceStats:
        status = self._running_status()
        wanted = device.lower()
        for iface in status.definition.interfaces():
            target, mac = iface.find("target"), iface.find("mac")
            ifname = target.get("dev") if target is not None else None
            if (ifname and ifname == device) or (mac is not None and (mac.get("address") or "").lower() == wanted):
                break
        else:
            raise DriverError(ErrorCode.INVALID_ARG, "'%s' is not a known interface" % device)
        counters = _tap_counters(ifname) if ifname else None
        if counters is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "/proc/net/dev: Interface not found")
        guest = counters[4:] + counters[:4]
        return InterfaceStats(*guest)

    def memory_stats(self, flags: int = 0) -> list[tuple[str, int]]:
        check_flags(flags, 0, "qemuDomainMemoryStats")
        status = self._running_status()
        with self.qmp() as q:
            mon = _Monitor(q)
            out = [("actual", self._balloon_actual(mon, status.definition))]
            out += self._balloon_guest_stats(mon, status.pid)
        return out

    @writes("virDomainSetMemoryStatsPeriod")
    def set_memory_stats_period(self, period: int, flags: int = 0) -> None:
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "qemuDomainSetMemoryStatsPeriod")
        with self.locked():
            live, persistent = self._defs(flags)
            for definition in (live, persistent):
                if definition is not None and definition.root.find("devices/memballoon") is None or \
                        definition is not None and definition.root.find("devices/memballoon[@model='none']") \
                        is not None:
                    raise _invalid("No memory balloon device configured, can not set the collection period")
            if live is not None:
                with self.qmp() as q:
                    q.execute("qom-set", {"path": "/machine/peripheral/balloon0",
                                          "property": "guest-stats-polling-interval", "value": period})
            for definition in (live, persistent):
                if definition is not None:
                    _set_stats_period(definition, period)
            self._write_definitions(live, persistent)

    def get_disk_errors(self) -> list[tuple[str, int]]:
        status = self._running_status()
        with self.qmp() as q:
            devices = q.execute("query-block") or []
        by_alias = {}
        for dev in devices:
            qdev = dev.get("qdev") or dev.get("device") or ""
            by_alias[qdev.split("/")[3] if qdev.startswith("/machine/peripheral/") else qdev] = dev
        errors = []
        for disk in status.definition.disks():
            dev = by_alias.get(_disk_alias(disk))
            io = (dev or {}).get("io-status", "ok")
            if io != "ok":
                errors.append((disk.target, DiskErrorCode.NO_SPACE if io == "nospace" else DiskErrorCode.UNSPEC))
        return errors

    def get_cpu_stats(self, start_cpu: int, ncpus: int, flags: int = 0):
        check_flags(flags, 0, "qemuDomainGetCPUStats")
        status = self._running_status()
        if start_cpu == -1:
            user, system = _user_system_ns(_proc_stat("/proc/%d/stat" % status.pid))
            return [[("cpu_time", user + system), ("user_time", user), ("system_time", system)]]
        if ncpus == 0:
            return [[("count", len(host_cpu_map()))]]
        # libvirt takes per-CPU usage from cgroup v1's cpuacct; on a cgroup v2 host (as here) it refuses.
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED,
                          "operation 'getCpuacctPercpuUsage' not supported for backend 'cgroup V2'")

    def get_vcpus(self):
        status = self._running_status()
        with self.qmp() as q:
            threads = self._vcpu_threads(_Monitor(q), status.pid)
        host = len(host_cpu_map())
        infos, maps = [], []
        for n, tid in enumerate(threads[:status.definition.vcpus]):
            fields = _proc_stat("/proc/%d/task/%d/stat" % (status.pid, tid))
            user, system = _user_system_ns(fields)
            cpu = int(fields[36]) if len(fields) > 36 else 0
            infos.append(VcpuInfo(n, 1, user + system, cpu))
            try:
                allowed = os.sched_getaffinity(tid)
            except OSError:
                allowed = set(range(host))
            maps.append([c in allowed for c in range(host)])
        return infos, maps

    def get_vcpu_pin_info(self, flags: int = 0) -> list[list[bool]]:
        definition = self.get_definition(inactive=bool(flags & ModificationImpact.CONFIG))
        host = host_cpu_map()
        return [list(host) for _ in range(definition.vcpus)]

    def get_vcpus_flags(self, flags: int = 0) -> int:
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | VcpuFlags.MAXIMUM | VcpuFlags.GUEST,
                    "qemuDomainGetVcpusFlags")
        self.refresh(must_exist=True, strict=False)
        if flags & VcpuFlags.GUEST:
            if flags & ModificationImpact.CONFIG or self.status is None:
                raise DriverError(ErrorCode.INVALID_ARG, "vCPU count provided by the guest agent can only be "
                                  "requested for live domains")
            if self.status.state != DomainState.RUNNING:
                raise _invalid("domain is not running")
            reply = self._agent_call("guest-get-vcpus") or []
            online = [v for v in reply if v.get("online")]
            return len(reply) if flags & VcpuFlags.MAXIMUM else len(online)
        live, persistent = self._defs(flags)
        definition = live if live is not None else persistent
        assert definition is not None
        return definition.max_vcpus if flags & VcpuFlags.MAXIMUM else definition.vcpus


def _set_stats_period(definition: DomainDef, period: int) -> None:
    """<memballoon><stats period='N'/>: libvirt keeps the period in the definition (0 drops it)."""
    from lxml import etree

    balloon = definition.root.find("devices/memballoon")
    stats = balloon.find("stats")
    if period == 0:
        if stats is not None:
            balloon.remove(stats)
        return
    if stats is None:
        stats = etree.Element("stats")
        # libvirt writes <stats> first, before <alias> and <address>.
        balloon.insert(0, stats)
    stats.set("period", str(period))
