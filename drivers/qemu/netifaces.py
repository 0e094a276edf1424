"""Tap devices for a domain's <interface type='network'>, type='bridge' and type='ethernet'
(and the macvtap of a type='direct', macvtap.py),
made by pyvirsh before QEMU starts (or before a hot-plugged NIC reaches QEMU) and removed
when the domain stops (or the NIC is unplugged), as libvirt's QEMU driver does
(qemuInterfaceBridgeConnect, qemuInterfaceEthernetConnect): one tap per interface, named by
<target dev> or the first free vnetN, its MAC the guest's with the first byte 0xFE (so the
bridge never takes the guest's address), up; network and bridge taps get the bridge's MTU and
join it, an ethernet tap runs its <script> instead; <target managed='no'> names an existing
tap that stays someone else's. Each gets its <bandwidth> (bandwidth.py). QEMU opens the tap
by name (-netdev tap,ifname=...,script=no). A network interface's <source> gets the bridge
and a portid (its network port, netports.py). <link state='down'/> is set over QMP before
the guest runs.

The names are written to RUN/NAME.taps before each tap is made, so a pyvirsh killed during a
start or a hot-plug, or a QEMU that died, leaves taps the next clean-up removes.

A driver not run by root (qemu:///session) cannot make taps: a network or bridge interface's
tap comes from qemu-bridge-helper instead (bridgehelper.py), as an open descriptor that QEMU
gets as `fd=N`. Such a tap goes when QEMU closes it and is never recorded.
"""

from __future__ import annotations

import json
import os

from ..api import DriverError, ErrorCode
from ..fsutil import atomic_write, read_text, remove

# libvirt's reserved prefixes: a <target dev> starting so is a name libvirt gave, replaced at start.
RESERVED_PREFIXES = ("vnet", "vif", "macvtap", "macvlan")
# The interface types whose tap (or macvtap, for direct) pyvirsh makes.
TAP_TYPES = ("network", "bridge", "ethernet", "direct")
# In a domain's tap record, a tap pyvirsh did not make (<target managed='no'>): only its
# bandwidth settings are cleared at the end, the tap stays.
NOT_OURS = "!"


def taps_file(run_dir: str, name: str) -> str:
    return os.path.join(run_dir, name + ".taps")


def _ip(args: list[str], what: str) -> None:
    import subprocess           # here: a start without taps never runs a tool
    from ..network.hostnet import find_tool
    proc = subprocess.run([find_tool("ip", "iproute2")] + args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "%s: %s" % (what, proc.stderr.strip().rsplit(": ", 1)[-1]))


def _bridge_of(conn, iface, check: bool = True) -> str:
    """The bridge an interface joins: its network's (which must run) or the one it names
    (check: that it exists; qemu-bridge-helper checks it itself)."""
    from ..network.hostnet import is_bridge

    kind = iface.get("type")
    source = iface.find("source")
    if kind == "network":
        name = source.get("network") if source is not None else None
        if not name:
            raise DriverError(ErrorCode.XML_ERROR, "No <source> 'network' attribute specified with "
                              "<interface type='network'/>")
        rec = conn.networks.load(name)
        if rec is None:
            raise DriverError(ErrorCode.NO_NETWORK, "no network with matching name '%s'" % name)
        if rec.live is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, "network '%s' is not active" % name)
        if rec.live.bridge is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "network '%s' does not have a bridge name." % name)
        if not source.get("portid"):
            import uuid
            source.set("portid", str(uuid.uuid4()))         # the network port it is (netports.py)
        source.set("bridge", rec.live.bridge)
        return rec.live.bridge
    bridge = source.get("bridge") if source is not None else None
    if not bridge:
        raise DriverError(ErrorCode.XML_ERROR, "Missing <source> element with bridge name in interface's <source>")
    if check and not is_bridge(bridge):
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Cannot get interface MTU on '%s': No such device" % bridge)
    return bridge


def _mtu(dev: str) -> str:
    """The bridge's MTU, which libvirt gives the tap too."""
    import subprocess           # here: a start without taps never runs a tool
    from ..network.hostnet import find_tool
    proc = subprocess.run([find_tool("ip", "iproute2"), "-j", "link", "show", "dev", dev], capture_output=True,
                          text=True, check=False)
    try:
        return str(json.loads(proc.stdout)[0]["mtu"])
    except (ValueError, IndexError, KeyError):
        return "1500"


