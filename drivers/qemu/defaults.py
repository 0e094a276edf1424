"""The QEMU driver's part of parsing a definition: what it supports, and the
defaults libvirt 9.0's QEMU driver fills in (emulator, machine type, default
controllers, the serial port a lone console implies, virtio-serial for
channels, USB ports, audio, video model sizes, balloon, PCI/PCIe addresses).

Everything not listed in support.py is refused at define time with an
'unsupported configuration:' error rather than silently dropped.
"""

from __future__ import annotations

import copy

from lxml import etree

from ..api import DriverError, ErrorCode
from ..domxml import DomainDefaults
from ..xmlmodel import integer_attribute
from . import cpuflags, lifecycle, pcitopology, support, sysinfo
from .capabilities import Capabilities, find_emulator, host_arch
from .devicemodel import Chardev, Controller, DiskDevice, Input, Video
from .refusal import unsupported

DISK_FORMATS = ("raw", "qcow2", "qed", "vmdk", "vpc", "vdi", "qcow", "luks")
CACHE_MODES = ("default", "none", "writethrough", "writeback", "directsync", "unsafe")
IO_MODES = ("native", "threads", "io_uring")
DETECT_ZEROES = ("off", "on", "unmap")
USB_MODELS = ("qemu-xhci", "nec-xhci", "piix3-uhci", "ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3",
              "none")
PCI_MODELS = ("pci-root", "pcie-root", "pcie-root-port", "pcie-to-pci-bridge", "pci-bridge")
# Video model defaults libvirt writes into the definition (KiB; heads).
VIDEO_SIZES = {"qxl": (("ram", "65536"), ("vram", "65536"), ("vgamem", "16384")),
               "vga": (("vram", "16384"),), "cirrus": (("vram", "16384"),), "bochs": (("vram", "16384"),)}
TIMERS = {"rtc": ("catchup", "delay", None), "pit": ("delay", "catchup", "discard", None),
          "hpet": (None,), "kvmclock": (None,), "hypervclock": (None,)}


def is_q35(machine: str | None) -> bool:
    return machine is not None and "q35" in machine


class QemuDefaults(DomainDefaults):
    default_video = "vga"

    def __init__(self, caps: Capabilities):
        self.caps = caps

    def os_arch(self, os_type: str) -> str:
        return host_arch()

    def machine(self, arch: str) -> str | None:
        return None          # resolved once the emulator is known (add_default_devices)

    def add_default_devices(self, dom) -> None:
        root = dom.root
        devices = root.find("devices")
        emulator_el = devices.find("emulator")
        if emulator_el is None:
            emulator_el = etree.Element("emulator")
            devices.insert(0, emulator_el)
        if len(emulator_el):
            raise unsupported("<emulator> holds only the path of the QEMU binary, not elements")
        if not emulator_el.text:
            emulator_el.text = find_emulator(dom.arch)     # an empty <emulator/> is none, as in libvirt
        type_el = root.find("os/type")
        machine = self.caps.canonical_machine(emulator_el.text, type_el.get("machine"))
        type_el.set("machine", machine)
        q35 = is_q35(machine)
        _order_controllers(devices)
        _index_pci_controllers(devices)
        types = {(c.get("type"), c.get("index", "0")) for c in devices.iterfind("controller")}
        if not any(t == "usb" for t, _ in types):
            _add_controller(devices, "usb", "qemu-xhci" if q35 else "piix3-uhci")
        if q35 and ("sata", "0") not in types:
            _add_controller(devices, "sata", None)
        if ("pci", "0") not in types:
            _add_controller(devices, "pci", "pcie-root" if q35 else "pci-root")

    def post_parse(self, dom) -> None:
        root = dom.root
        support.check(root)
        if dom.virt_type not in ("qemu", "kvm"):
            raise unsupported("Emulator does not support virt type '%s'" % dom.virt_type)
        if dom.os_type != "hvm":
            raise unsupported("Emulator does not support OS type '%s'" % dom.os_type)
        devices = root.find("devices")
        q35 = is_q35(dom.machine)
        _check_os(root)
        sysinfo.check(root, dom.uuid)
        cpuflags.check(root)
        _check_clock_and_lifecycle(root)
        if dom.virt_type == "qemu" and root.find("cpu") is None:
            _default_tcg_cpu(root)
        for disk in devices.iterfind("disk"):
            _check_disk(disk, q35)
        _check_controllers(devices, q35)
        for iface in devices.iterfind("interface"):
            if iface.find("model") is None:
                etree.SubElement(iface, "model").set("type", "rtl8139")
            if iface.get("type") == "direct":
                from .macvtap import check_source
                check_source(iface)
        _serial_for_console(devices)
        _virtio_serial_ports(devices)
        _usb_ports(devices)
        _graphics_and_audio(devices)
        for video in Video.all_in(devices):
            _video_defaults(video, devices)
        if devices.find("memballoon") is None:
            etree.SubElement(devices, "memballoon").set("model", "virtio")
        for dog in devices.iterfind("watchdog"):
            dog.set("action", dog.get("action", "reset"))
        for rng in devices.iterfind("rng"):
            backend = rng.find("backend")
            if backend is None or not (backend.text or "").strip():
                raise unsupported("<rng> needs <backend model='random'>/dev/urandom</backend>")
        _add_inputs(devices)
        _tpm_defaults(devices)
        for panic in devices.iterfind("panic"):
            panic.set("model", panic.get("model", "isa"))       # libvirt's x86 default
        pcitopology.assign(devices, q35)
        for el in devices:          # aliases are given at start, as libvirt does
            if isinstance(el.tag, str) and el.find("alias") is not None:
                el.remove(el.find("alias"))


