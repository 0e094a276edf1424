"""Statistics: domstats, domblkstat, domifstat, dommemstat, domblkerror, cpu-stats,
vcpuinfo, vcpucount, printed as virsh 9.0 prints them."""

from __future__ import annotations

from ..declare import argv, command, data, flag, flag_table, number, string
from ..errors import CommandError
from ..values import integer
from .common import domain_option, exclusive, flag_bits, lookup_domain, reporting

# ---------------------------------------------------------------------------
# domstats
# ---------------------------------------------------------------------------

# (option, help, StatsTypes attribute) in virsh's order.
_GROUPS = [
    ("state", "report domain state", "STATE"),
    ("cpu-total", "report domain physical cpu usage", "CPU_TOTAL"),
    ("balloon", "report domain balloon statistics", "BALLOON"),
    ("vcpu", "report domain virtual cpu information", "VCPU"),
    ("interface", "report domain network interface information", "INTERFACE"),
    ("block", "report domain block device statistics", "BLOCK"),
    ("perf", "report domain perf event statistics", "PERF"),
    ("iothread", "report domain IOThread information", "IOTHREAD"),
    ("memory", "report domain memory usage", "MEMORY"),
    ("dirtyrate", "report domain dirty rate information", "DIRTYRATE"),
    ("vm", "report hypervisor-specific statistics", "VM"),
]

# (option, help, StatsFlags attribute) in virsh's order.
_FILTERS = [
    ("list-active", "list only active domains", "ACTIVE"),
    ("list-inactive", "list only inactive domains", "INACTIVE"),
    ("list-persistent", "list only persistent domains", "PERSISTENT"),
    ("list-transient", "list only transient domains", "TRANSIENT"),
    ("list-running", "list only running domains", "RUNNING"),
    ("list-paused", "list only paused domains", "PAUSED"),
    ("list-shutoff", "list only shutoff domains", "SHUTOFF"),
    ("list-other", "list only domains in other states", "OTHER"),
    ("raw", "do not pretty-print the fields", None),
    ("enforce", "enforce requested stats parameters", "ENFORCE_STATS"),
    ("backing", "add backing chain information to block stats", "BACKING"),
    ("nowait", "report only stats that are accessible instantly", "NOWAIT"),
]


def _stat_value(value) -> str:
    """A typed parameter as virsh prints it (booleans as yes/no, doubles with %f)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "%f" % value
    return str(value)


@command("domstats", "Gets statistics about one or more (or all) domains")
@flag_table((name, help_text) for name, help_text, _bit in _GROUPS + _FILTERS)
@argv("domain", "list of domains to get stats for", completer="domains")
def domstats(ctl, domain, **opts):
    from ..drivers.api import StatsFlags, StatsTypes

    stats = 0
    for name, _help, bit in _GROUPS:
        if opts[name.replace("-", "_")]:
            stats |= getattr(StatsTypes, bit)
    flags = 0
    for name, _help, bit in _FILTERS:
        if bit is not None and opts[name.replace("-", "_")]:
            flags |= getattr(StatsFlags, bit)
    with reporting_plain():
        if domain:
            doms = [lookup_domain(ctl, name) for name in domain]
            records = ctl.conn.domain_list_get_stats(doms, stats, flags)
        else:
            records = ctl.conn.get_all_domain_stats(stats, flags)
    if ctl.out.json:
        ctl.out.emit_json({"domains": [{"name": dom.name, "stats": dict(params)} for dom, params in records]})
        return True
    blocks = []
    for dom, params in records:
        blocks.append("Domain: '%s'\n" % dom.name + "".join("  %s=%s\n" % (name, _stat_value(value))
                                                            for name, value in params))
    # A blank line between domains; the one after the last is the newline ending every command.
    ctl.print("\n".join(blocks))
    return True


class reporting_plain:
    """A driver failure printed as libvirt's words alone (virsh adds no context line)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, err, traceback):
        from ..drivers.api import DriverError

        if kind is not None and issubclass(kind, DriverError):
            raise CommandError(str(err)) from None
        return False


# ---------------------------------------------------------------------------
# domblkstat
# ---------------------------------------------------------------------------

