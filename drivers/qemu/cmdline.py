"""The QEMU command line for a live definition and its cached chains.

Built as an argv list (no shell anywhere). Disks are given layer by layer as
JSON -blockdev nodes with explicit 'backing' references, so QEMU opens exactly
the files in the cache and probes nothing; devices use JSON -device, so paths
with commas or spaces need no escaping.
"""

from __future__ import annotations

import json

from ..storage.probe import BACKING_FORMATS
from .capabilities import kvm_usable
from .chaincache import format_node, layers, storage_node


def _qemu_opt(value: str) -> str:
    """Escape a value for QEMU's key=value option syntax (commas are doubled)."""
    return value.replace(",", ",,")


def _pci(el) -> dict:
    addr = el.find("address")
    if addr is None or addr.get("type") != "pci":
        return {}
    return {"bus": "pci.0", "addr": "0x%x" % int(addr.get("slot"), 16)}


def blockdev_args(disk_el) -> list[str]:
    """-blockdev nodes for a disk's cached chain, bottom first (QEMU needs backings defined first)."""
    driver = disk_el.find("driver")
    cache = driver.get("cache") if driver is not None else None
    io = driver.get("io") if driver is not None else None
    discard = driver.get("discard") if driver is not None else None
    readonly = disk_el.find("readonly") is not None
    chain = layers(disk_el)
    args = []
    for position in range(len(chain) - 1, -1, -1):
        layer = chain[position]
        storage = {"driver": "host_device" if layer.type == "block" else "file", "filename": layer.path,
                   "node-name": storage_node(layer.index), "auto-read-only": True}
        if discard == "unmap":
            storage["discard"] = "unmap"
        if cache in ("none", "directsync"):
            storage["cache"] = {"direct": True, "no-flush": False}
        elif cache == "unsafe":
            storage["cache"] = {"direct": False, "no-flush": True}
        if io:
            storage["aio"] = io
        fmt = {"driver": layer.format, "file": storage_node(layer.index), "node-name": format_node(layer.index),
               "read-only": readonly or position > 0}
        if discard == "unmap":
            fmt["discard"] = "unmap"
        if layer.format in BACKING_FORMATS:      # QEMU knows "backing" for COW formats only
            fmt["backing"] = format_node(chain[position + 1].index) if position + 1 < len(chain) else None
        args += ["-blockdev", json.dumps(storage, separators=(",", ":")),
                 "-blockdev", json.dumps(fmt, separators=(",", ":"))]
    return args


def disk_device(disk_el, counters: dict) -> list[str]:
    target = disk_el.find("target")
    bus, dev = target.get("bus"), target.get("dev")
    cdrom = disk_el.get("device") == "cdrom"
    chain = layers(disk_el)
    device = {}
    if bus == "virtio":
        device = {"driver": "virtio-blk-pci", **_pci(disk_el), "id": "virtio-disk%d" % counters["virtio"]}
        counters["virtio"] += 1
    elif bus in ("sata", "ide"):
        addr = disk_el.find("address")
        unit = int(addr.get("unit", "0")) if addr is not None else 0
        busno = int(addr.get("bus", "0")) if addr is not None else 0
        if bus == "sata":
            device = {"driver": "ide-cd" if cdrom else "ide-hd", "bus": "sata0.%d" % unit,
                      "id": "sata0-0-%d" % unit}
        else:
            device = {"driver": "ide-cd" if cdrom else "ide-hd", "bus": "ide.%d" % busno, "unit": unit,
                      "id": "ide0-%d-%d" % (busno, unit)}
    elif bus == "scsi":
        addr = disk_el.find("address")
        unit = int(addr.get("unit", "0")) if addr is not None else 0
        device = {"driver": "scsi-cd" if cdrom else "scsi-hd", "bus": "scsi0.0", "channel": 0, "scsi-id": 0,
                  "lun": unit, "id": "scsi0-0-0-%d" % unit}
    if chain:
        device["drive"] = format_node(chain[0].index)
    serial = disk_el.findtext("serial")
    if serial:
        device["serial"] = serial
    boot = disk_el.find("boot")
    if boot is not None and boot.get("order"):
        device["bootindex"] = int(boot.get("order"))
    return ["-device", json.dumps(device, separators=(",", ":"))]


