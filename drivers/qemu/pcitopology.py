"""PCI and PCIe addresses as libvirt 9.0 assigns them for pc (i440fx) and q35.

pc: one conventional bus (pci-root); slot 1 is the PIIX3 (IDE 01.1, USB 01.2),
the primary video takes slot 2, the rest follow in libvirt's device order.

q35: PCIe endpoints never sit on pcie-root itself. The primary video takes
00:01.0, the built-in SATA (AHCI) 00:1f.2, ich9 sound 00:1b.0. Every other
PCIe device gets a pcie-root-port of its own; a conventional PCI device (e1000,
rtl8139, ich6, i6300esb, ...) goes on a pcie-to-pci-bridge, which itself sits
in a root port. Root ports libvirt adds (or that the XML gives without an
address) are packed eight to a slot of pcie-root, from the first free slot.
What is missing is counted first (a dry run over the devices in libvirt's
order), added as controllers after the existing ones, plus one spare root port
for hotplug when none is left free; then PCI controllers are placed in document
order, then the devices. User-given addresses are honoured and checked for
clashes first.
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode
from .devicemodel import (Controller, Device, DiskDevice, Interface, Memballoon, Rng, Sound, Video,
                          Watchdog)

PCIE, PCI = "pcie", "pci"
CONVENTIONAL_NICS = ("e1000", "rtl8139")
Q35_SATA, Q35_SOUND, Q35_VIDEO = (0, 0x1F, 2), (0, 0x1B, 0), (0, 1, 0)
PC_IDE, PC_USB, PC_VIDEO = (0, 1, 1), (0, 1, 2), (0, 2, 0)


def _fmt(addr) -> str:
    return "0000:%02x:%02x.%x" % addr


class _Bus:
    def __init__(self, index: int, model: str):
        self.index, self.model = index, model
        # A root port has one slot; bridges keep slot 0 for themselves (SHPC); on pcie-root and
        # pci-root, slot 0 is the host bridge: it exists (so placing a device there clashes) but
        # is never handed out.
        self.slots = [0] if model == "pcie-root-port" else list(range(1, 32))
        self.used: set[tuple[int, int]] = set()
        self.reserved_slots: set[int] = set()
        if model in ("pci-root", "pcie-root"):
            self.slots = list(range(32))
            self.reserved_slots.add(0)

    @property
    def accepts(self) -> str:
        return PCIE if self.model == "pcie-root-port" else PCI

    def free_slot(self) -> int | None:
        for slot in self.slots:
            if slot not in self.reserved_slots and not any(s == slot for s, _ in self.used):
                return slot
        return None


def device_order(devices, q35: bool) -> list[tuple[Device, str]]:
    """Devices that need a PCI address, in libvirt's assignment order, with the kind of slot."""
    out: list[tuple[Device, str]] = []
    for iface in Interface.all_in(devices):
        out.append((iface, PCI if iface.model in CONVENTIONAL_NICS else PCIE))
    for sound in Sound.all_in(devices):
        if not (q35 and sound.model == "ich9"):
            out.append((sound, PCI))
    for ctrl in Controller.all_in(devices):
        kind = controller_kind(ctrl, q35)
        if kind:
            out.append((ctrl, kind))
    for disk in DiskDevice.all_in(devices):
        if disk.bus == "virtio":
            out.append((disk, PCIE))
    for balloon in Memballoon.all_in(devices):
        if balloon.model == "virtio":
            out.append((balloon, PCIE))
    for rng in Rng.all_in(devices):
        out.append((rng, PCIE))
    for dog in Watchdog.all_in(devices):
        if dog.model == "i6300esb":
            out.append((dog, PCI))
    videos = [v for v in Video.all_in(devices) if v.model != "none"]
    for video in videos[1:]:
        out.append((video, PCIE if video.model == "virtio" else PCI))
    for inp in devices.iterfind("input"):
        if inp.get("bus") == "virtio":
            out.append((Device(inp), PCIE))
    return out


def controller_kind(ctrl: Controller, q35: bool) -> str | None:
    """The slot kind a non-PCI controller needs, or None when it has a fixed place or none."""
    if ctrl.type == "pci":
        return None
    if ctrl.type == "usb":
        if ctrl.model == "none":
            return None
        if ctrl.model in ("qemu-xhci", "nec-xhci"):
            return PCIE if q35 else PCI
        if ctrl.model == "piix3-uhci" and ctrl.index == 0 and not q35:
            return None                         # the PIIX3's own, at 01.2
        return PCI                              # ich9 ones are placed as a group before this
    if ctrl.type == "sata":
        return None if q35 and ctrl.index == 0 else (PCIE if q35 else PCI)
    if ctrl.type in ("ide", "fdc"):
        return None                             # the PIIX3's IDE; the fdc sits on ISA
    return PCIE if q35 else PCI                 # virtio-serial, virtio-scsi


