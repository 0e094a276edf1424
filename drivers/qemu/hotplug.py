"""Devices added to, removed from and changed in a domain (virDomainAttachDevice,
DetachDevice, UpdateDevice and their *Flags forms), live on a running QEMU and/or in
the persistent definition, as libvirt 9.0's QEMU driver does them.

A device given as XML is read the way define reads it: placed in a scratch domain of
the same machine and normalized there by the driver's own defaults and checks (so an
interface type define refuses is refused here with the same words). A hot-plugged
disk's chain is then probed once and cached with the domain's next indexes, and QEMU
gets the same explicit -blockdev nodes and -device properties as at start
(cmdline.blockdev_args / disk_device, devargs.interface_args); its PCI address comes
from pcitopology's allocator over the buses the running domain has.

Every step that leaves QEMU and the status apart is recorded first, so a pyvirsh
killed in the middle leaves something the next command settles:
  - attach: <intent op='attach' alias=...>; settled by asking QEMU whether the device
    exists (qom-list /machine/peripheral): kept if it does, else its nodes are deleted
    and it leaves the live XML;
  - media change: <intent op='media'> holding the new <disk>; settled by the node
    QEMU has inserted in the drive;
  - detach: <detaching alias=...> until QEMU reports the device gone (DEVICE_DELETED
    within libvirt's 5 s, else whichever later command finds it gone); then its nodes,
    its netdev and its cache entries go. As in libvirt, a guest slower than that still
    gets a successful detach: the device goes when the guest lets it.
"""

from __future__ import annotations

import copy
import os
import time

from ..api import DeviceModifyFlags as F
from ..api import DriverError, ErrorCode, check_flags, writes
from .readview import save_config
from .domainbase import QemuDomainBase

UNPLUG_TIMEOUT = 5.0        # libvirt's QEMU_UNPLUG_TIMEOUT
TRAY_TIMEOUT = 5.0          # libvirt's wait for a cdrom tray to open

# libvirt's device types (virDomainDeviceType) by element, for its messages.
DEVICE_TYPES = {"disk": "disk", "lease": "lease", "filesystem": "fs", "interface": "net", "input": "input",
                "sound": "sound", "video": "video", "hostdev": "hostdev", "watchdog": "watchdog",
                "controller": "controller", "graphics": "graphics", "hub": "hub", "redirdev": "redirdev",
                "smartcard": "smartcard", "serial": "chr", "parallel": "chr", "console": "chr",
                "channel": "chr", "memballoon": "memballoon", "nvram": "nvram", "rng": "rng",
                "shmem": "shmem", "tpm": "tpm", "panic": "panic", "memory": "memory", "iommu": "iommu",
                "vsock": "vsock", "audio": "audio", "crypto": "crypto"}
# What the persistent definition takes (the driver's define checks each as usual).
CONFIG_DEVICES = ("disk", "interface", "controller", "serial", "channel", "console", "rng", "input",
                  "redirdev", "watchdog", "sound")


def parse_device(xml: str):
    from ..xmlutil import parse
    element = parse(xml, "device_definition")
    if element.tag not in DEVICE_TYPES:
        raise DriverError(ErrorCode.XML_ERROR, "unknown device type '%s'" % element.tag)
    return element


def _target(element) -> str:
    target = element.find("target")
    dev = target.get("dev") if target is not None else None
    if not dev:
        from ..domxml import source_path
        raise DriverError(ErrorCode.RAW, "missing target information for device %s"
                          % (source_path(element.get("type", "file"), element.find("source")) or "(null)"))
    return dev


def _disks_by_target(devices, target: str):
    for el in devices.iterfind("disk"):
        t = el.find("target")
        if t is not None and t.get("dev") == target:
            return el
    return None


def _interface_by_mac(devices, element):
    """libvirt's virDomainNetFindIdx: the interface with the MAC the XML gives."""
    mac_el = element.find("mac")
    mac = mac_el.get("address") if mac_el is not None else None
    found = [el for el in devices.iterfind("interface")
             if mac is None or (el.find("mac") is not None and
                                el.find("mac").get("address", "").lower() == mac.lower())]
    if not found:
        raise DriverError(ErrorCode.DEVICE_MISSING, "no device matching MAC address %s found" % mac)
    if len(found) > 1:
        raise DriverError(ErrorCode.OPERATION_FAILED, "multiple devices matching MAC address %s found"
                          % (mac or found[0].find("mac").get("address")))
    return found[0]