def build(definition, emulator: str, qmp_path: str, pidfile: str) -> list[str]:
    root = definition.root
    machine = definition.machine
    argv = [emulator,
            "-name", "guest=%s,debug-threads=on" % _qemu_opt(definition.name),
            "-S",
            "-machine", "%s,usb=off,dump-guest-core=off" % machine]
    if definition.virt_type == "kvm" and kvm_usable():
        # KVM when it works; QEMU falls back to TCG on its own if KVM refuses.
        argv += ["-accel", "kvm", "-accel", "tcg"]
    else:
        argv += ["-accel", "tcg"]
    cpu = root.find("cpu")
    if cpu is not None:
        mode = cpu.get("mode", "custom")
        if mode == "host-passthrough":
            argv += ["-cpu", "host"]
        elif mode == "host-model":
            argv += ["-cpu", "max"]
        elif cpu.findtext("model"):
            argv += ["-cpu", cpu.findtext("model")]
    argv += ["-m", "%dk" % definition.memory_kib,
             "-smp", "%d,maxcpus=%d" % (definition.vcpus, definition.max_vcpus),
             "-uuid", definition.uuid,
             "-no-user-config", "-nodefaults", "-display", "none",
             "-qmp", "unix:%s,server=on,wait=off" % _qemu_opt(qmp_path),
             "-pidfile", pidfile,
             "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    if root.findtext("clock") is not None and root.find("clock").get("offset") == "localtime":
        argv += ["-rtc", "base=localtime"]
    devices = root.find("devices")
    for controller in devices.iterfind("controller"):
        ctype = controller.get("type")
        if ctype == "scsi":
            argv += ["-device", json.dumps({"driver": "virtio-scsi-pci", **_pci(controller), "id": "scsi0"},
                                           separators=(",", ":"))]
        elif ctype == "sata" and "q35" not in machine:
            argv += ["-device", json.dumps({"driver": "ahci", **_pci(controller), "id": "sata0"},
                                           separators=(",", ":"))]
    counters = {"virtio": 0}
    for disk in devices.iterfind("disk"):
        argv += blockdev_args(disk)
        argv += disk_device(disk, counters)
    for n, iface in enumerate(devices.iterfind("interface")):
        model = iface.find("model").get("type")
        driver = "virtio-net-pci" if model == "virtio" else model
        argv += ["-netdev", "user,id=hostnet%d" % n,
                 "-device", json.dumps({"driver": driver, "netdev": "hostnet%d" % n, "id": "net%d" % n,
                                        "mac": iface.find("mac").get("address"), **_pci(iface)},
                                       separators=(",", ":"))]
    for n, serial in enumerate(devices.iterfind("serial")):
        argv += ["-chardev", "pty,id=charserial%d" % n,
                 "-device", "isa-serial,chardev=charserial%d,id=serial%d" % (n, n)]
    for graphics in devices.iterfind("graphics"):
        listen = graphics.get("listen") or "127.0.0.1"
        if graphics.get("autoport") == "yes":
            argv += ["-vnc", "%s:0,to=100" % listen]
        else:
            argv += ["-vnc", "%s:%d" % (listen, int(graphics.get("port", "5900")) - 5900)]
    for video in devices.iterfind("video"):
        model = video.find("model").get("type") if video.find("model") is not None else "vga"
        qdev = {"vga": "VGA", "cirrus": "cirrus-vga", "virtio": "virtio-vga", "bochs": "bochs-display"}.get(model)
        if qdev:
            argv += ["-device", json.dumps({"driver": qdev, "id": "video0", **_pci(video)}, separators=(",", ":"))]
    balloon = devices.find("memballoon")
    if balloon is not None and balloon.get("model") == "virtio":
        argv += ["-device", json.dumps({"driver": "virtio-balloon-pci", "id": "balloon0", **_pci(balloon)},
                                       separators=(",", ":"))]
    return argv
