"""QEMU -device/-chardev/-netdev/-object arguments for a domain's devices, as
libvirt 9.0 writes them for QEMU 7.2, and the aliases (QEMU ids) libvirt gives
each device in the live XML."""

from __future__ import annotations

import json
import os

from ..xmlmodel import integer_attribute
from .devicemodel import Chardev, Controller, Device, DiskDevice, Interface, Video, Watchdog
from .refusal import unsupported

USB_DRIVERS = {"qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci", "piix3-uhci": "piix3-usb-uhci",
               "ich9-ehci1": "ich9-usb-ehci1", "ich9-uhci1": "ich9-usb-uhci1", "ich9-uhci2": "ich9-usb-uhci2",
               "ich9-uhci3": "ich9-usb-uhci3"}
NIC_DRIVERS = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139"}
VIDEO_DRIVERS = {"vga": "VGA", "cirrus": "cirrus-vga", "bochs": "bochs-display", "qxl": "qxl-vga",
                 "virtio": "virtio-vga"}
SECONDARY_VIDEO = {"qxl": "qxl", "virtio": "virtio-gpu-pci"}
SOUND_DRIVERS = {"ich9": "ich9-intel-hda", "ich6": "intel-hda", "ac97": "AC97"}
INPUT_DRIVERS = {("tablet", "usb"): "usb-tablet", ("mouse", "usb"): "usb-mouse",
                 ("keyboard", "usb"): "usb-kbd",
                 ("tablet", "virtio"): "virtio-tablet-pci", ("mouse", "virtio"): "virtio-mouse-pci",
                 ("keyboard", "virtio"): "virtio-keyboard-pci"}


def dev(props: dict) -> list[str]:
    return ["-device", json.dumps(props, separators=(",", ":"))]


def bus_name(index: int, q35: bool) -> str:
    return ("pcie.0" if q35 else "pci.0") if index == 0 else "pci.%d" % index


def pci_props(device: Device, q35: bool) -> dict:
    addr = device.pci()
    if addr is None:
        return {}
    bus, slot, function = addr
    props: dict[str, str | bool] = {"bus": bus_name(bus, q35)}
    if device.address.multifunction == "on":
        props["multifunction"] = True
    props["addr"] = "0x%x" % slot if function == 0 else "0x%x.0x%x" % (slot, function)
    return props


# --------------------------------------------------------------------------
# Aliases
# --------------------------------------------------------------------------

def assign_aliases(devices, q35: bool) -> None:
    """QEMU ids for every device, written into the live XML as <alias name=...>."""
    for disk in DiskDevice.all_in(devices):
        disk.set_alias(disk_alias(disk))
    for ctrl in Controller.all_in(devices):
        ctrl.set_alias(controller_alias(ctrl, q35))
    counters: dict[str, int] = {}
    for el in devices:
        if not isinstance(el.tag, str):
            continue
        prefix = {"interface": "net", "serial": "serial", "channel": "channel", "input": "input",
                  "sound": "sound", "video": "video", "redirdev": "redir", "rng": "rng",
                  "watchdog": "watchdog", "tpm": "tpm"}.get(el.tag)
        if prefix:
            n = counters.get(prefix, 0)
            counters[prefix] = n + 1
            Device(el).set_alias("%s%d" % (prefix, n))
        elif el.tag == "memballoon" and el.get("model") != "none":
            Device(el).set_alias("balloon0")
        elif el.tag == "console":
            Device(el).set_alias("serial%s" % (el.find("target").get("port", "0")))


def disk_alias(disk: DiskDevice) -> str:
    """A disk's QEMU id: from its target name (virtio) or drive address, so never reused."""
    from ..ids import disk_name_to_index
    if disk.bus == "virtio":
        return "virtio-disk%d" % disk_name_to_index(disk.dev)
    if disk.bus == "scsi":
        return "scsi%d-%d-%d-%d" % (disk.drive_controller, disk.drive_bus, disk.drive_target, disk.drive_unit)
    return "%s%d-%d-%d" % (disk.bus, disk.drive_controller, disk.drive_bus, disk.drive_unit)


