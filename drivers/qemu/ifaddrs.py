"""domifaddr's host-side sources, as libvirt's QEMU driver answers them:

- lease: for each <interface type='network'>, its network's DHCP leases for the
  interface's MAC (virNetworkGetDHCPLeases, here dnsmasq's lease file); an interface
  without a lease is left out, one with several lists them all;
- arp: for each interface, the host's IPv4 neighbour entries with the guest's MAC (the
  table libvirt reads over netlink, here `ip -j -4 neigh`), each as its own interface
  with the address and prefix 0, since a neighbour entry knows no prefix.

The agent source stays in guestagent.py.
"""

from __future__ import annotations

import json
import subprocess

from ..api import DomainInterface, DriverError, ErrorCode, IPAddress


def _mac(iface) -> str | None:
    mac = iface.find("mac")
    return mac.get("address").lower() if mac is not None and mac.get("address") else None


def _ifname(iface) -> str | None:
    target = iface.find("target")
    return target.get("dev") if target is not None else None


def lease_interfaces(conn, root) -> list[DomainInterface]:
    out = []
    for iface in root.iterfind("devices/interface"):
        if iface.get("type") != "network":
            continue
        source = iface.find("source")
        net = conn.lookup_network_by_name(source.get("network") if source is not None else "")
        mac = _mac(iface)
        found = net.get_dhcp_leases(mac)
        if found:
            out.append(DomainInterface(_ifname(iface), mac, [
                IPAddress("ipv6" if lease.type == 1 else "ipv4", lease.ipaddr, lease.prefix) for lease in found]))
    return out


def neighbours() -> list[tuple[str, str]]:
    """The host's IPv4 neighbour table as (IP address, MAC) pairs; entries without a MAC
    (incomplete, failed) are left out."""
    from ..network.hostnet import find_tool
    proc = subprocess.run([find_tool("ip", "iproute2"), "-j", "-4", "neigh", "show"], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "failed to read the ARP table: %s" % proc.stderr.strip())
    try:
        entries = json.loads(proc.stdout or "[]")
    except ValueError:
        entries = []
    return [(e["dst"], e["lladdr"].lower()) for e in entries if e.get("dst") and e.get("lladdr")]


def arp_interfaces(root) -> list[DomainInterface]:
    table: list[tuple[str, str]] | None = None
    out: list[DomainInterface] = []
    for iface in root.iterfind("devices/interface"):
        mac = _mac(iface)
        if mac is None:
            continue
        if table is None:
            table = neighbours()
        out.extend(DomainInterface(_ifname(iface), mac, [IPAddress("ipv4", ip, 0)])
                   for ip, lladdr in table if lladdr == mac)
    return out