def plug(conn, live, run_dir: str, dom_name: str) -> dict[str, int]:
    """Make the taps of the live definition's network and bridge interfaces (setting their
    <target dev>); on failure, remove the ones made. Returns the descriptors QEMU is to get
    (tap name -> fd: the bridge helper's taps), which the caller closes once QEMU has them."""
    for iface in live.root.iterfind("devices/interface"):
        check_applicable(iface)
    wanted = [i for i in live.root.iterfind("devices/interface") if i.get("type") in TAP_TYPES]
    fds: dict[str, int] = {}
    if not wanted:
        return fds
    unplug(run_dir, dom_name)       # taps of an earlier start killed before it recorded anything
    made: list[str] = []
    record = taps_file(run_dir, dom_name)
    try:
        for iface in wanted:
            _plug_one(conn, iface, made, record, fds)
    except BaseException:
        close_fds(fds)
        unplug(run_dir, dom_name)
        raise
    return fds


def close_fds(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def check_applicable(iface) -> None:
    """A <script> is run for type='ethernet' only and a <bandwidth> set on a tap: on any other
    type they are refused, not dropped (libvirt warns and drops such a bandwidth)."""
    kind = iface.get("type", "user")
    if iface.find("script") is not None and kind != "ethernet":
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "scripts are not supported on interfaces of type %s" % kind)
    if iface.find("bandwidth") is not None and kind not in TAP_TYPES:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "setting bandwidth on interfaces of type '%s' is not "
                          "implemented yet" % kind)


def plug_hotplugged(conn, iface, run_dir: str, dom_name: str) -> int | None:
    """The tap of one interface hot-plugged into a running domain, added to the domain's record
    (so its stop, or a later clean-up, removes it too); nothing is left if this fails.
    Returns the descriptor QEMU is to get (a bridge helper's tap), if any."""
    record = taps_file(run_dir, dom_name)
    text = read_text(record)
    made: list[str] = json.loads(text) if text else []
    before = list(made)
    fds: dict[str, int] = {}
    try:
        _plug_one(conn, iface, made, record, fds)
    except BaseException:
        close_fds(fds)
        for name in made[len(before):]:
            unplug_one(run_dir, dom_name, name.removeprefix(NOT_OURS))
        raise
    return next(iter(fds.values()), None)


# The NIC models libvirt gives a tap with a virtio-net header (qemuInterfaceIsVnetCompatModel).
VNET_HDR_MODELS = ("virtio", "virtio-transitional", "virtio-non-transitional", "e1000e", "vmxnet3")


def _plug_one(conn, iface, made: list[str], record: str, fds: dict[str, int]) -> None:
    from ..network.hostnet import netdev_exists
    from .bandwidth import apply
    from .bridgehelper import privileged, tap_on_bridge

    if iface.get("type") == "direct":
        _plug_macvtap(iface, made, record, fds)
        return
    ethernet = iface.get("type") == "ethernet"
    helped = not ethernet and not privileged()
    bridge = None if ethernet else _bridge_of(conn, iface, check=not helped)
    target = iface.find("target")
    name = target.get("dev") if target is not None else None
    if helped:
        assert bridge is not None
        model = iface.find("model")
        name, fd = tap_on_bridge(bridge, model is not None and model.get("type") in VNET_HDR_MODELS)
        fds[name] = fd
        apply(name, iface.find("bandwidth"))
        _set_target(iface, name)
        return
    if ethernet and target is not None and target.get("managed") == "no":
        _existing_tap(iface, name, made, record)
        return
    if name is None or name.startswith(RESERVED_PREFIXES):
        name = _new_tap(made, record)
    elif netdev_exists(name):
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to create tap device %s: Device or resource busy" % name)
    else:
        made.append(name)
        atomic_write(record, json.dumps(made))       # before the tap exists: a crash leaves its name
        try:
            _ip(["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"], "Unable to create tap device %s" % name)
        except DriverError:
            made.pop()          # not ours: never removed by our clean-up
            atomic_write(record, json.dumps(made))
            raise
    mac = iface.find("mac")
    if mac is not None and mac.get("address"):
        _ip(["link", "set", "dev", name, "address", "fe" + mac.get("address")[2:]],
            "Failed to set the MAC address of %s" % name)
    if bridge is not None:
        _ip(["link", "set", "dev", name, "mtu", _mtu(bridge)], "cannot set interface MTU on '%s'" % name)
        _ip(["link", "set", "dev", name, "master", bridge], "Unable to add bridge %s port %s" % (bridge, name))
    _ip(["link", "set", "dev", name, "up"], "failed to set '%s' up" % name)
    if ethernet:
        _run_script(iface, name)
    apply(name, iface.find("bandwidth"))
    _set_target(iface, name)


