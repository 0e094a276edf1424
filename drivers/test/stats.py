"""Statistics as libvirt's test driver makes them up: counters derived from the wall clock
(block and interface stats), fixed figures (CPU stats, vCPU placement), figures derived from
the current memory (balloon stats), and the state group alone for domstats."""

from __future__ import annotations

import time

from ..api import (BlockStats, DiskErrorCode, DriverError, ErrorCode, InterfaceStats, ModificationImpact,
                   StatsFlags, StatsTypes, VcpuFlags, VcpuInfo, check_flags, stats_filter_matches)

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What libvirt's test driver reports: 8 host CPUs, vCPUs placed on CPU 15 (sic), 2 CPUs of
# per-CPU stats with fixed times, and these totals.
HOST_CPUS = 8
VCPU_HOST_CPU = 15
CPU_STATS_CPUS = 2
CPU_TIME_NS, VCPU_TIME_NS = 24386308517, 23151740627
USER_TIME_NS, SYSTEM_TIME_NS = 5540000000, 6460000000
LAST_UPDATE = 627319920

_ALL_FILTERS = (StatsFlags.ACTIVE | StatsFlags.INACTIVE | StatsFlags.PERSISTENT | StatsFlags.TRANSIENT
                | StatsFlags.RUNNING | StatsFlags.PAUSED | StatsFlags.SHUTOFF | StatsFlags.OTHER)


def _invalid(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, message)


def _clock() -> tuple[int, int]:
    """(seconds, microseconds since the epoch): the base of the test driver's counters."""
    now = time.time_ns() // 1000
    return now // 1000000, now


class TestConnectionStats:
    """domstats on the test driver: only the state group exists."""

    if TYPE_CHECKING:
        def list_all_domains(self) -> list[Any]: ...

    def get_all_domain_stats(self, stats: int, flags: int = 0):
        return self._domain_stats(self.list_all_domains(), stats, flags)

    def domain_list_get_stats(self, doms, stats: int, flags: int = 0):
        return self._domain_stats(doms, stats, flags)

    def _domain_stats(self, doms, stats: int, flags: int):
        check_flags(flags, _ALL_FILTERS | StatsFlags.ENFORCE_STATS | StatsFlags.BACKING | StatsFlags.NOWAIT,
                    "testConnectGetAllDomainStats")
        if flags & StatsFlags.ENFORCE_STATS and stats & ~StatsTypes.STATE:
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "Stats types bits 0x%x are not supported by "
                              "this daemon" % (stats & ~StatsTypes.STATE))
        records = []
        for dom in doms:
            if not stats_filter_matches(flags, dom):
                continue
            params: list[tuple[str, object]] = []
            if not stats or stats & StatsTypes.STATE:
                state, reason = dom.get_state()
                params += [("state.state", state), ("state.reason", reason)]
            records.append((dom, params))
        return records

    def get_cpu_map(self) -> list[bool]:
        return [True] * HOST_CPUS


class TestDomainStats:
    """The domain's statistics calls, mixed into TestDomain (self._live() is its object)."""

    if TYPE_CHECKING:
        name: str

        def _live(self) -> Any: ...

    def _running(self):
        obj = self._live()
        if not obj.active:
            raise _invalid("domain is not running")
        return obj

    def block_stats(self, disk: str) -> BlockStats:
        obj = self._live()
        if not disk:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "summary statistics are not supported yet")
        if obj.definition.find_disk(disk) is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid path: %s" % disk)
        self._running()
        seconds, base = _clock()
        return BlockStats(base // 10, base // 20, base // 30, base // 40, seconds // 2)

    def interface_stats(self, device: str) -> InterfaceStats:
        obj = self._running()
        wanted = device.lower()
        for iface in obj.definition.interfaces():
            target, mac = iface.find("target"), iface.find("mac")
            if (target is not None and target.get("dev") == device) or \
                    (mac is not None and (mac.get("address") or "").lower() == wanted):
                break
        else:
            raise DriverError(ErrorCode.INVALID_ARG, "'%s' is not a known interface" % device)
        seconds, base = _clock()
        return InterfaceStats(base // 10, base // 100, seconds, seconds // 2,
                              base // 20, base // 110, seconds // 3, seconds // 4)

    def memory_stats(self, flags: int = 0) -> list[tuple[str, int]]:
        check_flags(flags, 0, "testDomainMemoryStats")
        obj = self._running()
        current = obj.facts()["current_memory_kib"]
        return [("actual", current), ("swap_in", 0), ("swap_out", 0), ("major_fault", 0), ("minor_fault", 0),
                ("unused", current // 2), ("available", current), ("usable", current // 2),
                ("last_update", LAST_UPDATE), ("disk_caches", current // 8), ("hugetlb_pgalloc", 0),
                ("hugetlb_pgfail", 0), ("rss", current // 2)]

    def set_memory_stats_period(self, period: int, flags: int = 0) -> None:
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "testDomainSetMemoryStatsPeriod")
        obj = self._live()
        if flags & ModificationImpact.LIVE and not obj.active:
            raise _invalid("domain is not running")
        # The test driver keeps no balloon: the period changes nothing anyone can read back.

    def get_disk_errors(self) -> list[tuple[str, int]]:
        obj = self._running()
        return [(disk.target, DiskErrorCode.UNSPEC) for disk in obj.definition.disks()]

    def get_cpu_stats(self, start_cpu: int, ncpus: int, flags: int = 0):
        check_flags(flags, 0, "testDomainGetCPUStats")
        self._running()
        if start_cpu == -1:
            return [[("cpu_time", CPU_TIME_NS * 2 + 1), ("user_time", USER_TIME_NS),
                     ("system_time", SYSTEM_TIME_NS)]]
        if ncpus == 0:
            return [[("count", CPU_STATS_CPUS)]]
        return [[("cpu_time", CPU_TIME_NS + cpu), ("vcpu_time", VCPU_TIME_NS + cpu)]
                for cpu in range(start_cpu, min(start_cpu + ncpus, CPU_STATS_CPUS))]

    def get_vcpus(self):
        obj = self._running()
        _seconds, base = _clock()
        count = obj.facts()["vcpus"]
        infos = [VcpuInfo(n, 1, base // 10, VCPU_HOST_CPU) for n in range(count)]
        return infos, [[True] * HOST_CPUS for _ in range(count)]

    def get_vcpu_pin_info(self, flags: int = 0) -> list[list[bool]]:
        obj = self._live()
        definition = (obj.new_def or obj.definition) if flags & ModificationImpact.CONFIG else obj.definition
        return [[True] * HOST_CPUS for _ in range(definition.vcpus)]

    def get_vcpus_flags(self, flags: int = 0) -> int:
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | VcpuFlags.MAXIMUM,
                    "testDomainGetVcpusFlags")
        obj = self._live()
        live = bool(flags & ModificationImpact.LIVE)
        config = bool(flags & ModificationImpact.CONFIG)
        if live and config:
            raise DriverError(ErrorCode.INVALID_ARG, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                              "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        if not live and not config:
            live = obj.active
        if live and not obj.active:
            raise _invalid("domain is not running")
        definition = obj.definition if live else (obj.new_def or obj.definition)
        return definition.max_vcpus if flags & VcpuFlags.MAXIMUM else definition.vcpus
