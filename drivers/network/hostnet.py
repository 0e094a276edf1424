"""The host parts of a running virtual network, made and removed as libvirt's network
driver does it (networkStartNetworkVirtual): a Linux bridge with its MAC, MTU, STP and
forward delay; the IPv4 addresses; IP forwarding for nat and route; and one dnsmasq
per network serving DHCP and DNS on the bridge.

The tools are iproute2's `ip` and dnsmasq (Debian: iproute2, dnsmasq-base). dnsmasq is
tracked like QEMU: its pidfile, confirmed in /proc (a live process whose command line
names this network's configuration file), never `kill -0` alone.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess

from ..api import DriverError, ErrorCode, NetworkDHCPLease
from .netdef import IpDef, NetworkDef

MAX_BRIDGE_ID = 256


def find_tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "starting a network needs %s (apt-get install %s)"
                          % (name, package))
    return path


def _ip(args: list[str], what: str) -> None:
    proc = subprocess.run([find_tool("ip", "iproute2")] + args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.strip().rsplit(": ", 1)[-1] or "failed"
        raise DriverError(ErrorCode.SYSTEM_ERROR, "%s: %s" % (what, reason))


def netdev_exists(name: str) -> bool:
    """Whether this network namespace has the interface (asked of the kernel: /sys shows the
    namespace it was mounted in, which need not be this process's)."""
    import socket
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def is_bridge(name: str) -> bool:
    import json
    proc = subprocess.run([find_tool("ip", "iproute2"), "-d", "-j", "link", "show", "dev", name], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return False
    try:
        info = json.loads(proc.stdout)[0].get("linkinfo", {})
    except (ValueError, IndexError, AttributeError):
        return False
    return info.get("info_kind") == "bridge"


def unused_bridge_name(taken: set[str]) -> str:
    """libvirt's networkFindUnusedBridgeName: the first virbrN no network names and no
    host interface has."""
    for n in range(MAX_BRIDGE_ID):
        name = "virbr%d" % n
        if name not in taken and not netdev_exists(name):
            return name
    raise DriverError(ErrorCode.INTERNAL_ERROR, "Bridge generation exceeded max id %d" % MAX_BRIDGE_ID)


def route_collision(net: NetworkDef, others: list[tuple[str, NetworkDef]]) -> None:
    """libvirt's networkCheckRouteCollision: a host route to the same subnet means another
    interface already serves it. Overlaps with pyvirsh's other running networks (which
    libvirt's exact-match test lets through) are refused with the same words."""
    subnets = [ip.interface.network for ip in net.ips]
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[0] == net.bridge:
            continue
        dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
        mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
        for subnet in subnets:
            if dest == subnet.network_address and mask == subnet.netmask:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "Network is already in use by interface %s"
                                  % fields[0])
    for bridge, other in others:
        for ip in other.ips:
            if any(ip.interface.network.overlaps(s) for s in subnets):
                raise DriverError(ErrorCode.INTERNAL_ERROR, "Network is already in use by interface %s" % bridge)


# ---------------------------------------------------------------------------
# The bridge
# ---------------------------------------------------------------------------

def create_bridge(net: NetworkDef) -> None:
    assert net.bridge is not None
    name = net.bridge
    _ip(["link", "add", name, "type", "bridge", "stp_state", "1" if net.stp else "0",
         "forward_delay", str(net.delay * 100)], "error creating bridge interface %s" % name)
    if net.mac is not None:
        _ip(["link", "set", name, "address", net.mac], "Failed to set bridge mac address")
    if net.mtu is not None:
        _ip(["link", "set", name, "mtu", str(net.mtu)], "cannot set interface MTU on '%s'" % name)


def set_ipv6_sysctls(net: NetworkDef) -> None:
    """libvirt's networkSetIPv6Sysctls: IPv6 on the bridge only when the network asks for it
    (ipv6='yes': guests talk IPv6 among themselves; pyvirsh refuses IPv6 <ip> addresses), and
    never router advertisements taken or addresses made up by the bridge, a gateway."""
    assert net.bridge is not None
    conf = "/proc/sys/net/ipv6/conf/%s/" % net.bridge
    if not os.path.exists(conf + "disable_ipv6"):
        return                  # the kernel has no IPv6 here: nothing to disable
    for key, value, words in (("disable_ipv6", "0" if net.ipv6 == "yes" else "1",
                               "cannot write to %s to enable/disable IPv6 on bridge %s"),
                              ("accept_ra", "0", "cannot disable %s"), ("autoconf", "0", "cannot disable %s")):
        try:
            with open(conf + key, "w") as f:
                f.write(value + "\n")
        except OSError as err:
            message = words % ((conf + key, net.bridge) if key == "disable_ipv6" else (conf + key,))
            raise DriverError(ErrorCode.SYSTEM_ERROR, "%s: %s" % (message, err.strerror)) from None


def add_addresses(net: NetworkDef) -> None:
    assert net.bridge is not None
    for ip in net.ips:
        iface = ip.interface
        _ip(["addr", "add", "%s/%d" % (ip.address, iface.network.prefixlen), "broadcast",
             str(iface.network.broadcast_address), "dev", net.bridge],
            "Failed to add IP address %s/%d to %s" % (ip.address, iface.network.prefixlen, net.bridge))
    _ip(["link", "set", net.bridge, "up"], "failed to set '%s' up" % net.bridge)


def delete_bridge(name: str) -> None:
    if netdev_exists(name):
        _ip(["link", "del", name], "Unable to delete bridge %s" % name)


def enable_ip_forwarding() -> None:
    try:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1\n")
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to enable IP forwarding: %s" % err.strerror) from None


# ---------------------------------------------------------------------------
# dnsmasq
# ---------------------------------------------------------------------------

class DnsmasqFiles:
    """The files of one network's dnsmasq, in its own run directory."""

    def __init__(self, directory: str, name: str):
        self.directory = directory
        self.conf = os.path.join(directory, name + ".conf")
        self.pidfile = os.path.join(directory, name + ".pid")
        self.leases = os.path.join(directory, name + ".leases")
        self.log = os.path.join(directory, name + ".log")


def needs_dnsmasq(net: NetworkDef) -> bool:
    return bool(net.ips) and (net.dns_enable != "no" or net.dhcp_ip() is not None)


def _lease_max(ip: IpDef) -> int:
    return sum(int(ipaddress.IPv4Address(end)) - int(ipaddress.IPv4Address(start)) + 1
               for start, end in ip.ranges)


def dnsmasq_conf(net: NetworkDef, files: DnsmasqFiles) -> str:
    """The configuration libvirt writes (networkDnsmasqConfContents), IPv4 parts, with three
    differences: the pidfile, dnsmasq's own lease file in place of libvirt's lease helper,
    and the static hosts as dhcp-host and host-record lines in place of libvirt's hosts
    files. dnsmasq reads its configuration as root and the hosts files only after it has
    dropped to 'nobody', who cannot enter pyvirsh's private (0700) state directories."""
    out = ("##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
           "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n"
           "##    virsh net-edit %s\n"
           "## or other application using the libvirt API.\n"
           "##\n"
           "## dnsmasq conf file created by libvirt\n" % net.name)
    out += "strict-order\n"
    out += "pid-file=%s\n" % files.pidfile
    if net.domain is not None:
        out += "domain=%s\nexpand-hosts\n" % net.domain
        if net.domain_local_only == "yes":
            out += "local=/%s/\n" % net.domain
    if net.dns_enable == "no":
        out += "port=0\n"
    out += "except-interface=lo\nbind-dynamic\ninterface=%s\n" % net.bridge
    if net.forward_mode is None:
        out += "dhcp-option=3\nno-resolv\n"     # isolated: no default route, no upstream DNS
    ip = net.dhcp_ip()
    if ip is not None:
        netmask = ip.interface.network.netmask
        for start, end in ip.ranges:
            out += "dhcp-range=%s,%s,%s\n" % (start, end, netmask)
        if not ip.ranges:
            out += "dhcp-range=%s,static\n" % ip.interface.network.network_address
        out += "dhcp-no-override\ndhcp-authoritative\n"
        out += "dhcp-lease-max=%d\n" % (_lease_max(ip) or len(ip.hosts))
        for host in ip.hosts:
            out += "dhcp-host=%s\n" % ",".join(f for f in (host.mac, host.ip, host.name) if f is not None)
        out += "dhcp-leasefile=%s\n" % files.leases
    for dns_host in net.dns_hosts:
        out += "host-record=%s,%s\n" % (",".join(dns_host.hostnames), dns_host.ip)
    out += "log-facility=%s\n" % files.log
    if net.mtu is not None:
        out += "dhcp-option=option:mtu,%d\n" % net.mtu
    return out


def write_dnsmasq_files(net: NetworkDef, files: DnsmasqFiles) -> None:
    from ..fsutil import atomic_write, ensure_dir

    ensure_dir(files.directory)
    atomic_write(files.conf, dnsmasq_conf(net, files), 0o600)


def start_dnsmasq(net: NetworkDef, files: DnsmasqFiles) -> int:
    """Start the network's dnsmasq (it forks into the background and writes its pidfile);
    its pid once it runs."""
    write_dnsmasq_files(net, files)
    exe = find_tool("dnsmasq", "dnsmasq-base")
    proc = subprocess.run([exe, "--conf-file=%s" % files.conf], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Child process (%s --conf-file=%s) unexpected exit status "
                          "%d: %s" % (exe, files.conf, proc.returncode, proc.stderr.strip()))
    pid = dnsmasq_pid(files)
    if pid is None:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "dnsmasq for network '%s' did not write its pidfile" % net.name)
    return pid