def _set_target(iface, name: str) -> None:
    """<target dev='NAME'/> in the live definition, where libvirt puts it."""
    target = iface.find("target")
    if target is None:
        from lxml import etree
        target = etree.Element("target")
        before = iface.find("source")
        if before is None:
            before = iface.find("mac")
        if before is None:
            iface.insert(0, target)
        else:
            before.addnext(target)
    target.set("dev", name)


def _plug_macvtap(iface, made: list[str], record: str, fds: dict[str, int]) -> None:
    """<interface type='direct'>: its macvtap (macvtap.py), recorded like a tap; QEMU gets
    the opened /dev/tapN."""
    from ..network.hostnet import netdev_exists
    from . import macvtap
    from .bandwidth import apply

    dev, mode = macvtap.source_of(iface)
    run_dir, dom_name = os.path.dirname(record), os.path.basename(record)[:-len(".taps")]
    mac = iface.find("mac")
    if mac is None or not mac.get("address"):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "interface has no MAC address")
    address = mac.get("address")
    target = iface.find("target")
    name = target.get("dev") if target is not None else None
    if name is None or name.startswith(RESERVED_PREFIXES):
        name = _new_name(made, record, "macvtap", lambda n: macvtap.add_link(n, dev, mode, address, run_dir, dom_name))
    else:
        taken = DriverError(ErrorCode.SYSTEM_ERROR, "Unable to create macvtap device %s: File exists" % name)
        if netdev_exists(name):
            raise taken
        made.append(name)
        atomic_write(record, json.dumps(made))       # before the macvtap exists: a crash leaves its name
        try:
            if not macvtap.add_link(name, dev, mode, address, run_dir, dom_name):
                raise taken
        except DriverError:
            made.pop()          # not ours: never removed by our clean-up
            atomic_write(record, json.dumps(made))
            raise
    macvtap.lower_up(dev)
    model = iface.find("model")
    fds[name] = macvtap.open_tap(name, model is not None and model.get("type") in VNET_HDR_MODELS)
    apply(name, iface.find("bandwidth"))
    _set_target(iface, name)


def _existing_tap(iface, name: str | None, made: list[str], record: str) -> None:
    """<interface type='ethernet'><target dev='NAME' managed='no'/>: a tap someone else made
    and owns; QEMU opens it, pyvirsh only adds (and at the end clears) its bandwidth."""
    from ..network.hostnet import netdev_exists
    from .bandwidth import apply

    if not name:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "target dev must be supplied when managed='no'")
    if not netdev_exists(name):
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to get index for interface %s: No such device" % name)
    if iface.find("bandwidth") is not None:
        made.append(NOT_OURS + name)
        atomic_write(record, json.dumps(made))
        apply(name, iface.find("bandwidth"))


def _run_script(iface, name: str) -> None:
    """<script path>: run with the tap's name, as libvirt's virNetDevRunEthernetScript."""
    import subprocess           # here: a start without taps never runs a tool
    script = iface.find("script")
    if script is None or not script.get("path"):
        return
    try:
        proc = subprocess.run([script.get("path"), name], capture_output=True, text=True, check=False)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Cannot run %s: %s" % (script.get("path"), err.strerror)) from None
    if proc.returncode != 0:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Child process (%s %s) unexpected exit status %d%s"
                          % (script.get("path"), name, proc.returncode,
                             ": " + proc.stderr.strip() if proc.stderr.strip() else ""))


def _new_tap(made: list[str], record: str) -> str:
    """The first free vnetN, made."""
    return _new_name(made, record, "vnet", lambda name: _ip(["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"],
                                                            "Unable to create tap device %s" % name))


