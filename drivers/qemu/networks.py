"""The QEMU driver's virtual networks, daemonless: state in files beside the pools'.

    CONFIG/networks/NAME.xml          a persistent network's definition
    CONFIG/networks/autostart/NAME    present when the network autostarts
    RUN/networks/NAME.xml             a running network's live definition (a transient
                                      network has only this)
    RUN/networks/NAME.plan.json       what a start makes on the host (bridge, firewall
                                      rules, dnsmasq), written before it touches anything
    RUN/networks/NAME/                its dnsmasq's configuration, pidfile, hosts and leases

A network runs from its start to its destroy. As libvirt's network driver, pyvirsh
gives a new network a free virbrN bridge name and a MAC address when it is defined,
and qemu:///system has libvirt's `default` NAT network (192.168.122.0/24) defined on
first use. The host parts are in ..network.hostnet and ..network.firewall.

Crashes: the plan is written before the first host change and removed after the
last teardown step, so a start killed half way, a dnsmasq that died or a bridge that
vanished is noticed by the next call that reads the network, which tears down what
the plan names (every step tolerates a part that is already gone) and shows the
network inactive; net-start makes it afresh. Every change takes the networks lock.

Each define, undefine, start and destroy is told to `net-event` listeners through the
connection's event log (events.py), as libvirt's network driver sends its lifecycle events.
"""

from __future__ import annotations

import os

from ..api import (ALL_NETWORK_LIST_FLAGS, DriverError, ErrorCode, Network, NetworkUpdateFlags,
                   NetworkXMLFlags, check_flags, network_matches, writes)
from ..fsutil import FileLock, atomic_write, ensure_dir, read_text, remove
from .events import NET_DEFINED, NET_STARTED, NET_STOPPED, NET_UNDEFINED
from .paths import DriverPaths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..network.netdef import NetworkDef

LOCK_TIMEOUT = 30.0

# libvirt's default.xml, which its network driver defines on a host's first start.
DEFAULT_NETWORK_XML = """<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""


def _free_default_subnet() -> int:
    """N of the first 192.168.N.0/24 from 122 on that no host route overlaps, as libvirt's
    packaging picks the default network's subnet."""
    import ipaddress

    routes = []
    try:
        with open("/proc/net/route") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
                mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
                if int(mask):
                    routes.append(ipaddress.IPv4Network("%s/%s" % (dest, mask), strict=False))
    except (OSError, ValueError, IndexError):
        pass
    for n in range(122, 255):
        subnet = ipaddress.IPv4Network("192.168.%d.0/24" % n)
        if not any(subnet.overlaps(r) for r in routes):
            return n
    return 122


class NetworkPaths:
    def __init__(self, paths: DriverPaths):
        self.config = os.path.join(paths.config, "networks")
        self.autostart_dir = os.path.join(self.config, "autostart")
        self.run = os.path.join(paths.run, "networks")
        self.lock = os.path.join(paths.locks, "networks.lock")

    def config_file(self, name: str) -> str:
        return os.path.join(self.config, name + ".xml")

    def live_file(self, name: str) -> str:
        return os.path.join(self.run, name + ".xml")

    def plan_file(self, name: str) -> str:
        return os.path.join(self.run, name + ".plan.json")

    def autostart_file(self, name: str) -> str:
        return os.path.join(self.autostart_dir, name)

    def dnsmasq(self, name: str):
        from ..network.hostnet import DnsmasqFiles
        return DnsmasqFiles(os.path.join(self.run, name), name)


class NetworkRecord:
    """One network as its files say."""

    def __init__(self, config: NetworkDef | None, live: NetworkDef | None, autostart: bool,
                 planned: bool):
        self.config = config
        self.live = live
        self.autostart = autostart
        self.planned = planned          # a plan file exists: host parts may exist
        current = live if live is not None else config
        if current is None:
            raise ValueError("a network record needs a definition")
        self.current: NetworkDef = current

    @property
    def name(self) -> str:
        return self.current.name

    @property
    def uuid(self) -> str:
        return self.current.uuid