def dnsmasq_pid(files: DnsmasqFiles) -> int | None:
    """The pid of this network's running dnsmasq, None when none runs: the pidfile's pid,
    alive in /proc and started with this network's configuration file."""
    from ..qemu.process import pid_alive

    try:
        with open(files.pidfile) as f:
            pid = int(f.read().strip() or "0")
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, ValueError):
        return None
    if ("--conf-file=%s" % files.conf).encode() not in argv or not pid_alive(pid):
        return None
    return pid


def stop_dnsmasq(files: DnsmasqFiles) -> None:
    from ..qemu.process import terminate

    pid = dnsmasq_pid(files)
    if pid is not None:
        terminate(pid)
    for path in (files.pidfile, files.conf):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def restart_dnsmasq(net: NetworkDef, files: DnsmasqFiles) -> None:
    """A running network's dnsmasq after net-update --live: started again on the new
    configuration (it reads the hosts only from there; its leases stay in the lease file)."""
    stop_dnsmasq(files)
    start_dnsmasq(net, files)


def leases(net: NetworkDef, files: DnsmasqFiles, mac: str | None) -> list[NetworkDHCPLease]:
    """The current leases from dnsmasq's lease file: 'EXPIRY MAC IP HOSTNAME CLIENTID' lines."""
    import time

    try:
        with open(files.leases) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    ip = net.dhcp_ip()
    prefix = ip.interface.network.prefixlen if ip is not None else 24
    now = int(time.time())
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or ":" in fields[2]:
            continue
        expiry = int(fields[0]) if fields[0].isdigit() else 0
        if expiry and expiry < now:
            continue
        if mac is not None and fields[1].lower() != mac.lower():
            continue
        out.append(NetworkDHCPLease(net.bridge, expiry, 0, fields[1], None, fields[2], prefix,
                                    None if fields[3] == "*" else fields[3],
                                    None if fields[4] == "*" else fields[4]))
    return out