# Functions the machine's own chipset occupies: the host bridge, and the PIIX3's ISA bridge and
# power management (pc) or the ICH9's LPC and SMBus (q35). A device placed there clashes.
CHIPSET = {False: ((0, 0, 0), (0, 1, 0), (0, 1, 3)), True: ((0, 0, 0), (0, 0x1F, 0), (0, 0x1F, 3))}


def assign(devices, q35: bool) -> None:
    buses = _existing_buses(devices, q35)
    taken: dict[tuple, str] = {}
    for chipset_addr in CHIPSET[q35]:
        _take(buses, taken, chipset_addr, "chipset")
    _honour_user_addresses(devices, buses, taken)
    videos = [v for v in Video.all_in(devices) if v.model != "none"]
    fixed: list[tuple[Device, tuple]] = []
    if q35:
        fixed += [(c, Q35_SATA) for c in Controller.all_in(devices) if c.type == "sata" and c.index == 0]
        fixed += [(s, Q35_SOUND) for s in Sound.all_in(devices) if s.model == "ich9"][:1]
        fixed += [(v, Q35_VIDEO) for v in videos[:1]]
    else:
        fixed += [(c, PC_IDE) for c in Controller.all_in(devices) if c.type == "ide" and c.index == 0]
        fixed += [(c, PC_USB) for c in Controller.all_in(devices)
                  if c.type == "usb" and c.model == "piix3-uhci" and c.index == 0]
        fixed += [(v, PC_VIDEO) for v in videos[:1]]
        buses[0].reserved_slots.add(1)
    for dev, fixed_addr in fixed:
        if dev.pci() is None and fixed_addr not in taken:
            dev.set_pci(*fixed_addr)
            _take(buses, taken, fixed_addr, dev.el.tag)
    _assign_ich9_usb(devices, buses, taken, q35)
    wanted = [(d, k) for d, k in device_order(devices, q35) if d.pci() is None]
    if q35:
        _add_missing_buses(devices, buses, wanted)
    _place_pci_controllers(devices, buses, taken, q35)
    for dev, kind in wanted:
        addr = _next_free(buses, kind if q35 else PCI)
        if addr is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")
        dev.set_pci(*addr)
        _take(buses, taken, addr, dev.el.tag)


def _existing_buses(devices, q35: bool) -> dict[int, _Bus]:
    buses: dict[int, _Bus] = {}
    for ctrl in Controller.all_in(devices):
        if ctrl.type == "pci":
            buses[ctrl.index] = _Bus(ctrl.index, ctrl.model)
    if 0 not in buses:
        buses[0] = _Bus(0, "pcie-root" if q35 else "pci-root")
    return buses


def _take(buses, taken, addr, what) -> None:
    bus, slot, function = addr
    if addr in taken:
        raise DriverError(ErrorCode.XML_ERROR, "Attempted double use of PCI Address %s" % _fmt(addr))
    if bus not in buses:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "PCI address %s names bus %d, which no PCI "
                          "controller of this domain provides (pyvirsh adds no bridges for it)"
                          % (_fmt(addr), bus))
    if slot not in buses[bus].slots:
        raise DriverError(ErrorCode.XML_ERROR, "Invalid PCI address %s: slot %d does not exist on %s"
                          % (_fmt(addr), slot, buses[bus].model))
    taken[addr] = what
    buses[bus].used.add((slot, function))


def _honour_user_addresses(devices, buses, taken) -> None:
    for el in devices:
        if not isinstance(el.tag, str):
            continue
        dev = Device(el)
        addr = dev.pci()
        if addr is not None:
            _take(buses, taken, addr, el.tag)


def _assign_ich9_usb(devices, buses, taken, q35: bool) -> None:
    """ich9-ehci1 and its uhci companions share one slot: uhciN at function N-1, ehci at 7."""
    group = [c for c in Controller.all_in(devices)
             if c.type == "usb" and c.model and c.model.startswith("ich9-") and c.pci() is None]
    if not group:
        return
    slot = 0x1D if q35 and (0, 0x1D, 0) not in taken else buses[0].free_slot()
    for ctrl in group:
        function = 7 if ctrl.model == "ich9-ehci1" else int(ctrl.model[-1]) - 1
        ctrl.set_pci(0, slot, function, multifunction=(function == 0))
        _take(buses, taken, (0, slot, function), "controller")