def _read_def(path: str) -> NetworkDef | None:
    from ..network.netdef import parse_network

    text = read_text(path)
    return parse_network(text) if text is not None else None


def _no_network_name(name: str) -> DriverError:
    return DriverError(ErrorCode.NO_NETWORK, "no network with matching name '%s'" % name)


class NetworkStore:
    """Reading and writing the network files of one connection."""

    def __init__(self, paths: DriverPaths, passive: bool = False):
        self.paths = NetworkPaths(paths)
        self.event_log = paths.event_log
        self.system = getattr(paths, "mode", "") == "system"
        # A passive connection (TAB completion) reads and never settles or defines anything.
        self.passive = passive
        self._lock: FileLock | None = None

    def lock(self) -> FileLock:
        if self._lock is None:
            ensure_dir(os.path.dirname(self.paths.lock))
            self._lock = FileLock(self.paths.lock, LOCK_TIMEOUT, "the networks")
        return self._lock

    def names(self) -> list[str]:
        self._first_use()
        names: set[str] = set()
        for directory in (self.paths.config, self.paths.run):
            try:
                entries = os.listdir(directory)
            except OSError:
                continue
            names.update(e[:-4] for e in entries if e.endswith(".xml") and not e.startswith("."))
            names.update(e[:-10] for e in entries if e.endswith(".plan.json"))
        return sorted(names)

    def _first_use(self) -> None:
        """qemu:///system gets libvirt's default network the first time networks are read."""
        if not self.system or self.passive or os.path.isdir(self.paths.config):
            return
        from ..network.netdef import parse_network
        with self.lock():
            if os.path.isdir(self.paths.config):
                return
            ensure_dir(self.paths.config)
            net = parse_network(DEFAULT_NETWORK_XML.replace("192.168.122.", "192.168.%d." % _free_default_subnet()))
            prepare_definition(self, net)
            self.save_config(net)
            self.set_autostart(net.name, True)

    def load(self, name: str, settle: bool = True) -> NetworkRecord | None:
        if "/" in name or name.startswith(".") or "\0" in name:
            return None
        config = _read_def(self.paths.config_file(name))
        live = _read_def(self.paths.live_file(name))
        planned = os.path.exists(self.paths.plan_file(name))
        if settle and not self.passive and (planned and live is None or live is not None and not healthy(self, live)):
            self.settle(name)
            return self.load(name, settle=False)
        if config is None and live is None:
            return None
        return NetworkRecord(config, live, os.path.exists(self.paths.autostart_file(name)), planned)

    def settle(self, name: str) -> None:
        """Tear down a start that died half way, or a running network whose dnsmasq or
        bridge is gone, so that it reads as inactive (under the lock; checked again there)."""
        with self.lock():
            live = _read_def(self.paths.live_file(name))
            planned = os.path.exists(self.paths.plan_file(name))
            if live is not None and healthy(self, live) or live is None and not planned:
                return
            teardown(self, name)

    def records(self) -> list[NetworkRecord]:
        return [r for r in (self.load(n) for n in self.names()) if r is not None]

    def event(self, name: str, event: int) -> None:
        """Tell `net-event` listeners of a change just made (events.py's log)."""
        from .events import record_network
        record_network(self.event_log, name, event)

    def save_config(self, net: NetworkDef) -> None:
        ensure_dir(self.paths.config)
        atomic_write(self.paths.config_file(net.name), net.to_xml())

    def save_live(self, net: NetworkDef) -> None:
        ensure_dir(self.paths.run)
        atomic_write(self.paths.live_file(net.name), net.to_xml())

    def set_autostart(self, name: str, on: bool) -> None:
        path = self.paths.autostart_file(name)
        if on:
            ensure_dir(self.paths.autostart_dir)
            atomic_write(path, "")
        else:
            remove(path)

    def check_new(self, net: NetworkDef, *, creating: bool) -> NetworkRecord | None:
        """virNetworkObjIsDuplicate: the record the definition replaces (same name and UUID)."""
        existing = None
        for rec in self.records():
            if rec.name == net.name:
                if rec.uuid != net.uuid:
                    raise DriverError(ErrorCode.OPERATION_FAILED, "network '%s' already exists with uuid %s"
                                      % (rec.name, rec.uuid))
                if creating and rec.live is not None:
                    raise DriverError(ErrorCode.OPERATION_INVALID, "network is already active as '%s'"
                                      % rec.name)
                existing = rec
            elif rec.uuid == net.uuid:
                raise DriverError(ErrorCode.OPERATION_FAILED, "network '%s' is already defined with uuid %s"
                                  % (rec.name, rec.uuid))
        return existing


