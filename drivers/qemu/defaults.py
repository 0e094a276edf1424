"""The QEMU driver's part of parsing a definition: what it supports, and the
defaults libvirt's QEMU driver fills in (emulator, machine type, PCI
addresses, controllers, balloon, input devices, NIC and video models).

Anything pyvirsh cannot honour is refused at define time with an
'unsupported configuration:' error rather than silently dropped.
"""

from __future__ import annotations

from lxml import etree

from ..api import DriverError, ErrorCode
from ..domxml import DomainDefaults
from .capabilities import Capabilities, find_emulator, host_arch

SUPPORTED_DEVICES = {"emulator", "disk", "controller", "interface", "serial", "console", "input", "graphics",
                     "video", "memballoon"}
DISK_FORMATS = ("raw", "qcow2", "qed", "vmdk", "vpc", "vdi", "qcow", "luks")
CACHE_MODES = ("default", "none", "writethrough", "writeback", "directsync", "unsafe")
IO_MODES = ("native", "threads", "io_uring")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")
VIDEO_MODELS = ("vga", "cirrus", "virtio", "bochs", "none")


def unsupported(message: str) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED, message)


class QemuDefaults(DomainDefaults):
    default_video = "vga"

    def __init__(self, caps: Capabilities):
        self.caps = caps

    def os_arch(self, os_type: str) -> str:
        return host_arch()

    def machine(self, arch: str) -> str | None:
        return None          # resolved in post_parse, once the emulator is known

    def post_parse(self, dom) -> None:
        root = dom.root
        if dom.virt_type not in ("qemu", "kvm"):
            raise unsupported("Emulator does not support virt type '%s'" % dom.virt_type)
        if dom.os_type != "hvm":
            raise unsupported("Emulator does not support OS type '%s'" % dom.os_type)
        arch = dom.arch
        devices = root.find("devices")
        emulator_el = devices.find("emulator")
        if emulator_el is None:
            emulator_el = etree.Element("emulator")
            devices.insert(0, emulator_el)
            emulator_el.text = find_emulator(arch)
        emulator = emulator_el.text
        type_el = root.find("os/type")
        machine = self.caps.canonical_machine(emulator, type_el.get("machine"))
        type_el.set("machine", machine)
        q35 = "q35" in machine

        for child in devices:
            if isinstance(child.tag, str) and child.tag not in SUPPORTED_DEVICES:
                raise unsupported("pyvirsh's QEMU driver does not support <%s> devices" % child.tag)
        for disk in devices.iterfind("disk"):
            _check_disk(disk, q35)
        for iface in devices.iterfind("interface"):
            if iface.get("type") != "user":
                raise unsupported("interface type '%s' is not supported; pyvirsh's QEMU driver runs "
                                  "without a daemon and offers <interface type='user'> only"
                                  % iface.get("type"))
            model = iface.find("model")
            if model is None:
                model = etree.SubElement(iface, "model")
                model.set("type", "rtl8139")
            elif model.get("type") not in NIC_MODELS:
                raise unsupported("interface model '%s' is not supported" % model.get("type"))
        for chardev in list(devices.iterfind("serial")) + list(devices.iterfind("console")):
            if chardev.get("type", "pty") != "pty":
                raise unsupported("character device type '%s' is not supported (only 'pty')"
                                  % chardev.get("type"))
        for graphics in devices.iterfind("graphics"):
            if graphics.get("type") != "vnc":
                raise unsupported("graphics type '%s' is not supported (only 'vnc')" % graphics.get("type"))
        for video in devices.iterfind("video"):
            model = video.find("model")
            if model is not None and model.get("type") not in VIDEO_MODELS:
                raise unsupported("video model '%s' is not supported" % model.get("type"))
        if devices.find("memballoon") is None:
            etree.SubElement(devices, "memballoon").set("model", "virtio")
        balloon = devices.find("memballoon")
        if balloon.get("model") not in ("virtio", "none"):
            raise unsupported("memballoon model '%s' is not supported" % balloon.get("model"))
        _add_inputs(devices)
        _add_root_controller(devices, q35)
        _assign_pci_addresses(devices, q35)