# (typed parameter, legacy spelling or None, --human words), in the order virsh prints them.
_BLOCK_FIELDS = [
    ("rd_operations", "rd_req", "number of read operations:"),
    ("rd_bytes", "rd_bytes", "number of bytes read:"),
    ("wr_operations", "wr_req", "number of write operations:"),
    ("wr_bytes", "wr_bytes", "number of bytes written:"),
    ("errs", "errs", "error count:"),
    ("flush_operations", None, "number of flush operations:"),
    ("rd_total_times", None, "total duration of reads (ns):"),
    ("wr_total_times", None, "total duration of writes (ns):"),
    ("flush_total_times", None, "total duration of flushes (ns):"),
]


@command("domblkstat", "Get device block stats for a running domain. See man page or use --human for "
         "explanation of fields")
@domain_option()
@string("device", "block device", completer="disks", empty_ok=True)
@flag("human", "print a more human readable output")
def domblkstat(ctl, domain, device, human):
    from ..drivers.api import DriverError, ErrorCode

    dom = lookup_domain(ctl, domain)
    device = device or ""
    try:
        params = dom.block_stats_flags(device)
    except DriverError as err:
        if err.code is not ErrorCode.NO_SUPPORT:
            raise CommandError(str(err)) from None
        params = None
    lines = []
    shown = device
    if params is None:
        # The older call, as virsh falls back to it.
        with reporting("Failed to get block stats %s %s" % (dom.name, device)):
            legacy = dom.block_stats(device)
        if human:
            lines.append("Device: %s\n" % device)
            shown = ""
        for field, (_typed, legacy_name, words) in zip(legacy.__slots__, _BLOCK_FIELDS):
            value = getattr(legacy, field)
            if value >= 0:
                lines.append("%s %-*s %d\n" % (shown, 31 if human else 0, words if human else legacy_name, value))
    else:
        if human:
            lines.append("Device: %s\n" % device)
            shown = ""
        values = dict(params)
        for typed, legacy_name, words in _BLOCK_FIELDS:
            if typed in values:
                label = words if human else (legacy_name or typed)
                lines.append("%s %-*s %s\n" % (shown, 31 if human else 0, label, _stat_value(values.pop(typed))))
        for name, value in params:
            if name in values:
                lines.append("%s %s %s\n" % (shown, name, _stat_value(value)))
    ctl.print("".join(lines))
    return True


# ---------------------------------------------------------------------------
# domifstat
# ---------------------------------------------------------------------------

@command("domifstat", "Get network interface stats for a running domain.")
@domain_option()
@data("interface", "interface device specified by name or MAC Address")
def domifstat(ctl, domain, interface):
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to get interface stats %s %s" % (dom.name, interface)):
        stats = dom.interface_stats(interface)
    lines = ["%s %s %d\n" % (interface, field, getattr(stats, field))
             for field in stats.__slots__ if getattr(stats, field) >= 0]
    ctl.print("".join(lines))
    return True


# ---------------------------------------------------------------------------
# dommemstat
# ---------------------------------------------------------------------------

@command("dommemstat", "Get memory statistics for a running domain.")
@domain_option()
@number("period", "period in seconds to set collection")
@flag("config", "affect next boot")
@flag("live", "affect running domain")
@flag("current", "affect current domain")
def dommemstat(ctl, domain, period, config, live, current):
    from ..drivers.api import ModificationImpact

    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    dom = lookup_domain(ctl, domain)
    flags = flag_bits((config, ModificationImpact.CONFIG), (live, ModificationImpact.LIVE))
    if not (current or live or config) and dom.is_active():
        flags |= ModificationImpact.LIVE
    seconds = integer("period", period)
    if seconds is not None:
        if seconds < 0:
            raise CommandError("Invalid collection period value '%d'" % seconds)
        with reporting("Unable to change balloon collection period."):
            dom.set_memory_stats_period(seconds, flags)
        return True
    with reporting("Failed to get memory statistics for domain %s" % dom.name):
        stats = dom.memory_stats(0)
    ctl.print("".join("%s %d\n" % (name, value) for name, value in stats))
    return True