def _default_tcg_cpu(root) -> None:
    """libvirt 9.0 writes the machine type's default CPU model into a TCG domain."""
    cpu = etree.Element("cpu")
    for key, value in (("mode", "custom"), ("match", "exact"), ("check", "none")):
        cpu.set(key, value)
    model = etree.SubElement(cpu, "model")
    model.set("fallback", "forbid")
    model.text = "qemu64"
    anchor = root.find("features") if root.find("features") is not None else root.find("os")
    anchor.addnext(cpu)


def _controller_position(order: list, ctype: str, index: int | None) -> int:
    """Where libvirt's parser inserts a controller among those before it: after the last one of
    its type with a lower index (before a higher one), else at the end."""
    insert_at = -1
    for i in range(len(order) - 1, -1, -1):
        other = order[i]
        if other.get("type") != ctype:
            continue
        other_index = other.get("index")
        if index is None:
            return i + 1
        if other_index is not None and int(other_index) > index:
            insert_at = i
        elif (other_index is None or int(other_index) != index) and insert_at == -1:
            insert_at = i + 1
    return len(order) if insert_at == -1 else insert_at


def _controller_index(ctrl) -> int | None:
    index = ctrl.get("index")
    if index is None:
        return None
    if not index.isdigit() or len(index) > 9:
        raise DriverError(ErrorCode.XML_ERROR, "Cannot parse controller index %s" % index)
    return int(index)


def _order_controllers(devices) -> None:
    controllers = list(devices.iterfind("controller"))
    if not controllers:
        return
    order: list = []
    for ctrl in controllers:
        order.insert(_controller_position(order, ctrl.get("type"), _controller_index(ctrl)), ctrl)
    anchor = etree.Element("anchor")
    controllers[0].addprevious(anchor)
    for ctrl in controllers:
        devices.remove(ctrl)
    for ctrl in order:
        anchor.addprevious(ctrl)
    devices.remove(anchor)


def _index_pci_controllers(devices) -> None:
    """PCI controllers without an index take the lowest free one, in document order (libvirt)."""
    pcis = [c for c in devices.iterfind("controller") if c.get("type") == "pci"]
    used = {c.get("index") for c in pcis if c.get("index") is not None}
    n = 0
    for ctrl in pcis:
        if ctrl.get("index") is None:
            while str(n) in used:
                n += 1
            ctrl.set("index", str(n))
            used.add(str(n))


def _add_controller(devices, ctype: str, model: str | None) -> None:
    el = Controller.new(ctype, 0, model).el
    # Controllers the driver adds go after the existing ones (unlike parsed ones, which
    # libvirt's parser inserts next to their type; see _order_controllers).
    existing = list(devices.iterfind("controller"))
    if existing:
        existing[-1].addnext(el)
    else:
        anchor = list(devices.iterfind("disk")) or list(devices.iterfind("emulator"))
        (anchor[-1].addnext(el) if anchor else devices.insert(0, el))