def _check_disk(disk, q35: bool) -> None:
    dtype = disk.get("type")
    if dtype not in ("file", "block", "volume"):
        raise unsupported("disk type '%s' is not supported (only 'file', 'block' and 'volume')" % dtype)
    if disk.get("device") not in ("disk", "cdrom"):
        raise unsupported("disk device '%s' is not supported" % disk.get("device"))
    target = disk.find("target")
    bus = target.get("bus")
    if bus not in ("virtio", "sata", "scsi", "ide"):
        raise unsupported("disk bus '%s' is not supported" % bus)
    if bus == "ide" and q35:
        raise unsupported("IDE controllers are unsupported for this QEMU binary or machine type")
    if bus == "virtio" and disk.get("device") == "cdrom":
        raise unsupported("cdrom device with virtio bus isn't supported")
    driver = disk.find("driver")
    if driver is None:
        driver = etree.Element("driver")
        disk.insert(0, driver)
    if driver.get("name", "qemu") != "qemu":
        raise unsupported("unsupported driver name '%s' for disk '%s'" % (driver.get("name"), target.get("dev")))
    driver.set("name", "qemu")
    fmt = driver.get("type")
    if fmt is None:
        # libvirt's QEMU driver defaults a file's format to raw (never probes the top image).
        driver.set("type", "raw")
    elif fmt not in DISK_FORMATS:
        raise unsupported("unknown driver format value '%s'" % fmt)
    for attr, allowed in (("cache", CACHE_MODES), ("io", IO_MODES), ("discard", ("unmap", "ignore"))):
        value = driver.get(attr)
        if value is not None and value not in allowed:
            raise unsupported("unsupported disk driver %s '%s'" % (attr, value))
    if driver.get("io") == "native" and driver.get("cache") not in ("none", "directsync"):
        raise unsupported("native I/O needs either no disk cache or directsync cache mode, QEMU "
                          "will fallback to aio=threads")


def _add_inputs(devices) -> None:
    have = {(i.get("type"), i.get("bus")) for i in devices.iterfind("input")}
    anchor = devices.find("graphics")
    for kind in ("mouse", "keyboard"):
        if (kind, "ps2") not in have:
            el = etree.Element("input")
            el.set("type", kind)
            el.set("bus", "ps2")
            (anchor.addprevious(el) if anchor is not None else devices.append(el))


def _add_root_controller(devices, q35: bool) -> None:
    model = "pcie-root" if q35 else "pci-root"
    for c in devices.iterfind("controller"):
        if c.get("type") == "pci":
            return
    el = etree.Element("controller")
    el.set("type", "pci")
    el.set("index", "0")
    el.set("model", model)
    existing = list(devices.iterfind("controller"))
    (existing[-1].addnext(el) if existing else _after_disks(devices, el))


def _after_disks(devices, el) -> None:
    disks = list(devices.iterfind("disk"))
    if disks:
        disks[-1].addnext(el)
    else:
        emulator = devices.find("emulator")
        (emulator.addnext(el) if emulator is not None else devices.insert(0, el))


def _assign_pci_addresses(devices, q35: bool) -> None:
    """Give every PCI device a fixed slot, so the guest sees the same hardware each boot.

    Slot 0 is the host bridge and slot 1 the PIIX3 (i440fx); the primary video card
    takes slot 2, as in libvirt; the rest follow in device order.
    """
    used = {0, 1} if not q35 else {0, 0x1f}
    wanted = []
    for c in devices.iterfind("controller"):
        if c.get("type") == "scsi":
            wanted.append(c)
        if c.get("type") == "sata" and not q35:
            wanted.append(c)
    wanted += list(devices.iterfind("interface"))
    videos = [v for v in devices.iterfind("video")
              if v.find("model") is None or v.find("model").get("type") != "none"]
    wanted += [d for d in devices.iterfind("disk") if d.find("target").get("bus") == "virtio"]
    balloon = devices.find("memballoon")
    if balloon is not None and balloon.get("model") == "virtio":
        wanted.append(balloon)
    for el in [*videos, *wanted]:
        addr = el.find("address")
        if addr is not None and addr.get("type") == "pci" and addr.get("slot"):
            used.add(int(addr.get("slot"), 16))
    for el in videos[:1]:
        if el.find("address") is None and 2 not in used:
            _set_pci(el, 2)
            used.add(2)
    for el in videos[1:] + wanted:
        if el.find("address") is not None:
            continue
        slot = next(s for s in range(2, 32) if s not in used)
        used.add(slot)
        _set_pci(el, slot)


def _set_pci(el, slot: int) -> None:
    addr = etree.SubElement(el, "address")
    for k, v in (("type", "pci"), ("domain", "0x0000"), ("bus", "0x00"), ("slot", "0x%02x" % slot),
                 ("function", "0x0")):
        addr.set(k, v)