# ---------------------------------------------------------------------------
# domblkerror
# ---------------------------------------------------------------------------

@command("domblkerror", "Show block device errors")
@domain_option()
def domblkerror(ctl, domain):
    from ..drivers.api import DiskErrorCode

    dom = lookup_domain(ctl, domain)
    with reporting_plain():
        errors = dom.get_disk_errors()
    if not errors:
        ctl.print("No errors found\n")
        return True
    ctl.print("".join("%s: %s\n" % (disk, DiskErrorCode.LABELS[code] if 0 <= code < len(DiskErrorCode.LABELS)
                                    else "unknown error") for disk, code in errors))
    return True


# ---------------------------------------------------------------------------
# cpu-stats
# ---------------------------------------------------------------------------

def _cpu_stat_line(name: str, value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("_time"):
        return "\t%-12s %9d.%09d seconds\n" % (name, value // 1000000000, value % 1000000000)
    return "\t%-12s %s\n" % (name, _stat_value(value))


@command("cpu-stats", "Display per-CPU and total statistics about the domain's CPUs")
@domain_option()
@flag("total", "Show total statistics only")
@number("start", "Show statistics from this CPU")
@number("count", "Number of shown CPUs at most")
def cpu_stats(ctl, domain, total, start, count):
    from ..drivers.api import DriverError

    dom = lookup_domain(ctl, domain)
    show_total, show_per_cpu = total, False
    first = integer("start", start)
    if first is not None:
        if first < 0:
            raise CommandError("Invalid value for start CPU")
        show_per_cpu = True
    first = first or 0
    shown = integer("count", count)
    if shown is not None:
        if shown < 0:
            raise CommandError("Invalid value for number of CPUs to show")
        show_per_cpu = True
    else:
        shown = -1
    if not show_total and not show_per_cpu:
        show_total = show_per_cpu = True
    context = "Failed to retrieve CPU statistics for domain '%s'" % dom.name
    out = []
    try:
        if show_per_cpu:
            with reporting(context):
                host_cpus = dom.get_cpu_stats(0, 0)[0][0][1]
            if first >= host_cpus:
                raise CommandError("Start CPU %d is out of range (min: 0, max: %d)" % (first, host_cpus - 1))
            if shown < 0 or shown > host_cpus:
                if shown > host_cpus:
                    out.append("Only %d CPUs available to show\n" % host_cpus)
                shown = host_cpus - first
            if shown:
                with reporting(context):
                    per_cpu = dom.get_cpu_stats(first, shown)
                for i, params in enumerate(per_cpu):
                    if not params:
                        continue        # a CPU the domain may not use
                    out.append("CPU%d:\n" % (first + i))
                    out.extend(_cpu_stat_line(name, value) for name, value in params)
        if show_total:
            with reporting(context):
                totals = dom.get_cpu_stats(-1, 1)[0]
            if not totals:
                out.append("No total stats available")
            else:
                out.append("Total:\n")
                out.extend(_cpu_stat_line(name, value) for name, value in totals)
    except (CommandError, DriverError):
        ctl.print("".join(out))
        raise
    ctl.print("".join(out))
    return True


# ---------------------------------------------------------------------------
# vcpuinfo, vcpucount
# ---------------------------------------------------------------------------

def _cpu_list(cpumap: list[bool]) -> str:
    """A CPU map as virsh's --pretty shows it: ranges, '0-1,4'."""
    ranges, i = [], 0
    while i < len(cpumap):
        if cpumap[i]:
            j = i
            while j + 1 < len(cpumap) and cpumap[j + 1]:
                j += 1
            ranges.append(str(i) if i == j else "%d-%d" % (i, j))
            i = j + 1
        else:
            i += 1
    return ",".join(ranges)


@command("vcpuinfo", "Returns basic information about the domain virtual CPUs.")
@domain_option()
@flag("pretty", "return human readable output")
def vcpuinfo(ctl, domain, pretty):
    from ..drivers.api import DomainState, DriverError, ModificationImpact

    dom = lookup_domain(ctl, domain)
    with reporting_plain():
        host_cpus = len(ctl.conn.get_cpu_map())
        info = dom.get_info()
    infos = None
    try:
        infos, cpumaps = dom.get_vcpus()
    except DriverError as err:
        if info.state != DomainState.SHUTOFF:
            raise CommandError(str(err)) from None
        with reporting_plain():
            cpumaps = dom.get_vcpu_pin_info(ModificationImpact.CONFIG)
    out = []
    for n, cpumap in enumerate(cpumaps):
        cpumap = (list(cpumap) + [False] * host_cpus)[:host_cpus]
        if infos is not None:
            vcpu = infos[n]
            out.append("%-15s %d\n" % ("VCPU:", vcpu.number))
            out.append("%-15s %d\n" % ("CPU:", vcpu.cpu))
            out.append("%-15s %s\n" % ("State:", _VCPU_STATES.get(vcpu.state, "no state")))
            if vcpu.cpu_time:
                out.append("%-15s %.1fs\n" % ("CPU time:", vcpu.cpu_time / 1e9))
        else:
            out.append("%-15s %d\n" % ("VCPU:", n))
            out.append("%-15s %s\n" % ("CPU:", "N/A"))
            out.append("%-15s %s\n" % ("State:", "N/A"))
            out.append("%-15s %s\n" % ("CPU time", "N/A"))
        if pretty:
            out.append("%-15s %s (out of %d)\n" % ("CPU Affinity:", _cpu_list(cpumap), host_cpus))
        else:
            out.append("%-15s %s\n" % ("CPU Affinity:", "".join("y" if on else "-" for on in cpumap)))
        if n + 1 < len(cpumaps):
            out.append("\n")
    ctl.print("".join(out))
    return True


# virVcpuState: the words virsh prints.
_VCPU_STATES = {0: "offline", 1: "running", 2: "blocked"}


@command("vcpucount", "Returns the number of virtual CPUs used by the domain.")
@domain_option()
@flag("maximum", "get maximum count of vcpus")
@flag("active", "get number of currently active vcpus")
@flag("live", "get value from running domain")
@flag("config", "get value to be used on next boot")
@flag("current", "get value according to current domain state")
@flag("guest", "retrieve vcpu count from the guest instead of the hypervisor")
def vcpucount(ctl, domain, maximum, active, live, config, current, guest):
    from ..drivers.api import ModificationImpact, VcpuFlags

    exclusive("live", live, "config", config)
    exclusive("active", active, "maximum", maximum)
    exclusive("guest", guest, "config", config)
    dom = lookup_domain(ctl, domain)
    if not (maximum or active or current or live or config or guest):
        C, L, M = ModificationImpact.CONFIG, ModificationImpact.LIVE, VcpuFlags.MAXIMUM
        counts = [_vcpu_count(dom, flags, True) for flags in (C | M, L | M, C, L)]
        labels = [("maximum", "config"), ("maximum", "live"), ("current", "config"), ("current", "live")]
        ctl.print("".join("%-12s %-12s %3d\n" % (which, state, n)
                          for (which, state), n in zip(labels, counts) if n > 0))
        return True
    flags = flag_bits((live, ModificationImpact.LIVE), (config, ModificationImpact.CONFIG),
                      (maximum, VcpuFlags.MAXIMUM), (guest, VcpuFlags.GUEST))
    ctl.print("%d\n" % _vcpu_count(dom, flags, False))
    return True


def _vcpu_count(dom, flags: int, check_state: bool) -> int:
    """virsh's virshCPUCountCollect: -1 for a count that does not apply to the domain's state."""
    from ..drivers.api import DriverError, ErrorCode, ModificationImpact, VcpuFlags

    if check_state and ((flags & ModificationImpact.LIVE and not dom.is_active())
                        or (flags & ModificationImpact.CONFIG and not dom.is_persistent())):
        return -1
    try:
        return dom.get_vcpus_flags(flags)
    except DriverError as err:
        if flags & VcpuFlags.GUEST and err.code in (ErrorCode.INVALID_ARG, ErrorCode.UNSUPPORTED_FLAGS):
            raise CommandError("Failed to retrieve vCPU count from the guest", str(err)) from None
        raise CommandError(str(err)) from None
