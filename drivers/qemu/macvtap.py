"""<interface type='direct'>: a macvtap on a host device, as libvirt's qemuInterfaceDirectConnect
(virNetDevMacVLanCreateWithVPortProfile, virNetDevMacVLanTapOpen):

- the macvtap (named by <target dev>, or the first free macvtapN) is made on <source dev> in
  its <source mode> (vepa when none is given; passthrough is the kernel's "passthru") with the
  guest's own MAC address: the guest talks on the host's segment under its own address;
- its character device /dev/tapIFINDEX is opened and QEMU gets the descriptor (fd=N), with a
  virtio-net header for the models libvirt gives one;
- passthrough hands the whole device to the guest: the device takes the guest's MAC for the
  time (its own is saved in RUN/NAME.macvtap.json first and given back when the macvtap goes).

netifaces.py names, records and removes the macvtap like the domain's taps.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import struct
import subprocess
import time

from ..api import DriverError, ErrorCode
from ..fsutil import atomic_write, read_text, remove

# libvirt's <source mode> -> ip link's macvtap mode
MODES = {"vepa": "vepa", "bridge": "bridge", "private": "private", "passthrough": "passthru"}
TUNGETIFF = 0x800454D2
TUNSETIFF = 0x400454CA
IFF_VNET_HDR = 0x4000
OPEN_TRIES = 10         # /dev/tapN comes from devtmpfs just after the link (libvirt tries as often)


def saved_file(run_dir: str, dom_name: str) -> str:
    return os.path.join(run_dir, dom_name + ".macvtap.json")


def _ip(args: list[str]) -> subprocess.CompletedProcess:
    from ..network.hostnet import find_tool
    return subprocess.run([find_tool("ip", "iproute2")] + args, capture_output=True, text=True, check=False)


def _reason(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.strip().rsplit(": ", 1)[-1] or "failed"


def check_source(iface) -> None:
    """At define, libvirt's parser: a direct interface names its device, and its mode (vepa
    when none is given, written out as libvirt writes it)."""
    source = iface.find("source")
    if source is None or not source.get("dev"):
        raise DriverError(ErrorCode.XML_ERROR, "No <source> 'dev' attribute specified with <interface type='direct'/>")
    mode = source.get("mode", "vepa")
    if mode not in MODES:
        raise DriverError(ErrorCode.XML_ERROR, "Invalid value for attribute 'mode' in element 'source': '%s'." % mode)
    source.set("mode", mode)


def lower_up(dev: str) -> None:
    """The host device online, if it is not (libvirt's qemuInterfaceStartDevice)."""
    shown = json.loads(_ip(["-j", "link", "show", "dev", dev]).stdout or "[{}]")
    if shown and "UP" not in shown[0].get("flags", []):
        proc = _ip(["link", "set", "dev", dev, "up"])
        if proc.returncode != 0:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to set '%s' up: %s" % (dev, _reason(proc)))


def source_of(iface) -> tuple[str, str]:
    """(host device, ip link mode) of a direct interface, checked as libvirt checks them."""
    from ..network.hostnet import netdev_exists

    source = iface.find("source")
    dev = source.get("dev") if source is not None else None
    if not dev:
        raise DriverError(ErrorCode.XML_ERROR, "No <source> 'dev' attribute specified with <interface type='direct'/>")
    mode = source.get("mode", "vepa")
    if mode not in MODES:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Unknown mode has been specified")
    if not netdev_exists(dev):
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to get index for interface %s: No such device" % dev)
    return dev, MODES[mode]


def add_link(name: str, dev: str, mode: str, mac: str, run_dir: str, dom_name: str) -> bool:
    """Make the macvtap; False when the name was taken meanwhile (another start chose it)."""
    if mode == "passthru":
        _take_device_mac(name, dev, mac, run_dir, dom_name)
    proc = _ip(["link", "add", "link", dev, "name", name, "address", mac, "type", "macvtap", "mode", mode])
    if proc.returncode == 0:
        return True
    if "File exists" in proc.stderr:
        restore_device_mac(run_dir, dom_name, name)
        return False
    restore_device_mac(run_dir, dom_name, name)
    raise DriverError(ErrorCode.SYSTEM_ERROR, "error creating macvtap interface %s@%s (%s): %s"
                      % (name, dev, mac, _reason(proc)))


def _take_device_mac(name: str, dev: str, mac: str, run_dir: str, dom_name: str) -> None:
    """passthrough: the device's own MAC is saved (before it changes), then it takes the guest's."""
    shown = json.loads(_ip(["-j", "link", "show", "dev", dev]).stdout or "[{}]")
    original = shown[0].get("address") if shown else None
    path = saved_file(run_dir, dom_name)
    saved = json.loads(read_text(path) or "{}")
    if original and name not in saved:
        saved[name] = [dev, original]
        atomic_write(path, json.dumps(saved))
    proc = _ip(["link", "set", "dev", dev, "address", mac])
    if proc.returncode != 0:
        restore_device_mac(run_dir, dom_name, name)
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Failed to set the MAC address of %s: %s" % (dev, _reason(proc)))


def restore_device_mac(run_dir: str, dom_name: str, name: str) -> None:
    """Give a passthrough macvtap's device its own MAC back (after the macvtap is gone)."""
    path = saved_file(run_dir, dom_name)
    text = read_text(path)
    if not text:
        return
    saved = json.loads(text)
    entry = saved.pop(name, None)
    if entry is not None:
        _ip(["link", "set", "dev", entry[0], "address", entry[1]])
    if saved:
        atomic_write(path, json.dumps(saved))
    else:
        remove(path)


def open_tap(name: str, vnet_hdr: bool) -> int:
    """The macvtap's /dev/tapIFINDEX, opened, with the virtio-net header on or off; the link up."""
    try:
        index = socket.if_nametoindex(name)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to get index for interface %s: %s"
                          % (name, err.strerror)) from None
    path = "/dev/tap%d" % index
    for attempt in range(OPEN_TRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            break
        except OSError as err:
            if err.errno != errno.ENOENT or attempt == OPEN_TRIES - 1:
                raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot open macvtap tap device %s: %s"
                                  % (path, err.strerror)) from None
            time.sleep(0.1)
    try:
        ifreq = bytearray(fcntl.ioctl(fd, TUNGETIFF, bytes(40)))
        flags = struct.unpack_from("H", ifreq, 16)[0]
        wanted = flags | IFF_VNET_HDR if vnet_hdr else flags & ~IFF_VNET_HDR
        if wanted != flags:
            struct.pack_into("H", ifreq, 16, wanted)
            fcntl.ioctl(fd, TUNSETIFF, bytes(ifreq))
    except OSError as err:
        os.close(fd)
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to set the virtio-net header of %s: %s"
                          % (path, err.strerror)) from None
    proc = _ip(["link", "set", "dev", name, "up"])
    if proc.returncode != 0:
        os.close(fd)
        raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to set '%s' up: %s" % (name, _reason(proc)))
    return fd