def _check_os(root) -> None:
    os_el = root.find("os")
    firmware = os_el.get("firmware")
    loader = os_el.find("loader")
    if firmware == "efi" and loader is not None and (loader.text or "").strip():
        raise unsupported("loader path and firmware='efi' cannot be given together")
    if os_el.find("firmware") is not None and firmware != "efi":
        raise unsupported("<firmware> features need <os firmware='efi'>")
    for feature in os_el.iterfind("firmware/feature"):
        if feature.get("name") not in ("secure-boot", "enrolled-keys") or \
                feature.get("enabled") not in ("yes", "no"):
            raise unsupported("firmware feature '%s' is not supported" % feature.get("name"))
    if loader is not None and loader.get("type", "rom") == "rom" and os_el.find("nvram") is not None:
        raise unsupported("<nvram> needs <loader type='pflash'>")
    bootmenu = os_el.find("bootmenu")
    if bootmenu is not None and bootmenu.get("enable") not in ("yes", "no"):
        raise unsupported("bootmenu enable='%s' is not supported" % bootmenu.get("enable"))
    cpu = root.find("cpu")
    if cpu is not None and cpu.get("mode", "custom") == "custom" and cpu.find("model") is None \
            and cpu.find("topology") is None:
        raise unsupported("<cpu mode='custom'> needs a <model>")
    for feature in root.iterfind("cpu/feature"):
        if feature.get("policy", "require") not in ("require", "force", "disable", "forbid", "optional"):
            raise unsupported("cpu feature policy '%s' is not supported" % feature.get("policy"))


def _check_clock_and_lifecycle(root) -> None:
    for timer in root.iterfind("clock/timer"):
        name = timer.get("name")
        if name not in TIMERS:
            raise unsupported("clock timer '%s' is not supported" % name)
        if timer.get("tickpolicy") not in TIMERS[name]:
            raise unsupported("clock timer '%s' tickpolicy '%s' is not supported"
                              % (name, timer.get("tickpolicy")))
        if timer.get("present") not in (None, "yes", "no"):
            raise unsupported("clock timer '%s' present='%s' is not supported" % (name, timer.get("present")))
    lifecycle.check(root)


def _check_disk(disk, q35: bool) -> None:
    model = DiskDevice(disk)
    if model.bus == "ide" and q35:
        raise unsupported("IDE controllers are unsupported for this QEMU binary or machine type")
    if model.bus == "virtio" and model.device == "cdrom":
        raise unsupported("cdrom device with virtio bus isn't supported")
    if (model.bus == "fdc") != (model.device == "floppy"):
        raise unsupported("pyvirsh's QEMU driver supports floppies on bus 'fdc' only, and only floppies there "
                          "(disk '%s')" % model.dev)
    if model.bus == "fdc" and (model.drive_controller, model.drive_bus, model.drive_unit) not in \
            ((0, 0, 0), (0, 0, 1)):
        raise unsupported("the floppy controller has two drives, fda and fdb (disk '%s')" % model.dev)
    driver = disk.find("driver")
    if driver is None:
        driver = etree.Element("driver")
        disk.insert(0, driver)
    if driver.get("name", "qemu") != "qemu":
        raise unsupported("unsupported driver name '%s' for disk '%s'" % (driver.get("name"), model.dev))
    driver.set("name", "qemu")
    fmt = driver.get("type")
    if fmt is None:
        # libvirt's QEMU driver defaults a file's format to raw (never probes the top image).
        driver.set("type", "raw")
    elif fmt not in DISK_FORMATS:
        raise unsupported("unknown driver format value '%s'" % fmt)
    for attr, allowed in (("cache", CACHE_MODES), ("io", IO_MODES), ("discard", ("unmap", "ignore")),
                          ("detect_zeroes", DETECT_ZEROES)):
        value = driver.get(attr)
        if value is not None and value not in allowed:
            raise unsupported("unsupported disk driver %s '%s'" % (attr, value))
    if driver.get("io") == "native" and driver.get("cache") not in ("none", "directsync"):
        raise unsupported("native I/O needs either no disk cache or directsync cache mode, QEMU "
                          "will fallback to aio=threads")


def _check_controllers(devices, q35: bool) -> None:
    for ctrl in Controller.all_in(devices):
        if ctrl.type == "usb" and ctrl.model is None:
            ctrl.model = "qemu-xhci" if q35 else "piix3-uhci"
        if ctrl.type == "usb" and ctrl.model not in USB_MODELS:
            raise unsupported("USB controller model '%s' is not supported" % ctrl.model)
        if ctrl.type == "pci" and ctrl.model not in PCI_MODELS:
            raise unsupported("PCI controller model '%s' is not supported" % ctrl.model)
        if ctrl.type == "pci" and ctrl.model in ("pci-root", "pci-bridge") and q35 or \
                ctrl.type == "pci" and ctrl.model in ("pcie-root", "pcie-root-port", "pcie-to-pci-bridge") \
                and not q35:
            raise unsupported("PCI controller model '%s' does not fit this machine type" % ctrl.model)
        if ctrl.type == "pci" and (ctrl.model in ("pci-root", "pcie-root")) != (ctrl.index == 0):
            raise unsupported("PCI controller model '%s' with index %s is not supported (only the root "
                              "controller has index 0)" % (ctrl.model, ctrl.index))
        if ctrl.type == "scsi":
            if ctrl.model is None:
                ctrl.model = "virtio-scsi" if q35 else "lsilogic"
            if ctrl.model != "virtio-scsi":
                raise unsupported("SCSI controller model '%s' is not supported" % ctrl.model)
        if ctrl.type == "ide" and q35:
            raise unsupported("IDE controllers are unsupported for this QEMU binary or machine type")
        if ctrl.type in ("sata", "ide", "virtio-serial") and ctrl.model is not None:
            raise unsupported("%s controller model '%s' is not supported" % (ctrl.type, ctrl.model))