def _new_name(made: list[str], record: str, prefix: str, create) -> str:
    """The first free PREFIXN, made by create(name) (False or a DriverError with the name then
    taken: another pyvirsh starting a domain at the same moment took it first, and the next
    one is tried)."""
    from ..network.hostnet import netdev_exists

    for n in range(65536):
        name = "%s%d" % (prefix, n)
        if name in made or netdev_exists(name):
            continue
        made.append(name)
        atomic_write(record, json.dumps(made))       # before the device exists: a crash leaves its name
        try:
            created = create(name)
        except DriverError:
            made.pop()                              # not ours: never removed by our clean-up
            atomic_write(record, json.dumps(made))
            if netdev_exists(name):
                continue
            raise
        if created is False:
            made.pop()
            atomic_write(record, json.dumps(made))
            continue
        return name
    raise DriverError(ErrorCode.INTERNAL_ERROR, "no free %s device name" % prefix)


def unplug(run_dir: str, dom_name: str) -> None:
    """Remove the taps a start of the domain recorded (those still there)."""
    import subprocess           # here: a start without taps never runs a tool
    from ..network.hostnet import netdev_exists

    record = taps_file(run_dir, dom_name)
    text = read_text(record)
    if text is None:
        return
    for name in json.loads(text):
        if name.startswith(NOT_OURS):
            from .bandwidth import clear
            if netdev_exists(name[len(NOT_OURS):]):
                clear(name[len(NOT_OURS):])
            continue
        if netdev_exists(name):
            from ..network.hostnet import find_tool
            subprocess.run([find_tool("ip", "iproute2"), "link", "del", "dev", name], capture_output=True, check=False)
        _restore_device(run_dir, dom_name, name)
    remove(record)


def _restore_device(run_dir: str, dom_name: str, name: str) -> None:
    """A passthrough macvtap's host device gets its own MAC back (macvtap.py)."""
    if os.path.exists(os.path.join(run_dir, dom_name + ".macvtap.json")):
        from .macvtap import restore_device_mac
        restore_device_mac(run_dir, dom_name, name)


def unplug_one(run_dir: str, dom_name: str, name: str) -> None:
    """Remove one tap of the domain's record (a hot-unplugged interface's), and its name from it."""
    import subprocess           # here: a start without taps never runs a tool
    from ..network.hostnet import find_tool, netdev_exists

    record = taps_file(run_dir, dom_name)
    text = read_text(record)
    made = json.loads(text) if text else []
    if NOT_OURS + name in made:
        from .bandwidth import clear
        clear(name)
        made.remove(NOT_OURS + name)
        atomic_write(record, json.dumps(made))
        return
    if name not in made:
        return
    if netdev_exists(name):
        subprocess.run([find_tool("ip", "iproute2"), "link", "del", "dev", name], capture_output=True, check=False)
    _restore_device(run_dir, dom_name, name)
    made.remove(name)
    atomic_write(record, json.dumps(made))


def set_link_states(qmp, root) -> None:
    """Interfaces whose <link state='down'/> QEMU cannot take on its command line: set over QMP
    before the guest runs, as libvirt's qemuProcessSetLinkStates."""
    for iface in root.iterfind("devices/interface"):
        link = iface.find("link")
        if link is not None and link.get("state") == "down":
            set_link(qmp, iface.find("alias").get("name"), False)


def set_link(qmp, alias: str, up: bool) -> None:
    try:
        qmp.execute("set_link", {"name": alias, "up": up})
    except DriverError:
        raise DriverError(ErrorCode.OPERATION_FAILED, "Couldn't set link state on interface: %s" % alias) from None


def remove_strays(run_dir: str, dom_name: str, live_root) -> None:
    """Taps of the domain's record that no interface of its live definition uses: made by a
    hot-plug that was killed before the interface was recorded (or that failed)."""
    text = read_text(taps_file(run_dir, dom_name))
    if not text:
        return
    used = {t.get("dev") for t in live_root.iterfind("devices/interface/target")}
    for name in json.loads(text):
        name = name.removeprefix(NOT_OURS)
        if name not in used:
            unplug_one(run_dir, dom_name, name)
