"""The QEMU command line for a live definition and its cached chains.

Built as an argv list (no shell anywhere). Disks are given layer by layer as
JSON -blockdev nodes with explicit 'backing' references, so QEMU opens exactly
the files in the cache and probes nothing; devices use JSON -device, so paths
with commas or spaces need no escaping.
"""

from __future__ import annotations

import json

import os

from ..storage.probe import BACKING_FORMATS
from ..xmlmodel import integer_attribute
from . import cpuflags, devargs, lifecycle, sysinfo
from .capabilities import kvm_usable
from .chaincache import format_node, layers, storage_node
from .chainmodel import data_node
from .defaults import is_q35
from .devicemodel import Chardev, Controller, DiskDevice, Interface, Video, Watchdog
from .swtpm import emulated_tpm
from .swtpm import socket_path as swtpm_socket


def _qemu_opt(value: str) -> str:
    """Escape a value for QEMU's key=value option syntax (commas are doubled)."""
    return value.replace(",", ",,")


def blockdev_args(disk_el) -> list[str]:
    """-blockdev nodes for a disk's cached chain, bottom first (QEMU needs backings defined first)."""
    driver = disk_el.find("driver")
    cache = driver.get("cache") if driver is not None else None
    io = driver.get("io") if driver is not None else None
    discard = driver.get("discard") if driver is not None else None
    detect_zeroes = driver.get("detect_zeroes") if driver is not None else None
    readonly = disk_el.find("readonly") is not None
    chain = layers(disk_el)
    args = []
    for position in range(len(chain) - 1, -1, -1):
        layer = chain[position]
        storage: dict[str, object] = {"driver": "host_device" if layer.type == "block" else "file", "filename": layer.path,
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
        if detect_zeroes and position == 0:
            fmt["detect-zeroes"] = detect_zeroes
        if layer.data_file:         # qcow2 data_file: its own node, QEMU opens nothing by itself
            args += ["-blockdev", json.dumps({"driver": "file", "filename": layer.data_file,
                                              "node-name": data_node(layer.index), "auto-read-only": True},
                                             separators=(",", ":"))]
            fmt["data-file"] = data_node(layer.index)
        if layer.format in BACKING_FORMATS:      # QEMU knows "backing" for COW formats only
            fmt["backing"] = format_node(chain[position + 1].index) if position + 1 < len(chain) else None
        args += ["-blockdev", json.dumps(storage, separators=(",", ":")),
                 "-blockdev", json.dumps(fmt, separators=(",", ":"))]
    return args


def disk_device(disk: DiskDevice, q35: bool, bootindex: int | None) -> list[str]:
    cdrom = disk.device == "cdrom"
    chain = layers(disk.el)
    if disk.bus == "virtio":
        device = {"driver": "virtio-blk-pci", **devargs.pci_props(disk, q35)}
    elif disk.bus == "sata":
        ctrl = disk.drive_controller
        bus = "ide.%d" % disk.drive_unit if q35 and ctrl == 0 else "sata%d.%d" % (ctrl, disk.drive_unit)
        device = {"driver": "ide-cd" if cdrom else "ide-hd", "bus": bus}
    elif disk.bus == "fdc":
        device = {"driver": "floppy", "unit": disk.drive_unit}      # its boot index is the fdc's
        bootindex = None
    elif disk.bus == "ide":
        device = {"driver": "ide-cd" if cdrom else "ide-hd", "bus": "ide.%d" % disk.drive_bus,
                  "unit": disk.drive_unit}
    else:
        # virtio-scsi, as libvirt addresses it: the drive address's bus, target and unit are the
        # SCSI channel, id and LUN
        device = {"driver": "scsi-cd" if cdrom else "scsi-hd", "bus": "scsi%d.0" % disk.drive_controller,
                  "channel": disk.drive_bus, "scsi-id": disk.drive_target, "lun": disk.drive_unit}
    if chain:
        device["drive"] = format_node(chain[0].index)
    device["id"] = disk.alias
    if bootindex:
        device["bootindex"] = bootindex
    if disk.serial:
        device["serial"] = disk.serial
    return devargs.dev(device)


def _floppy_controller_args(devices, q35: bool, boot: dict) -> list[str]:
    """The fdc's drive boot indexes: pc has an ISA fdc on board (-global), q35 gets one as a
    device (QEMU's q35 has none unless asked for), as libvirt does."""
    floppies = [d for d in DiskDevice.all_in(devices) if d.bus == "fdc"]
    if not floppies:
        return []
    indexes = {}
    for disk in floppies:
        if boot.get(disk.el):
            indexes["bootindex" + "AB"[disk.drive_unit]] = boot[disk.el]
    if q35:
        return devargs.dev({"driver": "isa-fdc", **dict(sorted(indexes.items()))})
    args = []
    for key, value in sorted(indexes.items()):
        args += ["-global", "isa-fdc.%s=%d" % (key, value)]
    return args


def boot_indexes(root) -> dict:
    """bootindex per device element: per-device <boot order>, else <os><boot dev> order given to
    the first disk, cdrom, interface of each kind, as libvirt does."""
    devices = root.find("devices")
    out = {}
    for el in devices:
        if isinstance(el.tag, str) and el.find("boot") is not None:
            out[el] = integer_attribute(el.find("boot"), "order")
    if out:
        return out
    for n, boot in enumerate(root.iterfind("os/boot"), start=1):
        kind = boot.get("dev")
        if kind == "network":
            found = devices.find("interface")
        else:
            want = {"hd": "disk", "cdrom": "cdrom", "fd": "floppy"}[kind]
            found = next((d for d in devices.iterfind("disk") if d.get("device") == want), None)
        if found is not None and found not in out:
            out[found] = n
    return out


def _machine_opts(root, machine: str, q35: bool) -> str:
    opts = [machine, "usb=off"]
    features = root.find("features")
    vmport = features.find("vmport") if features is not None else None
    if vmport is not None:
        opts.append("vmport=%s" % vmport.get("state", "on"))
    smm = features.find("smm") if features is not None else None
    if smm is not None:
        opts.append("smm=%s" % smm.get("state", "on"))
    if features is None or features.find("acpi") is None:
        opts.append("acpi=off")
    opts += cpuflags.machine_opts(root)
    opts.append("dump-guest-core=off")
    loader = root.find("os/loader")
    if loader is not None and loader.get("type") == "pflash":
        opts.append("pflash0=libvirt-pflash0-format")
        if root.findtext("os/nvram"):
            opts.append("pflash1=libvirt-pflash1-format")
    return ",".join(opts)


def _firmware_args(root) -> list[str]:
    loader = root.find("os/loader")
    if loader is None:
        return []
    path = loader.text.strip()
    if loader.get("type", "rom") == "rom":
        return ["-bios", path]
    args = []
    for n, (file, readonly) in enumerate(((path, loader.get("readonly") == "yes"),
                                          (root.findtext("os/nvram"), False))):
        if not file:
            continue
        args += ["-blockdev", json.dumps({"driver": "file", "filename": file.strip(),
                                          "node-name": "libvirt-pflash%d-storage" % n, "auto-read-only": True,
                                          "discard": "unmap"}, separators=(",", ":")),
                 "-blockdev", json.dumps({"node-name": "libvirt-pflash%d-format" % n, "read-only": readonly,
                                          "driver": "raw", "file": "libvirt-pflash%d-storage" % n},
                                         separators=(",", ":"))]
    return args


def _cpu_args(root) -> list[str]:
    cpu = root.find("cpu")
    name = ""
    if cpu is not None:
        mode = cpu.get("mode", "custom")
        name = {"host-passthrough": "host", "host-model": "max", "maximum": "max"}.get(mode) \
            or cpu.findtext("model") or ""
        if name and mode == "host-passthrough" and cpu.get("migratable") == "off":
            name += ",migratable=off"
        for feature in cpu.iterfind("feature") if name else ():
            policy = feature.get("policy", "require")
            name += ",%s=%s" % (feature.get("name"), "off" if policy in ("disable", "forbid") else "on")
    extra = cpuflags.props(root)
    if extra:
        name = ",".join([name or "qemu64"] + extra)     # libvirt's default model when it needs one
    return ["-cpu", name] if name else []


def _smp(definition) -> str:
    smp = "%d" % definition.vcpus
    topology = definition.root.find("cpu/topology")
    if topology is not None:
        smp += ",maxcpus=%d" % definition.max_vcpus
        for key in ("sockets", "dies", "cores", "threads"):
            if topology.get(key):
                smp += ",%s=%s" % (key, topology.get(key))
        return smp
    return smp + ",maxcpus=%d" % definition.max_vcpus


def _clock_args(root, q35: bool) -> list[str]:
    clock = root.find("clock")
    rtc = "base=%s" % ("localtime" if clock.get("offset") == "localtime" else "utc")
    args = []
    for timer in clock.iterfind("timer"):
        name, policy = timer.get("name"), timer.get("tickpolicy")
        if name == "rtc" and policy == "catchup":
            rtc += ",driftfix=slew"
        elif name == "pit" and policy:
            args += ["-global", "kvm-pit.lost_tick_policy=%s" % {"catchup": "slew"}.get(policy, policy)]
        elif name == "hpet" and timer.get("present") == "no":
            args += ["-no-hpet"]
    return ["-rtc", rtc] + args


def _pm_args(root, q35: bool) -> list[str]:
    args = []
    for n, tag in ((3, "suspend-to-mem"), (4, "suspend-to-disk")):
        el = root.find("pm/" + tag)
        if el is not None:
            args += ["-global", "%s.disable_s%d=%d" % ("ICH9-LPC" if q35 else "PIIX4_PM", n,
                                                       0 if el.get("enabled") == "yes" else 1)]
    return args


def _boot_args(root) -> list[str]:
    opts = ["strict=on"]
    menu = root.find("os/bootmenu")
    if menu is not None and menu.get("enable") == "yes":
        opts.insert(0, "menu=on" + (",splash-time=%s" % menu.get("timeout") if menu.get("timeout") else ""))
    args = ["-boot", ",".join(opts)]
    for tag, flag in (("kernel", "-kernel"), ("initrd", "-initrd"), ("cmdline", "-append")):
        if root.findtext("os/" + tag):
            args += [flag, root.findtext("os/" + tag)]
    return args


def _free_port(start: int) -> int:
    import socket
    for port in range(start, start + 100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port for graphics")


def _graphics_args(devices, audio_id: str) -> list[str]:
    args = []
    for g in devices.iterfind("graphics"):
        listen_el = g.find("listen")
        listen = (listen_el.get("address") if listen_el is not None else None) or g.get("listen") \
            or "127.0.0.1"
        # autoport: the first free port from 5900, as libvirt's port allocator picks it, shown
        # in the live XML with the address listened on
        port = _free_port(5900) if g.get("autoport") == "yes" else integer_attribute(g, "port")
        g.set("port", str(port))
        g.set("listen", listen)
        if listen_el is not None:
            listen_el.set("address", listen)
        if g.get("type") == "vnc":
            args += ["-vnc", "%s:%d,audiodev=audio%s" % (listen, port - 5900, audio_id)]
        else:
            opts = "port=%d,addr=%s,disable-ticketing=on" % (port, listen)
            image = g.find("image")
            if image is not None and image.get("compression"):
                opts += ",image-compression=%s" % image.get("compression")
            args += ["-spice", opts + ",seamless-migration=on"]
    return args


def build(definition, emulator: str, monitor_fd: int, pidfile: str, state_dir: str | None = None,
          listeners: list[str] | tuple[str, ...] = (), tap_fds: dict[str, int] | None = None) -> list[str]:
    """The argv for a live definition; fills what only exists while it runs into it
    (aliases, the guest agent's socket path, the chosen firmware and its NVRAM).
    monitor_fd: a socket listening at the monitor's path, which QEMU inherits (as libvirt passes
    it: the caller connects at once and waits for QEMU's greeting, with no polling).
    listeners: sockets of extra QMP monitors reserved for event listeners (events.py).
    tap_fds: open taps QEMU inherits, by their <target dev> (netifaces.plug)."""
    root = definition.root
    machine = definition.machine
    q35 = is_q35(machine)
    devices = root.find("devices")
    run_dir = os.path.dirname(pidfile)
    if root.find("os").get("firmware") == "efi" or root.find("os/loader") is not None:
        from .firmware import resolve
        resolve(root, definition.name, state_dir or run_dir)
    devargs.assign_aliases(devices, q35)
    argv = [emulator,
            "-name", "guest=%s,debug-threads=on" % _qemu_opt(definition.name),
            "-S"]
    argv += _firmware_args(root)
    argv += ["-machine", _machine_opts(root, machine, q35)]
    loader = root.find("os/loader")
    if loader is not None and loader.get("secure") == "yes":
        argv += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    if definition.virt_type == "kvm" and kvm_usable():
        # KVM when it works; QEMU falls back to TCG on its own if KVM refuses.
        argv += ["-accel", "kvm", "-accel", "tcg"]
    else:
        argv += ["-accel", "tcg"]
    argv += _cpu_args(root)
    argv += ["-m", "%dk" % definition.memory_kib,
             "-smp", _smp(definition),
             "-uuid", definition.uuid]
    argv += sysinfo.args(root)
    argv += ["-no-user-config", "-nodefaults", "-display", "none"]
    argv += ["-chardev", "socket,id=charmonitor,fd=%d,server=on,wait=off" % monitor_fd,
             "-mon", "chardev=charmonitor,id=monitor,mode=control"]
    argv += ["-pidfile", pidfile,
             "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    for slot, path in enumerate(listeners):
        # QEMU broadcasts every event to every monitor, and serves one client per monitor.
        argv += ["-chardev", "socket,id=pvevents%d,path=%s,server=on,wait=off" % (slot, _qemu_opt(path)),
                 "-mon", "chardev=pvevents%d,mode=control" % slot]
    argv += _clock_args(root, q35)
    argv += lifecycle.qemu_args()
    argv += _pm_args(root, q35)
    argv += _boot_args(root)
    controllers = Controller.all_in(devices)
    for ctrl in sorted((c for c in controllers if c.type == "pci"), key=lambda c: c.index):
        argv += devargs.controller_args(ctrl, q35)
    # An EHCI master before its UHCI companions, which name its bus.
    for ctrl in sorted((c for c in controllers if c.type != "pci"), key=lambda c: c.startport is not None):
        argv += devargs.controller_args(ctrl, q35)
    boot = boot_indexes(root)
    argv += _floppy_controller_args(devices, q35, boot)
    for disk in DiskDevice.all_in(devices):
        argv += blockdev_args(disk.el)
        argv += disk_device(disk, q35, boot.get(disk.el))
    for iface in Interface.all_in(devices):
        argv += devargs.interface_args(iface, q35, boot.get(iface.el), (tap_fds or {}).get(iface.target_dev or ""))
    for serial in devices.iterfind("serial"):
        argv += devargs.serial_args(Chardev(serial))
    for channel in devices.iterfind("channel"):
        argv += devargs.channel_args(Chardev(channel), run_dir)
    tpm = emulated_tpm(root)
    if tpm is not None:
        argv += devargs.tpm_args(tpm, swtpm_socket(run_dir))
    for inp in devices.iterfind("input"):
        argv += devargs.input_args(inp)
    audio = devices.find("audio")
    audio_id = audio.get("id") if audio is not None else "1"
    if audio is not None:
        argv += ["-audiodev", json.dumps({"id": "audio%s" % audio_id, "driver": audio.get("type")},
                                         separators=(",", ":"))]
    argv += _graphics_args(devices, audio_id)
    for sound in devices.iterfind("sound"):
        ref = sound.find("audio")
        argv += devargs.sound_args(sound, q35, ref.get("id") if ref is not None else audio_id)
    videos = [v for v in Video.all_in(devices) if v.model != "none"]
    for n, video in enumerate(videos):
        argv += devargs.video_args(video, q35, n == 0)
    for redir in devices.iterfind("redirdev"):
        argv += devargs.redirdev_args(redir)
    for dog in Watchdog.all_in(devices):
        argv += devargs.watchdog_args(dog, q35)
    balloon = devices.find("memballoon")
    if balloon is not None:
        argv += devargs.balloon_args(balloon, q35)
    for rng in devices.iterfind("rng"):
        argv += devargs.rng_args(rng, q35)
    for panic in devices.iterfind("panic"):
        argv += devargs.panic_args(panic)
    return argv
