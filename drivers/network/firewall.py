"""A virtual network's firewall rules, as libvirt 9.0's iptables backend lays them out.

libvirt 9.0 drives iptables (on Debian 12 that is iptables-nft, so the rules land
in nftables tables that `nft list ruleset` shows too); pyvirsh does the same, in
libvirt's private chains hooked into the built-in ones:

    filter INPUT -> LIBVIRT_INP   DHCP and DNS from the guests to the host
    filter OUTPUT -> LIBVIRT_OUT  DHCP and DNS from the host to the guests
    filter FORWARD -> LIBVIRT_FWX, LIBVIRT_FWI, LIBVIRT_FWO
                                  guest to guest; into the network; out of it
    nat POSTROUTING -> LIBVIRT_PRT  masquerading of the network's subnet (nat)

Every rule names the network's bridge, so removing exactly the rules a start added
(the plan a network records before it touches the host) cleans a network up even
after a crash half way. The private chains and their jumps are removed again when
the last network's rules are gone, so a stopped host is as it was.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

from ..api import DriverError, ErrorCode

# (table, chain, hooked from) in the order libvirt hooks them (the first is topmost).
CHAINS = (
    ("filter", "LIBVIRT_INP", "INPUT"),
    ("filter", "LIBVIRT_OUT", "OUTPUT"),
    ("filter", "LIBVIRT_FWX", "FORWARD"),
    ("filter", "LIBVIRT_FWI", "FORWARD"),
    ("filter", "LIBVIRT_FWO", "FORWARD"),
    ("nat", "LIBVIRT_PRT", "POSTROUTING"),
)

Rule = tuple[str, str, tuple[str, ...]]      # table, chain, match and target arguments


def network_rules(mode: str | None, bridge: str, subnets: list[ipaddress.IPv4Network],
                  nat_ports: tuple[int, int] | None) -> list[Rule]:
    """The rules of one network, ACCEPTs before the REJECTs that close the rest."""
    if mode == "open":
        return []       # libvirt adds no rule at all for an open network
    rules: list[Rule] = []
    for proto in ("udp", "tcp"):
        for port in ("67", "53"):
            rules.append(("filter", "LIBVIRT_INP", ("-i", bridge, "-p", proto, "--dport", port, "-j", "ACCEPT")))
    for proto in ("udp", "tcp"):
        for port in ("68", "53"):
            rules.append(("filter", "LIBVIRT_OUT", ("-o", bridge, "-p", proto, "--dport", port, "-j", "ACCEPT")))
    for net in subnets:
        s = str(net)
        if mode == "nat":
            rules.append(("filter", "LIBVIRT_FWO", ("-s", s, "-i", bridge, "-j", "ACCEPT")))
            rules.append(("filter", "LIBVIRT_FWI", ("-d", s, "-o", bridge, "-m", "conntrack", "--ctstate",
                                                    "RELATED,ESTABLISHED", "-j", "ACCEPT")))
            low, high = nat_ports or (1024, 65535)
            rules.append(("nat", "LIBVIRT_PRT", ("-s", s, "-d", "224.0.0.0/24", "-j", "RETURN")))
            rules.append(("nat", "LIBVIRT_PRT", ("-s", s, "-d", "255.255.255.255/32", "-j", "RETURN")))
            for proto in ("tcp", "udp"):
                rules.append(("nat", "LIBVIRT_PRT", ("-s", s, "!", "-d", s, "-p", proto, "-j", "MASQUERADE",
                                                     "--to-ports", "%d-%d" % (low, high))))
            rules.append(("nat", "LIBVIRT_PRT", ("-s", s, "!", "-d", s, "-j", "MASQUERADE")))
        elif mode == "route":
            rules.append(("filter", "LIBVIRT_FWO", ("-s", s, "-i", bridge, "-j", "ACCEPT")))
            rules.append(("filter", "LIBVIRT_FWI", ("-d", s, "-o", bridge, "-j", "ACCEPT")))
    rules.append(("filter", "LIBVIRT_FWX", ("-i", bridge, "-o", bridge, "-j", "ACCEPT")))
    rules.append(("filter", "LIBVIRT_FWO", ("-i", bridge, "-j", "REJECT", "--reject-with", "icmp-port-unreachable")))
    rules.append(("filter", "LIBVIRT_FWI", ("-o", bridge, "-j", "REJECT", "--reject-with", "icmp-port-unreachable")))
    return rules


def _iptables() -> str:
    path = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    if path is None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "a NAT or routed network needs iptables "
                          "(apt-get install iptables)")
    return path


def _run(args: list[str], check: bool = True) -> bool:
    proc = subprocess.run([_iptables(), "-w"] + args, capture_output=True, text=True, check=False)
    if proc.returncode != 0 and check:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Failed to apply firewall rules %s: %s"
                          % (" ".join(["iptables"] + args), proc.stderr.strip()))
    return proc.returncode == 0


def _exists(table: str, chain: str, args: tuple[str, ...]) -> bool:
    return _run(["-t", table, "-C", chain] + list(args), check=False)


def _ensure_chains() -> None:
    for table, chain, hook in CHAINS:
        if not _run(["-t", table, "-S", chain], check=False):
            _run(["-t", table, "-N", chain])
    # Jumps inserted bottom-up so that the first of CHAINS ends topmost in its hook.
    for table, chain, hook in reversed(CHAINS):
        if not _exists(table, hook, ("-j", chain)):
            _run(["-t", table, "-I", hook, "1", "-j", chain])


def add(rules: list[Rule]) -> None:
    """Add the rules (each once), making libvirt's chains first when missing."""
    if not rules:
        return
    _ensure_chains()
    for table, chain, args in rules:
        if not _exists(table, chain, args):
            _run(["-t", table, "-A", chain] + list(args))


def remove(rules: list[Rule]) -> None:
    """Remove the rules that exist (a half-made start added only some), then the private
    chains if no network has a rule in them any more."""
    if not rules:
        return
    for table, chain, args in rules:
        while _exists(table, chain, args):
            _run(["-t", table, "-D", chain] + list(args))
    for table, chain, _hook in CHAINS:
        listing = subprocess.run([_iptables(), "-w", "-t", table, "-S", chain], capture_output=True,
                                 text=True, check=False)
        if listing.returncode == 0 and len(listing.stdout.strip().splitlines()) > 1:
            return      # another network still uses the chains
    for table, chain, hook in CHAINS:
        while _exists(table, hook, ("-j", chain)):
            _run(["-t", table, "-D", hook, "-j", chain])
        if _run(["-t", table, "-S", chain], check=False):
            _run(["-t", table, "-X", chain], check=False)


def rule_to_json(rule: Rule) -> list:
    return [rule[0], rule[1], list(rule[2])]


def rule_from_json(data: list) -> Rule:
    return (str(data[0]), str(data[1]), tuple(str(a) for a in data[2]))