def _serial_for_console(devices) -> None:
    """A console of target type serial with no serial device makes serial0, as libvirt does."""
    serials = list(devices.iterfind("serial"))
    consoles = list(devices.iterfind("console"))
    for console in consoles:
        target = console.find("target")
        if target.get("type") not in ("serial", None):
            raise unsupported("console target type '%s' is not supported" % target.get("type"))
    if not serials and consoles:
        console = consoles[0]
        serial = etree.Element("serial")
        serial.set("type", console.get("type", "pty"))
        for child in console:
            if child.tag in ("source", "protocol"):
                serial.append(copy.deepcopy(child))
        etree.SubElement(serial, "target").set("port", "0")
        console.addprevious(serial)
        serials = [serial]
    for serial in serials:
        target = serial.find("target")
        if target.get("type", "isa-serial") != "isa-serial":
            raise unsupported("serial target type '%s' is not supported" % target.get("type"))
        target.set("type", "isa-serial")
        model = target.find("model")
        if model is None:
            model = etree.SubElement(target, "model")
        if model.get("name", "isa-serial") != "isa-serial":
            raise unsupported("serial target model '%s' is not supported" % model.get("name"))
        model.set("name", "isa-serial")
    for chardev in serials + consoles:
        _check_chardev_source(Chardev(chardev))


def _check_chardev_source(dev: Chardev) -> None:
    if dev.type == "file" and not dev.source_path:
        raise unsupported("character device of type 'file' needs <source path=...>")
    if dev.type == "unix" and not dev.source_path and dev.el.tag != "channel":
        raise unsupported("character device of type 'unix' needs <source path=...>")
    if dev.type == "tcp" and not (dev.source_host and dev.source_service):
        raise unsupported("character device of type 'tcp' needs <source host=... service=...>")
    if dev.type == "tcp" and dev.protocol not in (None, "raw", "telnet"):
        raise unsupported("character device protocol '%s' is not supported" % dev.protocol)


def _virtio_serial_ports(devices) -> None:
    channels = list(devices.iterfind("channel"))
    if not channels:
        return
    if not any(c.get("type") == "virtio-serial" for c in devices.iterfind("controller")):
        _add_controller(devices, "virtio-serial", None)
    has_spice = any(g.get("type") == "spice" for g in devices.iterfind("graphics"))
    port = 1
    for channel in channels:
        dev = Chardev(channel)
        if dev.target_type != "virtio" or not dev.target_name:
            raise unsupported("<channel> needs <target type='virtio' name=...>")
        if dev.type == "spicevmc" and not has_spice:
            raise unsupported("spicevmc channel needs <graphics type='spice'>")
        channel.find("target").attrib.pop("state", None)      # the guest's, live only
        source = channel.find("source")
        if dev.type == "unix" and source is not None and not source.get("path") and \
                source.get("mode", "bind") == "bind":
            channel.remove(source)          # bind without a path is the automatic socket: libvirt's default
        _check_chardev_source(dev)
        addr = channel.find("address")
        if addr is None:
            addr = etree.SubElement(channel, "address")
            for key, value in (("type", "virtio-serial"), ("controller", "0"), ("bus", "0"),
                               ("port", str(port))):
                addr.set(key, value)
        port = max(port, integer_attribute(addr, "port", 0)) + 1


def _usb_ports(devices) -> None:
    """USB devices take ports 1, 2, ... of the first USB controller."""
    users = [i for i in devices.iterfind("input") if i.get("bus") == "usb"]
    users += list(devices.iterfind("redirdev"))
    if not users:
        return
    usb = [c for c in Controller.all_in(devices) if c.type == "usb"]
    if not usb or usb[0].model == "none":
        raise unsupported("USB is disabled for this domain, but USB devices are present in the domain XML")
    has_spice = any(g.get("type") == "spice" for g in devices.iterfind("graphics"))
    port = 1
    for el in sorted(users, key=lambda e: 0 if e.tag == "input" else 1):
        if el.tag == "redirdev" and not has_spice:
            raise unsupported("spicevmc redirdev needs <graphics type='spice'>")
        if el.find("address") is None:
            addr = etree.SubElement(el, "address")
            addr.set("type", "usb")
            addr.set("bus", "0")
            addr.set("port", str(port))
        port += 1