def controller_alias(ctrl: Controller, q35: bool) -> str:
    if ctrl.type == "pci":
        return bus_name(ctrl.index, q35)
    if ctrl.type == "usb":
        return "usb" if ctrl.index == 0 else "usb%d" % ctrl.index
    if ctrl.type == "sata" and q35 and ctrl.index == 0:
        return "ide"
    if ctrl.type == "ide":
        return "ide"
    return "%s%d" % (ctrl.type, ctrl.index)


# --------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------

def controller_args(ctrl: Controller, q35: bool) -> list[str]:
    ident = ctrl.alias
    if ctrl.type == "pci":
        if ctrl.model == "pcie-root-port":
            return dev({"driver": "pcie-root-port", "port": ctrl.port, "chassis": ctrl.chassis, "id": ident,
                        **pci_props(ctrl, q35)})
        if ctrl.model == "pcie-to-pci-bridge":
            return dev({"driver": "pcie-pci-bridge", "id": ident, **pci_props(ctrl, q35)})
        if ctrl.model == "pci-bridge":
            chassis = integer_attribute(ctrl.el.find("target"), "chassisNr")
            return dev({"driver": "pci-bridge", "chassis_nr": chassis, "id": ident, **pci_props(ctrl, q35)})
        return []                                   # pci-root / pcie-root: the machine's own
    if ctrl.type == "usb":
        if ctrl.model == "none":
            return []
        props = {"driver": USB_DRIVERS[ctrl.model]}
        if ctrl.model in ("qemu-xhci", "nec-xhci") and ctrl.ports:
            props.update({"p2": ctrl.ports, "p3": ctrl.ports})
        if ctrl.model.startswith("ich9-uhci") and ctrl.startport is not None:
            # a companion of the EHCI: it joins the master's bus and has no id of its own
            props.update({"masterbus": "%s.0" % ident, "firstport": ctrl.startport})
            return dev({**props, **pci_props(ctrl, q35)})
        return dev({**props, "id": ident, **pci_props(ctrl, q35)})
    if ctrl.type == "sata":
        if q35 and ctrl.index == 0:
            return []                               # the ICH9's own AHCI
        return dev({"driver": "ahci", "id": ident, **pci_props(ctrl, q35)})
    if ctrl.type == "ide":
        return []                                   # the PIIX3's own IDE
    if ctrl.type == "fdc":
        return []                                   # made with its floppies (cmdline)
    if ctrl.type == "virtio-serial":
        return dev({"driver": "virtio-serial-pci", "id": ident, **pci_props(ctrl, q35)})
    if ctrl.type == "scsi":
        return dev({"driver": "virtio-scsi-pci", "id": ident, **pci_props(ctrl, q35)})
    raise unsupported("controller type '%s' is not supported" % ctrl.type)


def interface_args(iface: Interface, q35: bool, bootindex: int | None, tap_fd: int | str | None = None) -> list[str]:
    """tap_fd: the descriptor (or its getfd name) of a tap QEMU cannot open by name (a
    bridge helper's, netifaces.py)."""
    n = iface.alias[3:]
    props = {"driver": NIC_DRIVERS[iface.model], "netdev": "hostnet%s" % n, "id": iface.alias,
             "mac": iface.mac, **pci_props(iface, q35)}
    if bootindex:
        props["bootindex"] = bootindex
    if iface.type in ("network", "bridge", "ethernet", "direct") and tap_fd is not None:
        backend = {"type": "tap", "id": "hostnet%s" % n, "fd": str(tap_fd)}
    elif iface.type in ("network", "bridge", "ethernet"):
        # The tap pyvirsh made before QEMU started (netifaces.py), opened by name.
        backend = {"type": "tap", "id": "hostnet%s" % n, "ifname": iface.target_dev, "script": "no",
                   "downscript": "no"}
    else:
        backend = {"type": "user", "id": "hostnet%s" % n}
    netdev = json.dumps(backend, separators=(",", ":"))
    return ["-netdev", netdev] + dev(props)