# ---------------------------------------------------------------------------
# Definition checks and defaults (libvirt's networkValidate, networkSetBridgeName,
# virNetworkSetBridgeMacAddr)
# ---------------------------------------------------------------------------

def _check_name(name: str) -> None:
    if name in ("", ".", "..") or name.startswith(".") or "\0" in name or "\n" in name or \
            len(name.encode()) > 200:
        raise DriverError(ErrorCode.XML_ERROR, "network name '%s' is not usable as a file name" % name)


def prepare_definition(store: NetworkStore, net: NetworkDef) -> None:
    from ..network.hostnet import unused_bridge_name
    from ..network.netdef import BRIDGE_MAKING_MODES

    _check_name(net.name)
    if sum(1 for ip in net.ips if ip.ranges or ip.hosts) > 1:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "Multiple IPv4 dhcp sections found -- dhcp is supported "
                          "only for a single IPv4 address on each network")
    others = [r for r in store.records() if r.name != net.name]
    taken = {b for r in others for b in (r.current.bridge, r.config.bridge if r.config else None) if b}
    if net.forward_mode in BRIDGE_MAKING_MODES:
        if net.bridge is None:
            net.bridge = unused_bridge_name(taken)
        elif net.bridge in taken:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "bridge name '%s' already in use." % net.bridge)
        if net.mac is None:
            net.mac = "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3))
    elif net.forward_mode == "bridge" and net.bridge is None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "network '%s' has forward mode '%s' but no forward dev "
                          "and no bridge device" % (net.name, net.forward_mode))


# ---------------------------------------------------------------------------
# Starting and stopping
# ---------------------------------------------------------------------------

def healthy(store: NetworkStore, live: NetworkDef) -> bool:
    """Whether a running network's host parts are all still there."""
    from ..network import hostnet
    from ..network.netdef import BRIDGE_MAKING_MODES

    if live.forward_mode not in BRIDGE_MAKING_MODES:
        return True
    if live.bridge is None or not hostnet.netdev_exists(live.bridge):
        return False
    return not (hostnet.needs_dnsmasq(live) and hostnet.dnsmasq_pid(store.paths.dnsmasq(live.name)) is None)


def _start(store: NetworkStore, net: NetworkDef) -> None:
    """Make the network's host parts and write its live file; on any failure, undo them."""
    from ..network import firewall, hostnet
    from ..network.netdef import BRIDGE_MAKING_MODES

    if net.forward_mode not in BRIDGE_MAKING_MODES:
        # forward mode='bridge': a host bridge someone else made and keeps.
        assert net.bridge is not None
        if not hostnet.is_bridge(net.bridge):
            raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to get index for interface %s: No such device"
                              % net.bridge)
        store.save_live(net)
        return
    assert net.bridge is not None
    others = [(r.live.bridge or "", r.live) for r in store.records() if r.live is not None and r.name != net.name]
    hostnet.route_collision(net, others)
    if hostnet.netdev_exists(net.bridge):
        raise DriverError(ErrorCode.SYSTEM_ERROR, "error creating bridge interface %s: File exists" % net.bridge)
    rules = firewall.network_rules(net.forward_mode, net.bridge, [ip.interface.network for ip in net.ips],
                                   net.nat_ports)
    ensure_dir(store.paths.run)
    import json         # here: the connection imports this module, and json loads re, enum...
    plan = {"bridge": net.bridge, "rules": [firewall.rule_to_json(r) for r in rules]}
    atomic_write(store.paths.plan_file(net.name), json.dumps(plan))
    try:
        hostnet.create_bridge(net)
        hostnet.set_ipv6_sysctls(net)
        firewall.add(rules)
        if net.forward_mode in ("nat", "route"):
            hostnet.enable_ip_forwarding()
        hostnet.add_addresses(net)
        if hostnet.needs_dnsmasq(net):
            hostnet.start_dnsmasq(net, store.paths.dnsmasq(net.name))
        store.save_live(net)
    except BaseException:
        try:
            teardown(store, net.name)
        except DriverError:
            pass            # the plan stays; the next call that reads the network tries again
        raise


