"""Domain XML: one lxml-backed model, libvirt's parse-time checks and defaults,
and libvirt-style serialization.

The model keeps the document itself (an lxml tree) and exposes what pyvirsh
needs as properties over it, the way virt-manager's virtinst does. Parsing
applies the checks and defaults libvirt's generic domain parser applies, in the
same order, with the same error words; a driver passes a ``DomainDefaults``
that fills in what its hypervisor adds (architecture, machine type, default
video model, interface names, addresses).
"""

from __future__ import annotations

import copy
import os

from lxml import etree

from .api import DriverError, ErrorCode
from .ids import disk_name_to_index, new_uuid, parse_uint, parse_uuid
from .xmlutil import Schema, parse, parse_trusted, set_child, text_of

# --------------------------------------------------------------------------
# Element and attribute order of libvirt's domain formatter
# --------------------------------------------------------------------------

_ADDRESS: tuple[list[str], list[str]] = (["type", "controller", "domain", "bus", "target", "slot", "unit", "function",
             "multifunction", "port", "reg", "cssid", "ssid", "devno", "iobase", "irq"], [])

DOMAIN_SCHEMA = Schema({
    "domain": (["type", "id"],
               ["name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
                "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "iothreads", "cputune", "resource",
                "sysinfo", "bootloader", "bootloader_args", "os", "features", "cpu", "clock",
                "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
                "seclabel"]),
    "name": ([], []), "uuid": ([], []), "genid": ([], []), "title": ([], []),
    "description": ([], []),
    "maxMemory": (["slots", "unit"], []),
    "memory": (["unit"], []),
    "currentMemory": (["unit"], []),
    "vcpu": (["placement", "cpuset", "current"], []),
    "iothreads": ([], []),
    "blkiotune": ([], ["weight", "device"]),
    "blkiotune/weight": ([], []),
    "blkiotune/device": ([], ["path", "weight", "read_iops_sec", "write_iops_sec", "read_bytes_sec",
                              "write_bytes_sec"]),
    "path": ([], []), "device/weight": ([], []), "read_iops_sec": ([], []), "write_iops_sec": ([], []),
    "read_bytes_sec": ([], []), "write_bytes_sec": ([], []),
    "bootloader": ([], []),
    "os": (["firmware"], ["type", "firmware", "loader", "nvram", "kernel", "initrd", "cmdline", "dtb", "root",
                          "init", "boot", "bootmenu", "smbios", "bios"]),
    "os/type": (["arch", "machine"], []),
    "os/firmware": ([], ["feature"]),
    "firmware/feature": (["enabled", "name"], []),
    "loader": (["readonly", "secure", "type"], []),
    "nvram": (["template"], []),
    "kernel": ([], []), "initrd": ([], []), "cmdline": ([], []), "dtb": ([], []), "root": ([], []),
    "init": ([], []),
    "boot": (["dev", "order"], []),
    "bootmenu": (["enable", "timeout"], []),
    "bios": (["useserial", "rebootTimeout"], []),
    "smbios": (["mode"], []),
    "hyperv": (["mode"], ["relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset",
                          "vendor_id", "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic"]),
    **{"hyperv/" + name: (["state"], []) for name in ("relaxed", "vapic", "vpindex", "runtime", "synic", "reset",
                                                      "frequencies", "reenlightenment", "tlbflush", "ipi",
                                                      "evmcs", "avic")},
    "hyperv/stimer": (["state"], ["direct"]), "stimer/direct": (["state"], []),
    "hyperv/spinlocks": (["state", "retries"], []),
    "hyperv/vendor_id": (["state", "value"], []),
    "features/kvm": ([], ["hidden", "hint-dedicated", "poll-control", "pv-ipi", "dirty-ring"]),
    **{"kvm/" + name: (["state"], []) for name in ("hidden", "hint-dedicated", "poll-control", "pv-ipi")},
    "sysinfo": (["type"], ["bios", "system", "baseBoard", "chassis", "processor", "memory_device", "oemStrings",
                           "entry"]),
    "sysinfo/bios": ([], ["entry"]), "sysinfo/system": ([], ["entry"]), "baseBoard": ([], ["entry"]),
    "chassis": ([], ["entry"]), "oemStrings": ([], ["entry"]),
    "entry": (["name", "file"], []),
    "features": ([], ["acpi", "apic", "pae", "hap", "viridian", "privnet", "hyperv", "kvm",
                      "pvspinlock", "capabilities", "pmu", "vmport", "gic", "smm", "ioapic", "hpt",
                      "vmcoreinfo", "htm", "nested-hv", "msrs", "ccf-assist", "xen", "cfpc", "sbbc",
                      "ibs", "tcg", "async-teardown"]),
    "acpi": ([], []), "pae": ([], []), "hap": (["state"], []), "viridian": ([], []),
    "privnet": ([], []), "pmu": (["state"], []), "vmport": (["state"], []), "smm": (["state"], []),
    "vmcoreinfo": (["state"], []), "pvspinlock": (["state"], []), "ioapic": (["driver"], []),
    "gic": (["version"], []),
    "features/apic": (["eoi"], []),
    "cpu": (["mode", "match", "check", "migratable"], ["model", "vendor", "topology", "cache",
                                                         "feature", "numa"]),
    "cpu/model": (["fallback", "vendor_id"], []),
    "vendor": ([], []),
    "topology": (["sockets", "dies", "cores", "threads"], []),
    "cpu/cache": (["level", "mode"], []),
    "cpu/feature": (["policy", "name"], []),
    "clock": (["offset", "adjustment", "basis", "timezone"], ["timer"]),
    "timer": (["name", "tickpolicy", "track", "present"], []),
    "on_poweroff": ([], []), "on_reboot": ([], []), "on_crash": ([], []),
    "on_lockfailure": ([], []),
    "pm": ([], ["suspend-to-mem", "suspend-to-disk"]),
    "suspend-to-mem": (["enabled"], []), "suspend-to-disk": (["enabled"], []),
    "devices": ([], ["emulator", "disk", "controller", "lease", "filesystem", "interface",
                     "smartcard", "serial", "parallel", "console", "channel", "input", "tpm",
                     "graphics", "sound", "audio", "video", "hostdev", "redirdev", "redirfilter",
                     "hub", "watchdog", "memballoon", "rng", "panic", "shmem", "memory", "iommu",
                     "vsock", "crypto"]),
    "emulator": ([], []),
    "disk": (["type", "device", "model", "rawio", "sgio", "snapshot"],
             ["driver", "source", "backingStore", "mirror", "target", "blockio", "iotune",
              "readonly", "shareable", "transient", "serial", "wwn", "vendor", "product",
              "encryption", "boot", "alias", "address"]),
    "disk/driver": (["name", "type", "cache", "error_policy", "rerror_policy", "io", "ioeventfd",
                     "event_idx", "copy_on_read", "discard", "iothread", "detect_zeroes", "queues",
                     "queue_size"], []),
    "disk/source": (["protocol", "name", "file", "dev", "dir", "pool", "volume", "mode",
                     "startupPolicy", "index"], ["host", "seclabel", "dataStore"]),
    "backingStore/source": (["protocol", "name", "file", "dev", "dir", "pool", "volume", "index"],
                            ["host", "dataStore"]),
    "dataStore": (["type"], ["format", "source"]),      # a qcow2 layer's external data file
    "dataStore/source": (["file", "dev"], []),
    "host": (["name", "port", "transport", "socket"], []),
    "backingStore": (["type", "index"], ["format", "source", "backingStore"]),
    "format": (["type"], []),
    "mirror": (["type", "job", "ready"], ["format", "source"]),
    "mirror/source": (["file", "dev"], []),
    "disk/target": (["dev", "bus", "tray", "removable", "rotation_rate"], []),
    "readonly": ([], []), "shareable": ([], []), "transient": ([], []),
    "serial": (["type"], ["source", "protocol", "log", "target", "alias", "address"]),
    "disk/serial": ([], []),
    "wwn": ([], []), "disk/vendor": ([], []), "product": ([], []),
    "disk/boot": (["order"], []),
    "alias": (["name"], []),
    "address": _ADDRESS,
    "controller": (["type", "index", "model", "ports", "vectors"], ["model", "driver", "master", "target",
                                                                    "alias", "address"]),
    "controller/model": (["name"], []),
    "controller/target": (["chassisNr", "chassis", "port", "busNr", "index"], []),
    "master": (["startport"], []),
    "interface": (["type", "trustGuestRxFilters"],
                  ["mac", "source", "virtualport", "bandwidth", "ip", "route", "script", "backenddomain",
                   "target", "guest", "model", "driver", "backend", "filterref", "tune", "teaming",
                   "link", "mtu", "boot", "alias", "address", "rom"]),
    "mac": (["address", "type", "check"], []),
    "interface/source": (["network", "portgroup", "portid", "bridge", "dev", "mode", "address", "port",
                          "path", "type"], []),
    "script": (["path"], []),
    "bandwidth": ([], ["inbound", "outbound"]),
    "bandwidth/inbound": (["average", "peak", "floor", "burst"], []),
    "bandwidth/outbound": (["average", "peak", "floor", "burst"], []),
    "interface/target": (["dev", "managed"], []),
    "interface/model": (["type"], []),
    "interface/driver": (["name", "queues"], []),
    "link": (["state"], []),
    "mtu": (["size"], []),
    "interface/boot": (["order"], []),
    "serial/source": (["mode", "path", "host", "service", "append"], []),
    "serial/target": (["type", "port"], ["model"]),
    "target/model": (["name"], []),
    "protocol": (["type"], []),
    "console": (["type", "tty"], ["source", "protocol", "log", "target", "alias"]),
    "console/source": (["mode", "path", "host", "service", "append"], []),
    "console/target": (["type", "port"], []),
    "channel": (["type"], ["source", "protocol", "target", "alias", "address"]),
    "channel/source": (["mode", "path", "host", "service", "append"], []),
    "channel/target": (["type", "name", "state"], []),
    "input": (["type", "bus"], ["alias", "address"]),
    "graphics": (["type", "port", "tlsPort", "autoport", "websocket", "listen", "passwd", "keymap",
                  "sharePolicy"], ["listen", "image"]),
    "image": (["compression"], []),
    "sound": (["model"], ["codec", "audio", "alias", "address"]),
    "sound/audio": (["id"], []),
    "devices/audio": (["id", "type"], []),
    "redirdev": (["bus", "type"], ["alias", "address"]),
    "graphics/listen": (["type", "address", "network", "socket"], []),
    "video": ([], ["driver", "model", "alias", "address"]),
    "video/model": (["type", "ram", "vram", "vram64", "vgamem", "heads", "primary"], []),
    "memballoon": (["model", "autodeflate", "freePageReporting"], ["stats", "alias", "address"]),
    "stats": (["period"], []),
    "rng": (["model"], ["rate", "backend", "alias", "address"]),
    "rate": (["bytes", "period"], []),
    "backend": (["model", "type"], []),
    "tpm": (["model"], ["backend", "alias", "address"]),
    "tpm/backend": (["type", "version", "persistent_state"], ["encryption", "active_pcr_banks", "device"]),
    "backend/encryption": (["secret"], []),
    "active_pcr_banks": ([], ["sha1", "sha256", "sha384", "sha512"]),
    "sha1": ([], []), "sha256": ([], []), "sha384": ([], []), "sha512": ([], []),
    "backend/device": (["path"], []),
    "watchdog": (["model", "action"], ["alias", "address"]),
    "panic": (["model"], ["address"]),
    "seclabel": (["type", "model", "relabel"], ["label", "imagelabel", "baselabel"]),
    "label": ([], []), "imagelabel": ([], []), "baselabel": ([], []),
}, verbatim=("metadata",), keep_open=("devices",))