def chardev_backend(chardev: Chardev, ident: str, socket_path: str | None = None) -> list[str]:
    """-chardev for a serial/console/channel source (QEMU's key=value syntax, commas doubled)."""
    ctype = chardev.type
    if ctype == "pty":
        return ["-chardev", "pty,id=%s" % ident]
    if ctype == "null":
        return ["-chardev", "null,id=%s" % ident]
    if ctype == "file":
        opts = "file,id=%s,path=%s" % (ident, _opt(chardev.source_path))
        if chardev.source_append in ("on", "yes"):
            opts += ",append=on"
        return ["-chardev", opts]
    if ctype == "unix":
        path = socket_path or chardev.source_path
        server = chardev.source_mode in (None, "bind")
        return ["-chardev", "socket,id=%s,path=%s%s" % (ident, _opt(path),
                                                       ",server=on,wait=off" if server else "")]
    if ctype == "tcp":
        server = chardev.source_mode in (None, "bind")
        opts = "socket,id=%s,host=%s,port=%s" % (ident, _opt(chardev.source_host),
                                                  _opt(chardev.source_service))
        if chardev.protocol == "telnet":
            opts += ",telnet=on"
        if server:
            opts += ",server=on,wait=off"
        return ["-chardev", opts]
    if ctype == "spicevmc":
        return ["-chardev", "spicevmc,id=%s,name=vdagent" % ident]
    raise unsupported("character device type '%s' is not supported" % ctype)


def _opt(value: str) -> str:
    return value.replace(",", ",,")


def serial_args(serial: Chardev) -> list[str]:
    port = serial.target_port or 0
    ident = "charserial%d" % port
    return chardev_backend(serial, ident) + dev({"driver": "isa-serial", "chardev": ident,
                                                "id": serial.alias, "index": port})


def channel_args(channel: Chardev, run_dir: str) -> list[str]:
    from .sockpath import short_path
    ident = "char" + channel.alias
    socket_path = None
    if channel.type == "unix":
        if not channel.source_path:
            # libvirt's automatic path: one socket per channel name in the domain's run directory
            channel.source_path = os.path.join(run_dir, "channel", channel.target_name)
            channel.source_mode = "bind"
            os.makedirs(os.path.dirname(channel.source_path), mode=0o700, exist_ok=True)
        socket_path = short_path(channel.source_path)
    if channel.type in ("unix", "spicevmc"):
        # The guest has not opened the port yet; libvirt shows the same until QEMU reports a change.
        channel.el.find("target").set("state", "disconnected")
    port = integer_attribute(channel.el.find("address"), "port")
    ctrl = integer_attribute(channel.el.find("address"), "controller", 0)
    return chardev_backend(channel, ident, socket_path) + dev(
        {"driver": "virtserialport", "bus": "virtio-serial%d.0" % ctrl, "nr": port, "chardev": ident,
         "id": channel.alias, "name": channel.target_name})


def input_args(el) -> list[str]:
    dev_ = Device(el)
    kind, bus = el.get("type"), el.get("bus")
    if bus == "ps2":
        return []                                   # the i8042 every x86 machine has
    props = {"driver": INPUT_DRIVERS[(kind, bus)], "id": dev_.alias}
    addr = el.find("address")
    if bus == "usb" and addr is not None:
        props.update({"bus": "usb.0", "port": addr.get("port")})
    return dev(props)