def _graphics_and_audio(devices) -> None:
    graphics = list(devices.iterfind("graphics"))
    for g in graphics:
        if g.get("tlsPort") not in (None, "-1"):
            raise unsupported("spice TLS (tlsPort='%s') is not supported" % g.get("tlsPort"))
        if g.get("type") == "vnc" and g.find("image") is not None:
            raise unsupported("<image> is a spice setting, not supported on vnc graphics")
        if g.get("type") == "spice":
            if g.get("port") in (None, "-1") and g.get("autoport") in (None, "yes"):
                g.attrib.pop("port", None)
                g.attrib.pop("tlsPort", None)
                g.set("autoport", "yes")
            if g.find("listen") is None:
                listen = etree.Element("listen")
                listen.set("type", "address")
                if g.get("listen"):
                    listen.set("address", g.get("listen"))
                g.insert(0, listen)
        for listen in g.iterfind("listen"):
            if listen.get("type", "address") != "address":
                raise unsupported("graphics listen type '%s' is not supported" % listen.get("type"))
    audios = list(devices.iterfind("audio"))
    if not audios:
        audio = etree.Element("audio")
        audio.set("id", "1")
        audio.set("type", "spice" if any(g.get("type") == "spice" for g in graphics) else "none")
        anchor = list(devices.iterfind("sound")) or list(devices.iterfind("graphics"))
        (anchor[-1].addnext(audio) if anchor else devices.append(audio))
    ids = {a.get("id") for a in devices.iterfind("audio")}
    for sound in devices.iterfind("sound"):
        ref = sound.find("audio")
        if ref is not None and ref.get("id") not in ids:
            raise unsupported("no audio device for sound's <audio id='%s'>" % ref.get("id"))


def _video_defaults(video: Video, devices) -> None:
    model = video.el.find("model")
    if model is None:
        model = etree.SubElement(video.el, "model")
        model.set("type", "vga")
    mtype = model.get("type")
    if mtype == "none":
        return
    for key, value in VIDEO_SIZES.get(mtype, ()):
        if model.get(key) is None:
            model.set(key, value)
    model.set("heads", model.get("heads", "1"))
    first = next(v for v in devices.iterfind("video") if v.find("model") is None
                 or v.find("model").get("type") != "none")
    if first is video.el:
        model.set("primary", "yes")


def _tpm_defaults(devices) -> None:
    """libvirt's TPM defaults: model tpm-tis; version 1.2 for tpm-tis on x86 (its historical
    default), else 2.0. Only the emulator (swtpm) is run: passthrough is refused."""
    tpms = devices.findall("tpm")
    if len(tpms) > 1:
        raise unsupported("pyvirsh's QEMU driver supports only one <tpm> device")
    for tpm in tpms:
        backend = tpm.find("backend")
        if backend is None:
            raise unsupported("<tpm> needs <backend type='emulator'/>")
        if backend.get("type") == "passthrough":
            raise unsupported("pyvirsh's QEMU driver does not support TPM passthrough (<backend "
                              "type='passthrough'>): use <backend type='emulator'/>, a TPM emulated by swtpm")
        model = tpm.get("model") or "tpm-tis"
        tpm.set("model", model)
        version = backend.get("version") or ("1.2" if model == "tpm-tis" else "2.0")
        if model == "tpm-crb" and version == "1.2":
            raise unsupported("TPM version '1.2' is not supported with the TPM CRB interface (tpm-crb)")
        backend.set("version", version)
        from .swtpm import check as check_emulator
        check_emulator(tpm)


def _add_inputs(devices) -> None:
    have = {(i.type, i.bus) for i in Input.all_in(devices)}
    for inp in Input.all_in(devices):
        if inp.bus is None:
            inp.bus = "ps2" if inp.type in ("mouse", "keyboard") else "usb"
    anchor = devices.find("graphics")
    for kind in ("mouse", "keyboard"):
        if (kind, "ps2") not in have:
            el = etree.Element("input")
            el.set("type", kind)
            el.set("bus", "ps2")
            inputs = list(devices.iterfind("input"))
            if inputs:
                inputs[-1].addnext(el)
            elif anchor is not None:
                anchor.addprevious(el)
            else:
                devices.append(el)