def _add_missing_buses(devices, buses, wanted) -> None:
    """Dry run: add root ports (and pcie-to-pci-bridges) until every device has a place."""
    free_ports = [b.index for b in buses.values() if b.model == "pcie-root-port" and not b.used]
    bridge_slots = sum(len([s for s in b.slots if s not in {u for u, _ in b.used}])
                       for b in buses.values() if b.model == "pcie-to-pci-bridge")
    added: list[tuple[int, str]] = []

    def add(model: str) -> None:
        # a new controller takes the lowest index no controller has
        taken = set(buses) | {index for index, _ in added}
        added.append((next(i for i in range(1, 257) if i not in taken), model))

    for _dev, kind in wanted:
        if kind == PCIE:
            if free_ports:
                free_ports.pop(0)
            else:
                add("pcie-root-port")
        elif bridge_slots:
            bridge_slots -= 1
        else:
            # The bridge needs a root port of its own, added with it (libvirt adds the pair).
            add("pcie-root-port")
            add("pcie-to-pci-bridge")
            bridge_slots = 30
    if not free_ports:
        add("pcie-root-port")           # a spare for hotplug
    anchor = list(devices.iterfind("controller"))[-1]     # appended, as libvirt inserts them
    for index, model in added:
        el = Controller.new("pci", index, model).el
        anchor.addnext(el)
        anchor = el
        buses[index] = _Bus(index, model)


def _place_pci_controllers(devices, buses, taken, q35: bool) -> None:
    # in document order, as libvirt walks its controller list
    ctrls = [c for c in Controller.all_in(devices) if c.type == "pci" and c.index > 0]
    packed: dict[int, list] = {}
    for ctrl in ctrls:
        model = ctrl.model
        name = {"pcie-root-port": "pcie-root-port", "pcie-to-pci-bridge": "pcie-pci-bridge",
                "pci-bridge": "pci-bridge"}[model]
        if ctrl.model_name is None:
            ctrl.model_name = name
        if ctrl.pci() is None:
            addr: tuple[int, int, int] | None
            if model == "pcie-root-port":
                addr = _next_root_port_slot(buses[0], taken)
                packed.setdefault(addr[1], []).append(ctrl)
            else:
                addr = _next_free(buses, PCIE if q35 and model == "pcie-to-pci-bridge" else PCI)
                if addr is None:
                    raise DriverError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")
            ctrl.set_pci(*addr)
            _take(buses, taken, addr, "controller")
        if model == "pcie-root-port":
            _, slot, function = ctrl.pci()
            if ctrl.chassis is None:
                ctrl.chassis = ctrl.index
            if ctrl.port is None:
                ctrl.el.find("target").set("port", "0x%x" % (slot << 3 | function))
        elif model == "pci-bridge" and ctrl.el.find("target") is None:
            ctrl.chassis_nr = ctrl.index
    for members in packed.values():
        if len(members) > 1 or members[0].pci()[2] != 0:
            first = min(members, key=lambda c: c.pci()[2])
            if first.pci()[2] == 0:
                first.el.find("address").set("multifunction", "on")
    for ctrl in ctrls:          # <model> before <target> before <address>, as libvirt writes
        target = ctrl.el.find("target")
        if target is not None:
            ctrl.el.remove(target)
            ctrl.el.find("model").addnext(target)


def _next_root_port_slot(root: _Bus, taken) -> tuple[int, int, int]:
    """Root ports fill functions 0-7 of a slot before taking the next free slot."""
    for slot in root.slots:
        if slot in root.reserved_slots:
            continue
        functions = {f for s, f in root.used if s == slot}
        owners = {taken.get((0, slot, f)) for f in functions}
        if functions and owners != {"controller"}:
            continue
        if len(functions) < 8:
            function = next(f for f in range(8) if f not in functions)
            return (0, slot, function)
    raise DriverError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")


def _next_free(buses, kind: str) -> tuple[int, int, int] | None:
    for index in sorted(buses):
        bus = buses[index]
        if bus.model == "pcie-root":
            continue                    # endpoints go into root ports, not on pcie-root itself
        if kind == PCIE and bus.accepts != PCIE:
            continue
        if kind == PCI and bus.model == "pcie-root-port":
            continue
        slot = bus.free_slot()
        if slot is not None:
            return (index, slot, 0)
    return None


def place_hotplugged(devices, dev: Device, kind: str, q35: bool) -> None:
    """A PCI address for a device plugged into a running domain: the first free slot of the
    right kind on the buses the domain already has. Nothing can be added to a running
    machine's topology, so on q35 that is a free pcie-root-port (libvirt leaves a spare one
    at define for this), and when none is left libvirt's words say so."""
    buses = _existing_buses(devices, q35)
    taken: dict[tuple, str] = {}
    for chipset_addr in CHIPSET[q35]:
        _take(buses, taken, chipset_addr, "chipset")
    if not q35:
        buses[0].reserved_slots.add(1)          # the PIIX3's slot
    _honour_user_addresses(devices, buses, taken)     # the domain's devices (dev is not one yet)
    addr = dev.pci()
    if addr is not None:
        _take(buses, taken, addr, dev.el.tag)   # given by the user: it must be free
        return
    addr = _next_free(buses, kind if q35 else PCI)
    if addr is None:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")
    dev.set_pci(*addr)