def video_args(video: Video, q35: bool, primary: bool) -> list[str]:
    if video.model == "none":
        return []
    driver = VIDEO_DRIVERS[video.model] if primary else SECONDARY_VIDEO.get(video.model)
    if driver is None:
        raise unsupported("video model '%s' can only be the primary video device" % video.model)
    props = {"driver": driver, "id": video.alias}
    if video.model == "qxl":
        props.update({"ram_size": video.ram * 1024, "vram_size": video.vram * 1024,
                      "vgamem_mb": video.vgamem // 1024, "max_outputs": video.heads})
    elif video.model == "virtio":
        props["max_outputs"] = video.heads
    elif video.model in ("vga", "cirrus", "bochs") and video.vram:
        props["vgamem_mb"] = video.vram // 1024
    return dev({**props, **pci_props(video, q35)})


def sound_args(el, q35: bool, audio_id: str) -> list[str]:
    dev_ = Device(el)
    model = el.get("model")
    args = dev({"driver": SOUND_DRIVERS[model], "id": dev_.alias, **pci_props(dev_, q35)})
    if model in ("ich9", "ich6"):
        args += dev({"driver": "hda-duplex", "id": "%s-codec0" % dev_.alias, "bus": "%s.0" % dev_.alias,
                     "cad": 0, "audiodev": "audio%s" % audio_id})
    else:
        props = json.loads(args[1])
        props["audiodev"] = "audio%s" % audio_id
        args = dev(props)
    return args


def rng_args(el, q35: bool) -> list[str]:
    dev_ = Device(el)
    n = dev_.alias[3:]
    backend = el.findtext("backend").strip()
    props = {"driver": "virtio-rng-pci", "rng": "objrng%s" % n, "id": dev_.alias}
    rate = el.find("rate")
    if rate is not None:
        props["max-bytes"] = integer_attribute(rate, "bytes")
        props["period"] = integer_attribute(rate, "period", 1000)
    return ["-object", json.dumps({"qom-type": "rng-random", "id": "objrng%s" % n, "filename": backend},
                                  separators=(",", ":"))] + dev({**props, **pci_props(dev_, q35)})


def balloon_args(el, q35: bool) -> list[str]:
    if el.get("model") == "none":
        return []
    dev_ = Device(el)
    props = {"driver": "virtio-balloon-pci", "id": "balloon0", **pci_props(dev_, q35)}
    if el.get("autodeflate") is not None:
        props["deflate-on-oom"] = el.get("autodeflate") == "on"
    if el.get("freePageReporting") is not None:
        props["free-page-reporting"] = el.get("freePageReporting") == "on"
    stats = el.find("stats")
    if stats is not None and stats.get("period"):
        # dommemstat --period: how often QEMU asks the guest's balloon driver for its statistics
        props["guest-stats-polling-interval"] = int(stats.get("period"))
    return dev(props)


def watchdog_args(dog: Watchdog, q35: bool) -> list[str]:
    args = []
    if dog.model == "i6300esb":
        args += dev({"driver": "i6300esb", "id": dog.alias, **pci_props(dog, q35)})
    elif dog.model == "ib700":
        args += dev({"driver": "ib700", "id": dog.alias})
    action = {"reset": "reset", "shutdown": "shutdown", "poweroff": "poweroff", "pause": "pause",
              "none": "none", "inject-nmi": "inject-nmi"}[dog.action]
    return args + ["-action", "watchdog=%s" % action]


def panic_args(el) -> list[str]:
    """The ISA pvpanic device a guest reports a panic through (<on_crash> acts on it)."""
    props: dict[str, object] = {"driver": "pvpanic"}
    addr = el.find("address")
    if addr is not None and addr.get("iobase"):
        props["ioport"] = int(addr.get("iobase"), 0)
    return dev(props)


def tpm_args(el, socket_path: str) -> list[str]:
    """The emulated TPM: QEMU talks to swtpm over its control socket (swtpm.py starts it)."""
    alias = Device(el).alias
    return ["-chardev", "socket,id=chrtpm,path=%s" % _opt(socket_path),
            "-tpmdev", "emulator,id=tpm-%s,chardev=chrtpm" % alias] + dev(
        {"driver": el.get("model"), "tpmdev": "tpm-%s" % alias, "id": alias})


def redirdev_args(el) -> list[str]:
    dev_ = Device(el)
    ident = "char" + dev_.alias
    addr = el.find("address")
    return ["-chardev", "spicevmc,id=%s,name=usbredir" % ident] + dev(
        {"driver": "usb-redir", "chardev": ident, "id": dev_.alias, "bus": "usb.0", "port": addr.get("port")})