def teardown(store: NetworkStore, name: str) -> None:
    """Undo what the plan names, each step tolerating a part already gone, then forget it."""
    from ..network import firewall, hostnet

    text = read_text(store.paths.plan_file(name))
    hostnet.stop_dnsmasq(store.paths.dnsmasq(name))
    if text is not None:
        import json
        plan = json.loads(text)
        firewall.remove([firewall.rule_from_json(r) for r in plan.get("rules", [])])
        hostnet.delete_bridge(plan["bridge"])
    remove(store.paths.live_file(name))
    remove(store.paths.plan_file(name))


# ---------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------

class QemuNetworks:
    """The network half of a QemuConnection (a mixin: it reads self.paths)."""

    paths: DriverPaths

    @property
    def networks(self) -> NetworkStore:
        store = self.__dict__.get("_network_store")
        if store is None:
            store = self.__dict__["_network_store"] = NetworkStore(self.paths, getattr(self, "passive", False))
        return store

    def list_all_networks(self, flags: int = 0):
        check_flags(flags, ALL_NETWORK_LIST_FLAGS, "networkConnectListAllNetworks")
        return [QemuNetwork(self, r.name, r.uuid) for r in self.networks.records()
                if network_matches(flags, r.live is not None, r.config is not None, r.autostart)]

    def lookup_network_by_name(self, name: str):
        rec = self.networks.load(name)
        if rec is None:
            raise _no_network_name(name)
        return QemuNetwork(self, rec.name, rec.uuid)

    def lookup_network_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        canonical = parse_uuid(uuid)
        if canonical is None:
            raise DriverError(ErrorCode.INVALID_ARG, "uuidstr in virNetworkLookupByUUIDString must be a valid UUID")
        for rec in self.networks.records():
            if rec.uuid == canonical:
                return QemuNetwork(self, rec.name, rec.uuid)
        raise DriverError(ErrorCode.NO_NETWORK, "no network with matching uuid '%s'" % canonical)

    @writes("virNetworkDefineXML")
    def network_define_xml(self, xml: str, flags: int = 0):
        from ..network.netdef import parse_network
        check_flags(flags, 1, "networkDefineXMLFlags")     # VALIDATE: the parse is the validation
        net = parse_network(xml)
        store = self.networks
        with store.lock():
            existing = store.check_new(net, creating=False)
            _keep_assigned(net, existing)
            prepare_definition(store, net)
            store.save_config(net)
            store.event(net.name, NET_DEFINED)
        return QemuNetwork(self, net.name, net.uuid)

    @writes("virNetworkCreateXML")
    def network_create_xml(self, xml: str, flags: int = 0):
        from ..network.netdef import parse_network
        check_flags(flags, 1, "networkCreateXMLFlags")
        net = parse_network(xml)
        store = self.networks
        with store.lock():
            existing = store.check_new(net, creating=True)
            _keep_assigned(net, existing)
            prepare_definition(store, net)
            _start(store, net)
            store.event(net.name, NET_STARTED)
        return QemuNetwork(self, net.name, net.uuid)


def _keep_assigned(net: NetworkDef, existing: NetworkRecord | None) -> None:
    """A redefinition keeps the bridge name and MAC the old definition was given."""
    if existing is None:
        return
    old = existing.config or existing.current
    if net.bridge is None and old.forward_mode == net.forward_mode:
        net.bridge = old.bridge
    if net.mac is None:
        net.mac = old.mac