def peripheral_ids(q) -> set[str]:
    """The ids of the devices QEMU has (what -device/device_add named)."""
    return {child["name"] for child in q.execute("qom-list", {"path": "/machine/peripheral"})
            if child.get("type", "").startswith("child<")}


def _blockdev_add_chain(q, disk_el, added: list) -> None:
    """The disk's cached chain as QEMU nodes, bottom first, exactly the -blockdev of start."""
    import json
    from .cmdline import blockdev_args
    args = blockdev_args(disk_el)
    for text in args[1::2]:
        props = json.loads(text)
        q.execute("blockdev-add", props)
        added.append(props["node-name"])


def _delete_nodes_quietly(q, names: list) -> None:
    from .qmp import QMPError
    for name in reversed(names):
        try:
            q.execute("blockdev-del", {"node-name": name})
        except QMPError:
            pass


def _delete_chain(q, disk_el, quietly: bool = False) -> list[int]:
    """blockdev-del every cached layer of a disk, top first; return their indexes."""
    from .blockjobs import blockdev_del, blockdev_del_quietly
    from .chaincache import layers
    indexes = [layer.index for layer in layers(disk_el)]
    for index in indexes:
        (blockdev_del_quietly if quietly else blockdev_del)(q, index)
    return indexes


FINALIZE_WAIT = 2.0         # how long a device gone from the QOM tree may still hold its drive


def _release_unplugged(q, status, disk_el) -> None:
    """Delete the nodes of a disk whose device QEMU has let go.

    A device leaves /machine/peripheral when it is unparented, but its drive is released
    only when the object is finalized, which QEMU may defer a little (RCU); DEVICE_DELETED
    comes after that. A later command that found the device gone by qom-list can thus see
    "Node ... is in use" for a moment: it waits for the release, and a node still held after
    FINALIZE_WAIT is queued in status.release for the next command instead of being left
    open for the domain's lifetime."""
    from .blockjobs import blockdev_del
    from .chaincache import layers
    for index in [layer.index for layer in layers(disk_el)]:
        deadline = time.monotonic() + FINALIZE_WAIT
        while True:
            try:
                blockdev_del(q, index)
                break
            except DriverError as err:
                if not _held_by_device(err) or time.monotonic() >= deadline:
                    if index not in status.release:
                        status.release.append(index)
                    break
                time.sleep(0.02)


def _held_by_device(err: DriverError) -> bool:
    """QEMU's blockdev-del refusal for a node a BlockBackend (the device's drive) still has."""
    return "in use" in str(err) or "is busy" in str(err)


def _insert_device(devices, element) -> None:
    """After the last device of its kind (libvirt appends to that list), else where
    libvirt's order puts the kind: disks after the emulator, interfaces after the
    disks, controllers, leases and filesystems."""
    same = list(devices.iterfind(element.tag))
    if element.tag == "disk" and same:
        # virDomainDiskInsert: before the first later disk of its bus, else after the last of its bus
        from ..ids import disk_name_to_index
        bus = element.find("target").get("bus")
        name = disk_name_to_index(element.find("target").get("dev"))
        at = None
        for i in range(len(same) - 1, -1, -1):
            other = same[i].find("target")
            if other.get("bus") != bus:
                continue
            if disk_name_to_index(other.get("dev")) > name:
                at = i
            elif at is None:
                at = i + 1
        if at is not None and at < len(same):
            same[at].addprevious(element)
            return
        if at is not None:
            same[at - 1].addnext(element)
            return
    if same:
        same[-1].addnext(element)
        return
    before = ("emulator",) if element.tag == "disk" else ("emulator", "disk", "controller", "lease", "filesystem")
    earlier = [el for el in devices if isinstance(el.tag, str) and el.tag in before]
    (earlier[-1].addnext(element) if earlier else devices.insert(0, element))


