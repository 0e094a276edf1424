"""Guest agent commands: domfsfreeze, domfsthaw, domfsinfo, domtime, guestinfo, guestvcpus,
set-user-password, domifaddr and qemu-agent-command, with virsh 9.0's options, output and
messages (tools/virsh-domain.c, virsh-domain-monitor.c)."""

from __future__ import annotations

from ..declare import argv, command, data, flag, number, string
from ..errors import CommandError
from ..output import format_table
from ..values import integer
from .common import domain_option, exclusive, lookup_domain, reporting, requires

LLONG_MIN, LLONG_MAX = -2**63, 2**63 - 1


def _typed_value(value) -> str:
    """vshGetTypedParamValue: booleans as yes/no, numbers in decimal."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


# ---------------------------------------------------------------------------
# domfsfreeze, domfsthaw, domfsinfo
# ---------------------------------------------------------------------------

@command("domfsfreeze", "Freeze domain's mounted filesystems.")
@domain_option()
@argv("mountpoint", "mountpoint path to be frozen")
def domfsfreeze(ctl, domain, mountpoint):
    dom = lookup_domain(ctl, domain)
    with reporting("Unable to freeze filesystems"):
        count = dom.fs_freeze(list(mountpoint))
    ctl.print_extra("Froze %d filesystem(s)\n" % count)
    return True


@command("domfsthaw", "Thaw domain's mounted filesystems.")
@domain_option()
@argv("mountpoint", "mountpoint path to be thawed")
def domfsthaw(ctl, domain, mountpoint):
    dom = lookup_domain(ctl, domain)
    with reporting("Unable to thaw filesystems"):
        count = dom.fs_thaw(list(mountpoint))
    ctl.print_extra("Thawed %d filesystem(s)\n" % count)
    return True


@command("domfsinfo", "Get information of domain's mounted filesystems.")
@domain_option()
def domfsinfo(ctl, domain):
    dom = lookup_domain(ctl, domain)
    with reporting("Unable to get filesystem information"):
        info = dom.get_fs_info()
    if not info:
        ctl.print_extra("No filesystems are mounted in the domain")
        return True
    rows = [[fs.mountpoint, fs.name, fs.fstype, ",".join(fs.dev_aliases)] for fs in info]
    ctl.print(format_table(["Mountpoint", "Name", "Type", "Target"], rows, ctl.quiet))
    return True


# ---------------------------------------------------------------------------
# domtime
# ---------------------------------------------------------------------------

@command("domtime", "Gets or sets the domain's system time")
@domain_option()
@flag("now", "set to the time of the host running virsh")
@flag("pretty", "print domain's time in human readable form")
@flag("sync", "instead of setting given time, synchronize from domain's RTC")
@number("time", "time to set")
def domtime(ctl, domain, now, pretty, sync, time):
    from ..drivers.api import SetTimeFlags

    exclusive("time", time is not None, "now", now)
    exclusive("time", time is not None, "sync", sync)
    exclusive("now", now, "sync", sync)
    dom = lookup_domain(ctl, domain)
    seconds = integer("time", time, LLONG_MIN, LLONG_MAX)
    if seconds is not None or now or sync:
        if now:
            import time as clock
            seconds = int(clock.time())
        dom.set_time(seconds or 0, 0, SetTimeFlags.SYNC if sync else 0)
        return True
    seconds, _ = dom.get_time()
    if pretty:
        import datetime
        try:
            when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
            ctl.print("Time: %s" % when.strftime("%Y-%m-%d %H:%M:%S"))
        except (OverflowError, OSError, ValueError):
            ctl.print("Time: (null)")     # g_date_time_format of a time GLib cannot hold
    else:
        ctl.print("Time: %d" % seconds)
    return True


# ---------------------------------------------------------------------------
# guestinfo, guestvcpus, set-user-password
# ---------------------------------------------------------------------------

_GUESTINFO_FLAGS = [
    ("user", "report active users", "USERS"),
    ("os", "report operating system information", "OS"),
    ("timezone", "report timezone information", "TIMEZONE"),
    ("hostname", "report hostname", "HOSTNAME"),
    ("filesystem", "report filesystem information", "FILESYSTEM"),
    ("disk", "report disk information", "DISKS"),
    ("interface", "report interface information", "INTERFACES"),
]


def _guestinfo_options(func):
    for name, help_text, _ in reversed(_GUESTINFO_FLAGS):
        func = flag(name, help_text)(func)
    return func


@command("guestinfo", "Use the guest agent to query various information from guest's point of view")
@domain_option()
@_guestinfo_options
def guestinfo(ctl, domain, **wanted):
    from ..drivers.api import GuestInfoTypes

    types = 0
    for name, _, bit in _GUESTINFO_FLAGS:
        if wanted[name]:
            types |= getattr(GuestInfoTypes, bit)
    dom = lookup_domain(ctl, domain)
    params = dom.get_guest_info(types)
    ctl.print("".join("%-20s: %s\n" % (field, _typed_value(value)) for field, value in params))
    return True


@command("guestvcpus", "Use the guest agent to query or set cpu state from guest's point of view")
@domain_option()
@string("cpulist", "list of cpus to enable or disable")
@flag("enable", "enable cpus specified by cpulist")
@flag("disable", "disable cpus specified by cpulist")
def guestvcpus(ctl, domain, cpulist, enable, disable):
    exclusive("enable", enable, "disable", disable)
    requires("cpulist", cpulist is not None, "enable", enable)
    requires("cpulist", cpulist is not None, "disable", disable)
    if cpulist is not None and not (enable or disable):
        raise CommandError("One of options --enable or --disable is required by option --cpulist")
    dom = lookup_domain(ctl, domain)
    if cpulist is not None:
        dom.set_guest_vcpus(cpulist, enable)
        return True
    ctl.print("".join("%-15s: %s\n" % (field, _typed_value(value)) for field, value in dom.get_guest_vcpus()))
    return True


@command("set-user-password", "changes the password of the specified user inside the domain")
@domain_option()
@data("user", "the username")
@data("password", "the new password")
@flag("encrypted", "the password is already encrypted")
def set_user_password(ctl, domain, user, password, encrypted):
    from ..drivers.api import UserPasswordFlags

    dom = lookup_domain(ctl, domain)
    dom.set_user_password(user, password, UserPasswordFlags.ENCRYPTED if encrypted else 0)
    ctl.print_extra("Password set successfully for %s in %s" % (user, dom.name))
    return True


# ---------------------------------------------------------------------------
# domifaddr
# ---------------------------------------------------------------------------

_SOURCES = ("lease", "agent", "arp")       # InterfaceAddressesSource's numbers, in order


@command("domifaddr", "Get network interfaces' addresses for a running domain")
@domain_option()
@string("interface", "network interface name")
@flag("full", "always display names and MACs of interfaces")
@string("source", "address source: 'lease', 'agent', or 'arp'")
def domifaddr(ctl, domain, interface, full, source):
    if source is not None and source not in _SOURCES:
        raise CommandError("Unknown data source '%s'" % source)
    dom = lookup_domain(ctl, domain)
    with reporting("Failed to query for interfaces addresses"):
        ifaces = dom.interface_addresses(_SOURCES.index(source) if source else 0)
    ctl.print_extra(" %-10s %-20s %-8s     %s\n%s%s\n" % (
        "Name", "MAC address", "Protocol", "Address", "-" * 49, "-" * 30))
    lines = []
    for iface in ifaces:
        if interface is not None and interface != iface.name:
            continue
        if not iface.addrs:
            lines.append(" %-10s %-17s    %-12s %s\n" % (iface.name, iface.hwaddr or "N/A", "N/A", "N/A"))
            continue
        for n, addr in enumerate(iface.addrs):
            text = "%-12s %s/%d" % (addr.type, addr.addr, addr.prefix)
            if full or n == 0:
                lines.append(" %-10s %-17s    %s\n" % (iface.name, iface.hwaddr or "", text))
            else:
                lines.append(" %-10s %-17s    %s\n" % ("-", "-", text))
    ctl.print("".join(lines))
    return True


# ---------------------------------------------------------------------------
# qemu-agent-command
# ---------------------------------------------------------------------------

@command("qemu-agent-command", "Run an arbitrary qemu guest agent command; use at your own risk")
@domain_option()
@number("timeout", "timeout seconds. must be positive.", named_only=True)
@flag("async", "execute command without waiting for timeout")
@flag("block", "execute command without timeout")
@flag("pretty", "pretty-print the output")
@argv("cmd", "command", required=True)
def qemu_agent_command(ctl, domain, timeout, block, pretty, cmd, **rest):
    from ..drivers.api import AgentCommandTimeout as T

    dom = lookup_domain(ctl, domain)
    text = " ".join(cmd)
    seconds = integer("timeout", timeout)
    given = 0
    if seconds is not None:
        given = 1
        if seconds < 1:
            raise CommandError("timeout must be positive")
    else:
        seconds = T.DEFAULT
    if rest["async"]:
        seconds, given = T.NOWAIT, given + 1
    if block:
        seconds, given = T.BLOCK, given + 1
    if given > 1:
        raise CommandError("timeout, async and block options are exclusive")
    result = dom.qemu_agent_command(text, seconds)
    if pretty:
        result = _pretty_json(result)
    ctl.print(result + "\n")
    return True


def _pretty_json(text: str) -> str:
    """libvirt's pretty JSON (yajl's beautifier: two-space indent, "key": value, an empty
    object or array opened and closed on lines of their own); text unchanged if not JSON."""
    import json
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return _render(value, 0) + "\n"         # yajl ends a beautified document with a newline


def _render(value, level: int) -> str:
    import json
    pad, close = "  " * (level + 1), "  " * level
    if isinstance(value, dict):
        items = [pad + json.dumps(k, ensure_ascii=False) + ": " + _render(v, level + 1) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + close + "}"
    if isinstance(value, list):
        return "[\n" + ",\n".join(pad + _render(v, level + 1) for v in value) + "\n" + close + "]"
    return json.dumps(value, ensure_ascii=False)