class QemuNetwork(Network):
    """A handle on one network; every call reads its files again."""

    def __init__(self, conn: QemuNetworks, name: str, uuid: str):
        self.conn = conn
        self.name = name
        self.uuid = uuid

    def connection(self):
        return self.conn

    @property
    def store(self) -> NetworkStore:
        return self.conn.networks

    def record(self) -> NetworkRecord:
        rec = self.store.load(self.name)
        if rec is None or rec.uuid != self.uuid:
            raise DriverError(ErrorCode.NO_NETWORK, "no network with matching uuid '%s' (%s)" % (self.uuid, self.name))
        return rec

    def is_active(self) -> bool:
        return self.record().live is not None

    def is_persistent(self) -> bool:
        return self.record().config is not None

    def get_autostart(self) -> bool:
        return self.record().autostart

    def get_bridge_name(self) -> str:
        rec = self.record()
        if rec.current.bridge is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "network '%s' does not have a bridge name." % self.name)
        return rec.current.bridge

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, NetworkXMLFlags.INACTIVE, "networkGetXMLDesc")
        rec = self.record()
        if flags & NetworkXMLFlags.INACTIVE and rec.config is not None:
            return rec.config.to_xml()
        return rec.current.to_xml()

    @writes("virNetworkCreate")
    def create(self) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.live is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "network is already active")
            _start(self.store, rec.current)
            self.store.event(self.name, NET_STARTED)

    @writes("virNetworkDestroy")
    def destroy(self) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.live is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "network '%s' is not active" % self.name)
            teardown(self.store, self.name)
            self.store.event(self.name, NET_STOPPED)

    @writes("virNetworkUndefine")
    def undefine(self) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "can't undefine transient network")
            # A running network goes on running, transient, as in libvirt.
            self.store.set_autostart(self.name, False)
            remove(self.store.paths.config_file(self.name))
            self.store.event(self.name, NET_UNDEFINED)

    @writes("virNetworkSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "cannot set autostart for transient network")
            self.store.set_autostart(self.name, autostart)

    @writes("virNetworkUpdate")
    def update(self, command: int, section: int, parent_index: int, xml: str, flags: int = 0) -> None:
        from ..network.hostnet import needs_dnsmasq, restart_dnsmasq
        from ..network.netupdate import copy_definition, update_definition

        F = NetworkUpdateFlags
        check_flags(flags, F.LIVE | F.CONFIG, "networkUpdate")
        with self.store.lock():
            rec = self.record()
            if flags == F.CURRENT:
                flags = F.LIVE if rec.live is not None else F.CONFIG
            if flags & F.LIVE and rec.live is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "network is not running")
            if flags & F.CONFIG and rec.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID,
                                  "cannot change persistent config of a transient network")
            config = live = None
            if flags & F.CONFIG:
                assert rec.config is not None
                config = copy_definition(rec.config)
                update_definition(config, command, section, parent_index, xml)
            if flags & F.LIVE:
                assert rec.live is not None
                live = copy_definition(rec.live)
                update_definition(live, command, section, parent_index, xml)
            if config is not None:
                self.store.save_config(config)
            if live is not None:
                self.store.save_live(live)
                if needs_dnsmasq(live) and live.forward_mode != "bridge":
                    restart_dnsmasq(live, self.store.paths.dnsmasq(self.name))

    def list_all_ports(self, flags: int = 0):
        from .netports import list_ports
        check_flags(flags, 0, "networkListAllPorts")
        return list_ports(self)

    def port_lookup_by_uuid(self, uuid: str):
        from .netports import lookup
        return lookup(self, uuid)

    def get_dhcp_leases(self, mac: str | None, flags: int = 0):
        from ..network.hostnet import leases
        from ..network.netdef import parse_mac

        check_flags(flags, 0, "networkGetDHCPLeases")
        if mac is not None and parse_mac(mac) is None:
            raise DriverError(ErrorCode.INVALID_ARG, "invalid MAC address '%s'" % mac)
        rec = self.record()
        if rec.live is None:
            return []
        return leases(rec.live, self.store.paths.dnsmasq(self.name), mac)