# The reverse: names libvirt's parser accepts for some enumerations.
DOMAIN_TYPES = ("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
                "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "hvf")
OS_TYPES = ("hvm", "xen", "linux", "exe", "uml", "xenpvh")
DISK_TYPES = ("file", "block", "dir", "network", "volume", "nvme", "vhostuser")
DISK_DEVICES = ("disk", "cdrom", "floppy", "lun")
DISK_BUSES = ("ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd")
LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                     "coredump-restart")
_MEMORY_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "k": 2**10, "kib": 2**10, "mb": 10**6,
                 "m": 2**20, "mib": 2**20, "gb": 10**9, "g": 2**30, "gib": 2**30, "tb": 10**12,
                 "t": 2**40, "tib": 2**40, "pb": 10**15, "p": 2**50, "pib": 2**50, "eb": 10**18,
                 "e": 2**60, "eib": 2**60}


_UINT_MAX = 2**32 - 1


def _invalid_uint_attr(attr: str, element: str, value: str) -> str:
    """libvirt's virXMLPropUInt error for an attribute that is not an unsigned int."""
    return ("Invalid value for attribute '%s' in element '%s': '%s'. Expected non-negative integer value"
            % (attr, element, value))


def _memory_kib(element, path: str, required_name: str) -> int | None:
    """A <memory unit=...> value in KiB, rounded up as libvirt does."""
    node = element.find(path)
    if node is None:
        return None
    text = (node.text or "").strip()
    value = parse_uint(text)
    if value is None:
        raise DriverError(ErrorCode.XML_ERROR,
                          "Invalid value '%s' for element or attribute './%s[1]'" % (text, required_name))
    unit = node.get("unit", "KiB")
    scale = _MEMORY_UNITS.get(unit.lower())
    if scale is None:
        raise DriverError(ErrorCode.INVALID_ARG, "unknown suffix '%s'" % unit)
    return -(-value * scale // 1024)


class DomainDefaults:
    """What a driver adds to a definition (libvirt's per-driver post-parse)."""

    arch = "i686"
    default_video = "cirrus"
    interface_target_prefix = None      # the test driver names interfaces testnet0, testnet1, ...

    def os_arch(self, os_type: str) -> str:
        return self.arch

    def machine(self, arch: str) -> str | None:
        return None

    def add_default_devices(self, dom: DomainDef) -> None:
        """Devices the driver always adds (default controllers), before the implicit ones."""

    def post_parse(self, dom: DomainDef) -> None:
        """Driver-specific defaults after the generic ones."""


class Disk:
    """One <disk> element."""

    def __init__(self, element):
        self.el = element

    type = property(lambda self: self.el.get("type", "file"))
    device = property(lambda self: self.el.get("device", "disk"))

    @property
    def target(self) -> str:
        t = self.el.find("target")
        return t.get("dev") if t is not None else ""

    @property
    def bus(self) -> str | None:
        t = self.el.find("target")
        return t.get("bus") if t is not None else None

    @property
    def driver_type(self) -> str | None:
        d = self.el.find("driver")
        return d.get("type") if d is not None else None

    @property
    def readonly(self) -> bool:
        return self.el.find("readonly") is not None

    @property
    def source_element(self):
        return self.el.find("source")

    @property
    def source(self) -> str | None:
        """What domblklist shows: path, device, network name, volume name."""
        return source_path(self.type, self.el.find("source"))

    @property
    def source_pool(self) -> str | None:
        """The storage pool of a volume disk."""
        src = self.el.find("source")
        return src.get("pool") if src is not None and self.type == "volume" else None

    def set_source(self, disk_type: str, path: str | None) -> None:
        src = self.el.find("source")
        if src is None:
            src = etree.Element("source")
            driver = self.el.find("driver")
            (driver.addnext(src) if driver is not None else self.el.insert(0, src))
        for attr in ("file", "dev", "dir", "name", "protocol", "pool", "volume"):
            src.attrib.pop(attr, None)
        if path is not None:
            src.set("dev" if disk_type == "block" else "dir" if disk_type == "dir" else "file", path)
        self.el.set("type", disk_type)


def source_path(disk_type: str, src) -> str | None:
    if src is None:
        return None
    if disk_type == "network":
        return src.get("name")
    if disk_type == "volume":
        return src.get("volume")
    return src.get("file") or src.get("dev") or src.get("dir")


class DomainDef:
    """A parsed, normalized domain definition."""

    def __init__(self, root):
        self.root = root

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------

    @classmethod
    def from_xml(cls, text: str, defaults: DomainDefaults | None = None) -> DomainDef:
        root = parse(text, "domain_definition", root="domain")
        dom = cls(root)
        dom._normalize(defaults or DomainDefaults())
        return dom

    @classmethod
    def from_trusted_xml(cls, text: str, what: str = "domain definition") -> DomainDef:
        """Load XML pyvirsh wrote itself (state files): parse only, no defaults.
        ``what`` names the document (the file) if it turns out to be corrupt."""
        return cls(parse_trusted(text, what))

    def copy(self) -> DomainDef:
        return DomainDef(copy.deepcopy(self.root))

    # ------------------------------------------------------------------
    # properties
    # ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return text_of(self.root, "name")

    @name.setter
    def name(self, value: str) -> None:
        self.root.find("name").text = value

    @property
    def uuid(self) -> str:
        return text_of(self.root, "uuid")

    @property
    def virt_type(self) -> str:
        return self.root.get("type")

    @property
    def title(self) -> str:
        return text_of(self.root, "title", "")

    @property
    def memory_kib(self) -> int:
        return int(text_of(self.root, "memory", "0"))

    @property
    def current_memory_kib(self) -> int:
        return int(text_of(self.root, "currentMemory", "0"))

    @property
    def vcpus(self) -> int:
        vcpu = self.root.find("vcpu")
        return int(vcpu.get("current", vcpu.text)) if vcpu is not None else 1

    @property
    def max_vcpus(self) -> int:
        return int(text_of(self.root, "vcpu", "1"))

    @property
    def os_type(self) -> str:
        return text_of(self.root, "os/type")

    @property
    def arch(self) -> str | None:
        t = self.root.find("os/type")
        return t.get("arch") if t is not None else None

    @property
    def machine(self) -> str | None:
        t = self.root.find("os/type")
        return t.get("machine") if t is not None else None

    @property
    def devices(self):
        return self.root.find("devices")

    def disks(self) -> list[Disk]:
        return [Disk(el) for el in self.root.iterfind("devices/disk")]

    def find_disk(self, name: str) -> Disk | None:
        """A disk by target ('vda') or by source path, as libvirt's virDomainDiskByName."""
        for disk in self.disks():
            if disk.target == name:
                return disk
        for disk in self.disks():
            if disk.source is not None and disk.source == name:
                return disk
        return None

    def interfaces(self):
        return list(self.root.iterfind("devices/interface"))

    def lifecycle(self, event: str) -> str:
        return text_of(self.root, event)

    # ------------------------------------------------------------------
    # output
    # ------------------------------------------------------------------

    def to_xml(self, domid: int | None = None, indent: int = 0) -> str:
        """The definition as libvirt prints it; with the id of a running domain if given."""
        if domid is not None and domid >= 0:
            return DOMAIN_SCHEMA.write(self.root, indent, root_attrs={"id": str(domid)})
        self.root.attrib.pop("id", None)
        return DOMAIN_SCHEMA.write(self.root, indent)

    # ------------------------------------------------------------------
    # libvirt's generic checks and defaults
    # ------------------------------------------------------------------

    def _normalize(self, defaults: DomainDefaults) -> None:
        root = self.root
        root.attrib.pop("id", None)
        vtype = root.get("type")
        if vtype is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "missing domain type attribute")
        if vtype not in DOMAIN_TYPES:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "invalid domain type %s" % vtype)

        name = text_of(root, "name")
        if not name:
            raise DriverError(ErrorCode.RAW, "missing name information")
        if "/" in name:
            raise DriverError(ErrorCode.XML_ERROR, "name %s cannot contain '/'" % name)

        uuid_text = text_of(root, "uuid")
        if uuid_text is None:
            set_child(root, "uuid", new_uuid())
        else:
            canonical = parse_uuid(uuid_text)
            if canonical is None:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed uuid element")
            root.find("uuid").text = canonical

        title = text_of(root, "title")
        if title is not None and "\n" in title:
            raise DriverError(ErrorCode.XML_ERROR, "Domain title can't contain newlines")

        os_type = text_of(root, "os/type")
        memory = _memory_kib(root, "memory", "memory")
        if memory is None:
            if os_type is None:
                raise DriverError(ErrorCode.XML_ERROR, "an os <type> must be specified")
            raise DriverError(ErrorCode.XML_ERROR,
                              "Memory size must be specified via <memory> or in the <numa> configuration")
        current = _memory_kib(root, "currentMemory", "currentMemory")
        if current is None or current > memory:
            current = memory
        _replace_memory(root, "memory", memory)
        _replace_memory(root, "currentMemory", current)

        vcpu = root.find("vcpu")
        if vcpu is None:
            vcpu = set_child(root, "vcpu", "1")
        count = parse_uint((vcpu.text or "").strip(), _UINT_MAX)
        if count is None:
            raise DriverError(ErrorCode.XML_ERROR, "maximum vcpus count must be an integer")
        if count == 0:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "CPU IDs in <numa> exceed the <vcpu> count")
        vcpu.text = str(count)
        vcpu.set("placement", vcpu.get("placement", "static"))
        if vcpu.get("current") is not None:
            cur = vcpu.get("current")
            current = parse_uint(cur.lstrip(" \t\n\v\f\r"), _UINT_MAX)   # strtoul skips leading space
            if current is None:
                raise DriverError(ErrorCode.XML_ERROR, _invalid_uint_attr("current", "vcpu", cur))
            if current == count:
                del vcpu.attrib["current"]

        if os_type is None:
            raise DriverError(ErrorCode.XML_ERROR, "an os <type> must be specified")
        if os_type not in OS_TYPES:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "unknown OS type '%s'" % os_type)
        type_el = root.find("os/type")
        type_el.text = os_type
        if type_el.get("arch") is None:
            type_el.set("arch", defaults.os_arch(os_type))
        if type_el.get("machine") is None:
            machine = defaults.machine(type_el.get("arch"))
            if machine:
                type_el.set("machine", machine)
        os_el = root.find("os")
        per_device_boot = root.find("devices/*/boot") is not None
        if per_device_boot and os_el.find("boot") is not None:
            raise DriverError(ErrorCode.XML_ERROR,
                              "per-device boot elements cannot be used together with os/boot elements")
        if os_type == "hvm" and os_el.find("boot") is None and os_el.find("kernel") is None \
                and not per_device_boot:
            etree.SubElement(os_el, "boot").set("dev", "hd")
        loader = os_el.find("loader")
        if loader is not None and loader.get("type") is None and (loader.text or "").strip():
            loader.set("type", "rom")
        cpu = root.find("cpu")
        if cpu is not None and cpu.get("mode", "custom") == "custom" and cpu.find("model") is not None:
            cpu.set("mode", "custom")
            if cpu.get("match") is None:
                cpu.set("match", "exact")
            model = cpu.find("model")
            if model.get("fallback") is None:
                model.set("fallback", "allow")

        if root.find("clock") is None:
            etree.SubElement(root, "clock").set("offset", "utc")
        for event, default in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                               ("on_crash", "destroy")):
            action = text_of(root, event)
            if action is None:
                set_child(root, event, default)
            elif action not in LIFECYCLE_ACTIONS:
                raise DriverError(ErrorCode.XML_ERROR, "Invalid value for element '%s': '%s'"
                                  % (event, action))

        devices = root.find("devices")
        if devices is None:
            devices = etree.SubElement(root, "devices")
        # The driver's own default devices come before those the disks imply (libvirt
        # runs the driver's post-parse before adding implicit controllers).
        defaults.add_default_devices(self)
        self._normalize_disks(devices)
        self._normalize_chardevs(devices)
        self._normalize_graphics(devices, defaults)
        if defaults.interface_target_prefix:
            # numbered among the interfaces without a name, as libvirt's testDomainGenerateIfnames
            unnamed = [iface for iface in devices.iterfind("interface") if iface.find("target") is None]
            for n, iface in enumerate(unnamed):
                etree.SubElement(iface, "target").set("dev", "%s%d" % (defaults.interface_target_prefix, n))
        for iface in devices.iterfind("interface"):
            if iface.find("mac") is None:
                mac = etree.Element("mac")
                mac.set("address", "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3)))
                iface.insert(0, mac)
        defaults.post_parse(self)

    def _normalize_disks(self, devices) -> None:
        disks = list(devices.iterfind("disk"))
        ordered: list = []
        targets: dict[str, str | None] = {}
        for disk in disks:
            dtype = disk.get("type", "file")
            if dtype not in DISK_TYPES:
                raise DriverError(ErrorCode.XML_ERROR,
                                  "Invalid value for attribute 'type' in element 'disk': '%s'." % dtype)
            disk.set("type", dtype)
            device = disk.get("device", "disk")
            if device not in DISK_DEVICES:
                raise DriverError(ErrorCode.XML_ERROR,
                                  "Invalid value for attribute 'device' in element 'disk': '%s'." % device)
            disk.set("device", device)
            source = disk.find("source")
            path = source_path(dtype, source)
            target = disk.find("target")
            if target is None or not target.get("dev"):
                raise DriverError(ErrorCode.RAW, "missing target information for device %s"
                                  % (path or "(null)"))
            dev = target.get("dev")
            if dev in targets:
                raise DriverError(ErrorCode.XML_ERROR, "target '%s' duplicated for disk sources '%s' and '%s'"
                                  % (dev, targets[dev] or "(null)", path or "(null)"))
            targets[dev] = path
            bus = target.get("bus")
            if bus is not None and bus not in DISK_BUSES:
                raise DriverError(ErrorCode.XML_ERROR,
                                  "Invalid value for attribute 'bus' in element 'target': '%s'." % bus)
            if path is None and dtype == "block" and device in ("cdrom", "floppy"):
                disk.set("type", "file")
            if source is not None and path is None and dtype in ("file", "block", "dir"):
                disk.remove(source)
            if device == "cdrom" and disk.find("readonly") is None:
                etree.SubElement(disk, "readonly")
            _insert_disk(ordered, disk, bus)
        # libvirt inserts each disk after those on the same bus with a lower name index
        # (the bus is still unset there when the XML gives none).
        for disk in disks:
            devices.remove(disk)
        emulator = devices.find("emulator")
        pos = 1 if emulator is not None and devices.index(emulator) == 0 else 0
        for offset, disk in enumerate(ordered):
            devices.insert(pos + offset, disk)

        controllers_needed = []
        for disk in ordered:
            target = disk.find("target")
            dev = target.get("dev")
            bus = target.get("bus")
            if bus is None:
                bus = _default_bus(dev)
                if bus is None:
                    raise DriverError(ErrorCode.XML_ERROR,
                                      "Unknown disk name '%s' and no address specified" % dev)
                target.set("bus", bus)
            if bus in ("ide", "sata", "scsi", "fdc") and disk.find("address") is None:
                idx = disk_name_to_index(dev)
                if idx < 0:
                    raise DriverError(ErrorCode.XML_ERROR,
                                      "Unknown disk name '%s' and no address specified" % dev)
                if bus == "ide":
                    controller, busno, unit = idx // 4, (idx % 4) // 2, idx % 2
                elif bus == "fdc":
                    controller, busno, unit = idx // 2, 0, idx % 2
                elif bus == "sata":
                    controller, busno, unit = idx // 6, 0, idx % 6
                else:
                    controller, busno, unit = idx // 7, 0, idx % 7
                addr = etree.SubElement(disk, "address")
                for k, v in (("type", "drive"), ("controller", controller), ("bus", busno),
                             ("target", 0), ("unit", unit)):
                    addr.set(k, str(v))
            addr = disk.find("address")
            if bus in ("ide", "sata", "scsi", "fdc") and addr is not None and addr.get("type") == "drive":
                wanted = parse_uint(addr.get("controller", "0"), _UINT_MAX)
                if wanted is None:
                    raise DriverError(ErrorCode.XML_ERROR,
                                      _invalid_uint_attr("controller", "address", addr.get("controller")))
                controllers_needed.append((bus, wanted))
        _add_controllers(devices, controllers_needed)

    def _normalize_chardevs(self, devices) -> None:
        serials = list(devices.iterfind("serial"))
        for n, serial in enumerate(serials):
            target = serial.find("target")
            if target is None:
                target = etree.SubElement(serial, "target")
            if target.get("port") is None:
                target.set("port", str(n))
        consoles = list(devices.iterfind("console"))
        for console in consoles:
            if console.get("type") is None:
                console.set("type", "pty")
            console.attrib.pop("tty", None)
            if console.find("target") is None:
                target = etree.SubElement(console, "target")
                target.set("type", "serial")
                target.set("port", "0")
        if serials and not consoles:
            first = serials[0]
            console = etree.Element("console")
            console.set("type", first.get("type", "pty"))
            for child in first:
                if child.tag == "source":
                    console.append(copy.deepcopy(child))
            target = etree.SubElement(console, "target")
            target.set("type", "serial")
            target.set("port", first.find("target").get("port"))
            devices.append(console)

    def _normalize_graphics(self, devices, defaults: DomainDefaults) -> None:
        graphics = list(devices.iterfind("graphics"))
        for g in graphics:
            gtype = g.get("type")
            if gtype not in ("sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus"):
                raise DriverError(ErrorCode.XML_ERROR,
                                  "Invalid value for attribute 'type' in element 'graphics': '%s'."
                                  % (gtype or ""))
            if gtype == "vnc":
                port, autoport = g.get("port"), g.get("autoport")
                if port in (None, "-1") and autoport in (None, "yes"):
                    g.set("port", "-1")
                    g.set("autoport", "yes")
                elif autoport is None:
                    g.set("autoport", "no")
                if g.find("listen") is None:
                    listen = etree.SubElement(g, "listen")
                    listen.set("type", "address")
                    if g.get("listen"):
                        listen.set("address", g.get("listen"))
        if graphics and devices.find("video") is None and defaults.default_video:
            video = etree.SubElement(devices, "video")
            model = etree.SubElement(video, "model")
            model.set("type", defaults.default_video)
            model.set("vram", "16384")
            model.set("heads", "1")
            model.set("primary", "yes")


def _default_bus(dev: str) -> str | None:
    for prefix, bus in (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"), ("xvd", "xen"),
                        ("fd", "fdc"), ("ubd", "uml")):
        if dev.startswith(prefix):
            return bus
    return None


def _insert_disk(ordered: list, disk, bus) -> None:
    name_index = disk_name_to_index(disk.find("target").get("dev"))
    insert_at = -1
    for i in range(len(ordered) - 1, -1, -1):
        other = ordered[i]
        if other.find("target").get("bus") != bus:
            continue
        if disk_name_to_index(other.find("target").get("dev")) > name_index:
            insert_at = i
        elif insert_at == -1:
            insert_at = i + 1
    if insert_at == -1:
        ordered.append(disk)
    else:
        ordered.insert(insert_at, disk)


# libvirt adds the controllers disks imply in this order (virDomainDefAddImplicitControllers).
_IMPLICIT_CONTROLLER_ORDER = ("scsi", "fdc", "ide", "sata")


def _add_controllers(devices, needed) -> None:
    """Explicit controllers keep their XML order; implied ones follow, by type, indexes 0..max."""
    for c in devices.iterfind("controller"):
        if c.get("index") is None:
            c.set("index", "0")
    existing = {(c.get("type"), c.get("index")) for c in devices.iterfind("controller")}
    highest: dict[str, int] = {}
    for ctype, index in needed:
        highest[ctype] = max(highest.get(ctype, -1), index)
    for ctype in _IMPLICIT_CONTROLLER_ORDER:
        for i in range(highest.get(ctype, -1) + 1):
            if (ctype, str(i)) not in existing:
                el = etree.SubElement(devices, "controller")
                el.set("type", ctype)
                el.set("index", str(i))
                existing.add((ctype, str(i)))


def _replace_memory(root, tag: str, kib: int) -> None:
    el = root.find(tag)
    if el is None:
        el = etree.SubElement(root, tag)
    el.attrib.clear()
    el.set("unit", "KiB")
    el.text = str(kib)
