"""Typed device objects over a domain's <devices>, for the QEMU driver's
defaults, address assignment and command line (device-level properties only:
disk chains belong to chaincache)."""

from __future__ import annotations

from lxml import etree

from ..xmlmodel import XMLObject, XMLProperty


class PciAddress(XMLObject):
    tag = "address"
    type = XMLProperty("@type")
    domain = XMLProperty("@domain", int, 0)
    bus = XMLProperty("@bus", int, 0)
    slot = XMLProperty("@slot", int)
    function = XMLProperty("@function", int, 0)
    multifunction = XMLProperty("@multifunction")


class Device(XMLObject):
    alias = XMLProperty("alias/@name")

    @property
    def address(self):
        el = self.el.find("address")
        return PciAddress(el) if el is not None else None

    def pci(self) -> tuple[int, int, int] | None:
        """(bus, slot, function) of a PCI address, or None."""
        addr = self.address
        if addr is None or addr.type != "pci" or addr.slot is None:
            return None
        return addr.bus, addr.slot, addr.function

    def set_pci(self, bus: int, slot: int, function: int = 0, multifunction: bool = False) -> None:
        old = self.el.find("address")
        if old is not None:
            self.el.remove(old)
        el = etree.SubElement(self.el, "address")
        for key, value in (("type", "pci"), ("domain", "0x0000"), ("bus", "0x%02x" % bus),
                           ("slot", "0x%02x" % slot), ("function", "0x%x" % function)):
            el.set(key, value)
        if multifunction:
            el.set("multifunction", "on")

    def set_alias(self, name: str) -> None:
        alias = self.el.find("alias")
        if alias is None:
            alias = etree.Element("alias")
            address = self.el.find("address")
            (address.addprevious(alias) if address is not None else self.el.append(alias))
        alias.set("name", name)


class DiskDevice(Device):
    tag = "disk"
    device = XMLProperty("@device", default="disk")
    bus = XMLProperty("target/@bus")
    dev = XMLProperty("target/@dev")
    boot_order = XMLProperty("boot/@order", int)
    serial = XMLProperty("serial")
    readonly = XMLProperty("readonly", is_flag=True)
    cache = XMLProperty("driver/@cache")
    io = XMLProperty("driver/@io")
    discard = XMLProperty("driver/@discard")
    detect_zeroes = XMLProperty("driver/@detect_zeroes")
    drive_controller = XMLProperty("address/@controller", int, 0)
    drive_bus = XMLProperty("address/@bus", int, 0)
    drive_target = XMLProperty("address/@target", int, 0)
    drive_unit = XMLProperty("address/@unit", int, 0)


class Controller(Device):
    tag = "controller"
    type = XMLProperty("@type")
    index = XMLProperty("@index", int, 0)
    model = XMLProperty("@model")
    ports = XMLProperty("@ports", int)
    model_name = XMLProperty("model/@name")
    chassis = XMLProperty("target/@chassis", int)
    chassis_nr = XMLProperty("target/@chassisNr", int)
    port = XMLProperty("target/@port", int)
    startport = XMLProperty("master/@startport", int)

    @classmethod
    def new(cls, ctype: str, index: int, model: str | None = None) -> Controller:
        """A detached <controller type index [model]> (libvirt's attribute order), for the
        caller to place among the others."""
        from ..xmlmodel import new_element
        return cls(new_element("controller", (("type", ctype), ("index", str(index)))
                               + ((("model", model),) if model else ())))


class Interface(Device):
    tag = "interface"
    type = XMLProperty("@type", default="user")
    target_dev = XMLProperty("target/@dev")
    mac = XMLProperty("mac/@address")
    model = XMLProperty("model/@type")
    boot_order = XMLProperty("boot/@order", int)


class Chardev(Device):
    """<serial>, <console> or <channel>."""
    type = XMLProperty("@type", default="pty")
    source_path = XMLProperty("source/@path")
    source_mode = XMLProperty("source/@mode")
    source_host = XMLProperty("source/@host")
    source_service = XMLProperty("source/@service")
    source_append = XMLProperty("source/@append")
    protocol = XMLProperty("protocol/@type")
    target_type = XMLProperty("target/@type")
    target_port = XMLProperty("target/@port", int)
    target_name = XMLProperty("target/@name")


class Input(Device):
    tag = "input"
    type = XMLProperty("@type")
    bus = XMLProperty("@bus")


class Video(Device):
    tag = "video"
    model = XMLProperty("model/@type", default="vga")
    heads = XMLProperty("model/@heads", int, 1)
    ram = XMLProperty("model/@ram", int)
    vram = XMLProperty("model/@vram", int)
    vgamem = XMLProperty("model/@vgamem", int)


class Sound(Device):
    tag = "sound"
    model = XMLProperty("@model")
    audio_id = XMLProperty("audio/@id", int)


class Rng(Device):
    tag = "rng"
    backend = XMLProperty("backend")
    rate_bytes = XMLProperty("rate/@bytes", int)
    rate_period = XMLProperty("rate/@period", int)


class Memballoon(Device):
    tag = "memballoon"
    model = XMLProperty("@model")
    autodeflate = XMLProperty("@autodeflate")
    free_page_reporting = XMLProperty("@freePageReporting")
    stats_period = XMLProperty("stats/@period", int)


class Watchdog(Device):
    tag = "watchdog"
    model = XMLProperty("@model")
    action = XMLProperty("@action", default="reset")


class Redirdev(Device):
    tag = "redirdev"