class Hotplug(QemuDomainBase):
    """Device methods of QemuDomain (mixed in)."""

    @writes("virDomainAttachDevice")
    def attach_device(self, xml: str) -> None:
        self._attach(xml, F.LIVE)

    @writes("virDomainAttachDeviceFlags")
    def attach_device_flags(self, xml: str, flags: int = 0) -> None:
        check_flags(flags, F.LIVE | F.CONFIG, "qemuDomainAttachDeviceFlags")
        self._attach(xml, flags)

    @writes("virDomainDetachDevice")
    def detach_device(self, xml: str) -> None:
        self._detach(xml, F.LIVE)

    @writes("virDomainDetachDeviceFlags")
    def detach_device_flags(self, xml: str, flags: int = 0) -> None:
        check_flags(flags, F.LIVE | F.CONFIG, "qemuDomainDetachDeviceFlags")
        self._detach(xml, flags)

    @writes("virDomainUpdateDeviceFlags")
    def update_device_flags(self, xml: str, flags: int = 0) -> None:
        check_flags(flags, F.LIVE | F.CONFIG | F.FORCE, "qemuDomainUpdateDeviceFlags")
        with self.locked():
            live, config = self._impact(flags)
            element = parse_device(xml)
            new_config = self._config_updated(element) if config else None
            if live and element.tag == "interface":
                self._update_interface_live(element)
            elif live:
                if element.tag != "disk":
                    raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "live update of device '%s' is not supported"
                                      % DEVICE_TYPES[element.tag])
                self._update_disk_live(element, bool(flags & F.FORCE))
            self._save_config(new_config)

    # ------------------------------------------------------------------
    # common steps
    # ------------------------------------------------------------------

    def _impact(self, flags: int) -> tuple[bool, bool]:
        """virDomainObjUpdateModificationImpact: which definitions the call changes."""
        active = self.status is not None
        if not flags & (F.LIVE | F.CONFIG):
            flags |= F.LIVE if active else F.CONFIG
        if flags & F.LIVE and not active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain is not running")
        if flags & F.CONFIG and self.config is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, "transient domains do not have any persistent config")
        return bool(flags & F.LIVE), bool(flags & F.CONFIG)

    def _save_config(self, definition) -> None:
        if definition is not None:
            save_config(self.paths.config_file(self.name), definition.to_xml())
            self.config = definition

    def _normalized(self, element, definition):
        """The device as define would make it for this machine (defaults, checks), alone in
        a scratch domain; with the scratch definition (for volume disks)."""
        from lxml import etree
        root = definition.root
        scratch = etree.Element("domain", type=root.get("type"))
        etree.SubElement(scratch, "name").text = "hotplug"
        etree.SubElement(scratch, "memory", unit="KiB").text = str(definition.memory_kib)
        os_type = root.find("os/type")
        os_el = etree.SubElement(scratch, "os")
        etree.SubElement(os_el, "type", arch=os_type.get("arch"), machine=os_type.get("machine")).text = "hvm"
        etree.SubElement(os_el, "kernel").text = "/"        # no implied <boot dev='hd'/>
        devices = etree.SubElement(scratch, "devices")
        emulator = root.find("devices/emulator")
        if emulator is not None:
            etree.SubElement(devices, "emulator").text = emulator.text
        devices.append(copy.deepcopy(element))
        parsed = self.conn.parse_definition(etree.tostring(scratch, encoding="unicode"))
        found = parsed.devices.find(element.tag)
        if element.find("address") is None and found.find("address") is not None and \
                found.find("address").get("type") == "pci":
            found.remove(found.find("address"))     # the scratch domain's slot: placed for real later
        return found, parsed

    # ------------------------------------------------------------------
    # attach
    # ------------------------------------------------------------------

    def _attach(self, xml: str, flags: int) -> None:
        with self.locked():
            live, config = self._impact(flags)
            element = parse_device(xml)
            if element.tag == "interface" and element.find("mac") is None:
                # one MAC for both definitions, as libvirt parses the device once
                import os
                from lxml import etree
                etree.SubElement(element, "mac").set("address", "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3)))
            new_config = self._config_attached(element) if config else None
            if live:
                self._attach_live(element)
            self._save_config(new_config)

    def _config_attached(self, element):
        """The persistent definition with the device added, parsed as define parses it."""
        from lxml import etree
        if element.tag not in CONFIG_DEVICES:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "persistent attach of device '%s' is not supported"
                              % DEVICE_TYPES[element.tag])
        root = copy.deepcopy(self.config.root)
        if element.tag == "disk":
            target = _target(element)
            if _disks_by_target(root.find("devices"), target) is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "target %s already exists" % target)
        root.find("devices").append(copy.deepcopy(element))
        return self.conn.parse_definition(etree.tostring(root, encoding="unicode"))

    def _attach_live(self, element) -> None:
        if element.tag == "disk":
            self._attach_disk_live(element)
        elif element.tag == "interface":
            self._attach_interface_live(element)
        else:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "live attach of device '%s' is not supported"
                              % DEVICE_TYPES[element.tag])

    def _attach_disk_live(self, element) -> None:
        from ..domxml import Disk
        from .devargs import disk_alias
        from .devicemodel import Controller, DiskDevice
        from .chaincache import cache_disk_chain
        from .volumedisks import resolve_volume_disks
        status = self._require_active()
        devices = status.definition.devices
        disk_el, scratch = self._normalized(element, status.definition)
        disk = DiskDevice(disk_el)
        if disk.device in ("cdrom", "floppy"):
            # libvirt overloads attach with a media change for a drive that exists
            existing = _disks_by_target(devices, disk.dev)
            if existing is not None:
                self._change_media(existing, disk_el, force=False)
                return
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "cdrom/floppy device hotplug isn't supported")
        resolve_volume_disks(self.conn, scratch)
        capacity: dict[int, int] = {}
        next_index = cache_disk_chain(Disk(disk_el), status.next_index, capacity)      # probed once, here
        for other in devices.iterfind("disk"):
            if Disk(other).target == disk.dev:
                raise DriverError(ErrorCode.XML_ERROR, "target '%s' duplicated for disk sources '%s' and '%s'"
                                  % (disk.dev, Disk(other).source or "(null)", Disk(disk_el).source or "(null)"))
        if disk.bus == "scsi":
            if not any(c.type == "scsi" and c.index == disk.drive_controller for c in Controller.all_in(devices)):
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "disk '%s' needs SCSI controller %d, which the "
                                  "running domain does not have (pyvirsh hot-plugs no controllers)"
                                  % (disk.dev, disk.drive_controller))
        elif disk.bus in ("ide", "sata") and disk.drive_controller == 0:
            # libvirt 9.0 hands these to QEMU, whose IDE and AHCI buses refuse: its words, recorded
            # from virsh + libvirt (an IDE bus per <address bus>, an AHCI bus per port)
            bus = disk.drive_bus if disk.bus == "ide" else disk.drive_unit
            raise DriverError(ErrorCode.INTERNAL_ERROR, "unable to execute QEMU command 'device_add': Bus "
                              "'ide.%d' does not support hotplugging" % bus)
        elif disk.bus != "virtio":
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "disk bus '%s' cannot be hotplugged." % disk.bus)
        self._place(disk_el, "pcie")
        disk.set_alias(disk_alias(disk))
        self._plug(disk_el, capacity, next_index)

    def _attach_interface_live(self, element) -> None:
        from . import netifaces
        from .devicemodel import Interface
        from .pcitopology import CONVENTIONAL_NICS
        status = self._require_active()
        devices = status.definition.devices
        iface_el, _ = self._normalized(element, status.definition)
        iface = Interface(iface_el)
        netifaces.check_applicable(iface_el)
        taken = {Interface(el).alias for el in devices.iterfind("interface")}
        iface.set_alias(next("net%d" % n for n in range(len(taken) + 1) if "net%d" % n not in taken))
        tapped = iface_el.get("type") in netifaces.TAP_TYPES
        tap_fd = None
        try:
            if tapped:
                # The intent first, then the tap (on its bridge, in the domain's tap record): a
                # pyvirsh killed from here on leaves a tap the intent's settling removes.
                from lxml import etree
                status.intent = etree.Element("intent", op="attach", alias=iface.alias)
                self.save_status()
                tap_fd = netifaces.plug_hotplugged(self.conn, iface_el, self.paths.run, self.name)
            self._place(iface_el, "pci" if iface.model in CONVENTIONAL_NICS else "pcie")
            self._plug(iface_el, {}, status.next_index, tap_fd)
            link = iface_el.find("link")
            if link is not None and link.get("state") == "down":
                with self.qmp() as q:
                    netifaces.set_link(q, iface.alias, False)
        except BaseException:
            if tapped and self._by_alias(iface.alias) is None:
                netifaces.remove_strays(self.paths.run, self.name, status.definition.root)
                status.intent = None
                self.save_status()
            raise
        finally:
            if tap_fd is not None:      # a bridge helper's tap: QEMU holds it now, or nobody
                os.close(tap_fd)

    def _place(self, element, kind: str) -> None:
        from .defaults import is_q35
        from .devicemodel import Device
        from .pcitopology import place_hotplugged
        definition = self._require_active().definition
        place_hotplugged(definition.devices, Device(element), kind, is_q35(definition.machine))

    def _plug(self, element, capacity: dict, next_index: int, tap_fd: int | None = None) -> None:
        """Record the device with an intent, give it to QEMU, drop the intent."""
        from lxml import etree
        from .devicemodel import Device
        status = self._require_active()
        alias = Device(element).alias
        _insert_device(status.definition.devices, element)
        status.next_index = next_index
        status.capacity.update(capacity)
        status.intent = etree.Element("intent", op="attach", alias=alias)
        self.save_status()
        try:
            with self.qmp() as q:
                if tap_fd is None:
                    self._device_add(q, element)
                else:
                    self._device_add(q, element, tap_fd)
        except BaseException:
            self._unplug_record(element, capacity)
            raise
        status.intent = None
        self.save_status()

    def _device_add(self, q, element, tap_fd: int | None = None) -> None:
        import json
        from .cmdline import disk_device
        from .defaults import is_q35
        from .devargs import interface_args
        from .devicemodel import DiskDevice, Interface
        q35 = is_q35(self._require_active().definition.machine)
        if element.tag == "disk":
            disk = DiskDevice(element)
            added: list[str] = []
            try:
                _blockdev_add_chain(q, element, added)
                q.execute("device_add", json.loads(disk_device(disk, q35, disk.boot_order)[1]))
            except BaseException:
                _delete_nodes_quietly(q, added)
                raise
            return
        iface = Interface(element)
        fdname = None
        if tap_fd is not None:          # handed over first, then named in netdev_add (libvirt's getfd)
            fdname = "hostnet%s-fd" % iface.alias[3:]
            q.execute("getfd", {"fdname": fdname}, fd=tap_fd)
        args = interface_args(iface, q35, iface.boot_order, fdname)
        netdev = json.loads(args[1])
        q.execute("netdev_add", netdev)
        try:
            q.execute("device_add", json.loads(args[3]))
        except BaseException:
            self._netdev_del_quietly(q, netdev["id"])
            raise

    @staticmethod
    def _netdev_del_quietly(q, name: str) -> None:
        from .qmp import QMPError
        try:
            q.execute("netdev_del", {"id": name})
        except QMPError:
            pass

    def _unplug_record(self, element, capacity) -> None:
        """Undo _plug's record after QEMU refused the device (or never got it)."""
        status = self._require_active()
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
        for index in capacity:
            status.capacity.pop(index, None)
        status.intent = None
        self.save_status()

    def settle_intent(self, q) -> None:
        """An attach or media change a killed pyvirsh left half done: finish or undo it."""
        from . import netifaces
        status = self._require_active()
        intent = status.intent
        if intent is None:
            return
        op = intent.get("op")
        if op == "attach":
            alias = intent.get("alias")
            element = self._by_alias(alias)
            if element is not None and alias not in peripheral_ids(q):
                if element.tag == "disk":
                    indexes = _delete_chain(q, element, quietly=True)
                    for index in indexes:
                        status.capacity.pop(index, None)
                else:
                    self._netdev_del_quietly(q, "host" + alias)
                    self._remove_tap(element)
                element.getparent().remove(element)
            status.intent = None
            netifaces.remove_strays(self.paths.run, self.name, status.definition.root)
            self.save_status()
        elif op == "media":
            self._settle_media(q)
        else:
            super().settle_intent(q)

    def _remove_tap(self, iface_el) -> None:
        """A removed network or bridge interface's tap goes with it."""
        from . import netifaces
        target = iface_el.find("target")
        if iface_el.get("type") in netifaces.TAP_TYPES and target is not None and target.get("dev"):
            netifaces.unplug_one(self.paths.run, self.name, target.get("dev"))

    def _by_alias(self, alias: str):
        for el in self._require_active().definition.devices:
            if isinstance(el.tag, str):
                a = el.find("alias")
                if a is not None and a.get("name") == alias:
                    return el
        return None

    # ------------------------------------------------------------------
    # detach
    # ------------------------------------------------------------------

    def _detach(self, xml: str, flags: int) -> None:
        with self.locked():
            live, config = self._impact(flags)
            element = parse_device(xml)
            new_config = self._config_detached(element) if config else None
            if live:
                self._detach_live(element)
            self._save_config(new_config)

    def _config_detached(self, element):
        from ..domxml import DomainDef
        definition = DomainDef(copy.deepcopy(self.config.root))
        devices = definition.devices
        if element.tag == "disk":
            target = _target(element)
            found = _disks_by_target(devices, target)
            if found is None:
                raise DriverError(ErrorCode.DEVICE_MISSING, "no target device %s" % target)
        elif element.tag == "interface":
            found = _interface_by_mac(devices, element)
        else:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "persistent detach of device '%s' is not supported"
                              % DEVICE_TYPES[element.tag])
        devices.remove(found)
        return definition

    def _detach_live(self, element) -> None:
        status = self._require_active()
        devices = status.definition.devices
        if element.tag == "disk":
            target = _target(element)
            found = _disks_by_target(devices, target)
            if found is None:
                raise DriverError(ErrorCode.DEVICE_MISSING, "disk %s not found" % target)
            device = found.get("device", "disk")
            bus = found.find("target").get("bus")
            if device in ("cdrom", "floppy"):
                raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "disk device type '%s' cannot be detached"
                                  % device)
            if bus not in ("virtio", "scsi", "usb"):
                raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "This type of disk cannot be hot unplugged")
            self._refuse_busy(target)
        elif element.tag == "interface":
            found = _interface_by_mac(devices, element)
        else:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "live detach of device '%s' is not supported"
                              % DEVICE_TYPES[element.tag])
        alias = found.find("alias").get("name")
        if alias not in status.detaching:
            status.detaching.append(alias)
            self.save_status()
        from .qmp import QMPError
        with self.qmp() as q:
            try:
                q.execute("device_del", {"id": alias})
            except QMPError as err:
                # a device already on its way out: libvirt reports QEMU's refusal too, and the
                # unplug stays recorded
                if "in the process of unplug" not in err.desc:
                    status.detaching.remove(alias)
                    self.save_status()
                raise
            deadline = time.monotonic() + UNPLUG_TIMEOUT
            while time.monotonic() < deadline:
                event = q.wait_event(("DEVICE_DELETED",), deadline - time.monotonic())
                if event is None:
                    break
                if event.get("data", {}).get("device") == alias:
                    self._finish_removal(q, alias)
                    break

    def _refuse_busy(self, target: str) -> None:
        """qemuDomainDiskBlockJobIsActive: no detach or media change under a block job."""
        job = self._require_active().job_for(target)
        if job is None:
            return
        if job.kind in ("copy", "active-commit"):       # libvirt's disk->mirror
            raise DriverError(ErrorCode.BLOCK_COPY_ACTIVE, "disk '%s' already in active block job" % target)
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "disk '%s' already in active block job" % target)

    def _finish_removal(self, q, alias: str) -> None:
        """QEMU let the device go: its nodes (or netdev), its cache entries and its XML follow."""
        status = self._require_active()
        element = self._by_alias(alias)
        if element is not None:
            if element.tag == "disk":
                _release_unplugged(q, status, element)
                status.last_job.pop(element.find("target").get("dev"), None)
            elif element.tag == "interface":
                self._netdev_del_quietly(q, "host" + alias)
                self._remove_tap(element)
            element.getparent().remove(element)
        # sizes are kept for the layers still cached, the removed disk's and any a job dropped
        from .chaincache import layers
        cached = {layer.index for disk in status.definition.devices.iterfind("disk") for layer in layers(disk)}
        status.capacity = {index: size for index, size in status.capacity.items() if index in cached}
        status.detaching.remove(alias)
        self.save_status()

    def settle_detaches(self, q) -> None:
        """Devices asked to go that QEMU has let go since: finish their removal."""
        present = peripheral_ids(q)
        for alias in list(self._require_active().detaching):
            if alias not in present:
                self._finish_removal(q, alias)

    # ------------------------------------------------------------------
    # update: media change
    # ------------------------------------------------------------------

    def _config_updated(self, element):
        """qemuDomainUpdateDeviceConfig: a disk of that target (an interface of that MAC)
        takes the new definition."""
        from lxml import etree
        if element.tag == "interface":
            from .nicupdate import config_replaced
            root = config_replaced(self.config.root, element)
            return self.conn.parse_definition(etree.tostring(root, encoding="unicode"))
        if element.tag != "disk":
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "persistent update of device '%s' is not supported"
                              % DEVICE_TYPES[element.tag])
        root = copy.deepcopy(self.config.root)
        devices = root.find("devices")
        target = _target(element)
        old = _disks_by_target(devices, target)
        if old is None:
            raise DriverError(ErrorCode.INVALID_ARG, "target %s doesn't exist." % target)
        new = copy.deepcopy(element)
        for tag in ("alias", "backingStore"):
            for el in new.findall(tag):
                new.remove(el)
        source = new.find("source")
        if source is not None:
            source.attrib.pop("index", None)
        old.addprevious(new)
        devices.remove(old)
        return self.conn.parse_definition(etree.tostring(root, encoding="unicode"))

    def _update_interface_live(self, element) -> None:
        """domif-setlink on a running domain: QEMU's set_link, then the live XML."""
        from . import nicupdate
        from .netifaces import set_link
        status = self._require_active()
        live_iface = nicupdate.find_by_mac(status.definition.devices, element)
        up = nicupdate.live_change(live_iface, element)
        if up is None:
            return
        with self.qmp() as q:
            set_link(q, live_iface.find("alias").get("name"), up)
        nicupdate.set_live_link(live_iface, up)
        self.save_status()

    def _update_disk_live(self, element, force: bool) -> None:
        from ..domxml import Disk
        status = self._require_active()
        new_el, _ = self._normalized(element, status.definition)
        target = Disk(new_el).target
        old_el = _disks_by_target(status.definition.devices, target)
        if old_el is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "disk '%s' not found" % target)
        old, new = Disk(old_el), Disk(new_el)
        if old.device != new.device or old.bus != new.bus:
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "cannot modify field '%s' of the disk"
                              % ("device" if old.device != new.device else "bus"))
        if (old.source, old.type) == (new.source, new.type):
            return          # nothing a running QEMU has to change
        if old.device not in ("cdrom", "floppy"):
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "disk source can be changed only in removable drive")
        self._change_media(old_el, new_el, force)

    def _change_media(self, old_el, new_el, force: bool) -> None:
        """Eject the drive's medium and/or insert a new one (blockdev tray commands)."""
        from lxml import etree
        from ..domxml import Disk
        from .chaincache import format_node, layers
        from .chaincache import cache_disk_chain
        status = self._require_active()
        target = Disk(old_el).target
        self._refuse_busy(target)
        alias = old_el.find("alias").get("name")
        changed = copy.deepcopy(old_el)
        new = Disk(new_el)
        for el in changed.findall("backingStore"):
            changed.remove(el)
        driver = changed.find("driver")
        if driver is not None and new.driver_type:
            driver.set("type", new.driver_type)
        capacity: dict[int, int] = {}
        next_index = status.next_index
        if new.source is None:
            # libvirt keeps an empty <source index='N'/> (the next index) in the live XML of an
            # ejected drive, so that virsh's next --eject finds a source and succeeds again
            if changed.find("source") is not None:
                changed.remove(changed.find("source"))
            empty = etree.Element("source", index=str(next_index))
            next_index += 1
            anchor = changed.find("driver")
            if anchor is not None:
                anchor.addnext(empty)
            else:
                changed.insert(0, empty)
        else:
            Disk(changed).set_source(new.type, new.source)
            changed.find("source").attrib.pop("index", None)
            next_index = cache_disk_chain(Disk(changed), next_index, capacity)     # probed once, here
        status.next_index = next_index
        status.capacity.update(capacity)
        status.intent = etree.Element("intent", op="media", alias=alias)
        status.intent.append(copy.deepcopy(changed))
        self.save_status()
        try:
            with self.qmp() as q:
                self._open_tray(q, alias, target, force)
                q.execute("blockdev-remove-medium", {"id": alias})
                added: list[str] = []
                if layers(changed):
                    try:
                        _blockdev_add_chain(q, changed, added)
                        q.execute("blockdev-insert-medium", {"id": alias,
                                                             "node-name": format_node(layers(changed)[0].index)})
                    except BaseException:
                        _delete_nodes_quietly(q, added)
                        raise
                q.execute("blockdev-close-tray", {"id": alias})
                self._settle_media(q)
        except BaseException:
            if status.intent is not None:
                with self.qmp() as q:
                    self._settle_media(q)
            raise

    def _open_tray(self, q, alias: str, target: str, force: bool) -> None:
        if self._drive(q, alias).get("tray_open"):
            return
        q.execute("blockdev-open-tray", {"id": alias, "force": force})
        deadline = time.monotonic() + TRAY_TIMEOUT
        while not self._drive(q, alias).get("tray_open"):
            if time.monotonic() >= deadline:
                raise DriverError(ErrorCode.OPERATION_FAILED, "timed out waiting to open tray of '%s'" % target)
            q.wait_event(("DEVICE_TRAY_MOVED",), max(0.0, min(0.5, deadline - time.monotonic())))

    @staticmethod
    def _drive(q, alias: str) -> dict:
        for drive in q.execute("query-block"):
            path = drive.get("qdev", "")
            if path in (alias, "/machine/peripheral/" + alias) or path.startswith("/machine/peripheral/%s/" % alias):
                return drive
        raise DriverError(ErrorCode.INTERNAL_ERROR, "QEMU has no drive '%s'" % alias)

    def _settle_media(self, q) -> None:
        """Make the live XML say what medium QEMU has in the drive, from the intent."""
        from .blockjobs import blockdev_del_quietly
        from .chainmodel import names_media
        from .chaincache import format_node, layers
        status = self._require_active()
        intent = status.intent
        if intent is None:
            return
        alias = intent.get("alias")
        wanted = intent.find("disk")
        old_el = self._by_alias(alias)
        try:
            inserted = (self._drive(q, alias).get("inserted") or {}).get("node-name")
        except DriverError:
            inserted = None
        new_top = layers(wanted)[0].index if layers(wanted) else None
        old_top = layers(old_el)[0].index if old_el is not None and layers(old_el) else None
        old_nodes = [layer.index for layer in layers(old_el)] if old_el is not None else []
        new_nodes = [layer.index for layer in layers(wanted)]
        if inserted is not None and old_top is not None and inserted == format_node(old_top):
            keep, drop = old_nodes, new_nodes       # nothing changed in the drive
        else:
            keep = new_nodes if inserted is not None and new_top is not None and \
                inserted == format_node(new_top) else []
            drop = old_nodes + [i for i in new_nodes if i not in keep]
            if old_el is not None:
                result = copy.deepcopy(wanted)
                if not keep:                        # the drive is empty: an ejected medium
                    for el in result.findall("backingStore"):
                        result.remove(el)
                    for el in result.findall("source"):
                        if names_media(el):
                            result.remove(el)       # (an eject's empty <source index='N'/> stays)
                old_el.addprevious(result)
                old_el.getparent().remove(old_el)
        for index in drop:
            blockdev_del_quietly(q, index)
            status.capacity.pop(index, None)
        status.intent = None
        self.save_status()
