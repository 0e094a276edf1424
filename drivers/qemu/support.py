"""What the QEMU driver applies: every element and attribute of a domain XML it
maps to QEMU, by path. Anything else is refused at define with
'unsupported configuration:' naming it, so nothing is dropped silently by
construction: a new element reaches QEMU only once someone adds it here *and*
maps it.

Paths are element names from <domain> down, joined by '/'. A path mapped to
ANY_CONTENT keeps its whole subtree as written (free-form metadata, and the
disk chains chaincache owns).
"""

from __future__ import annotations

from .refusal import unsupported

ANY_CONTENT = None

_ADDRESS = {"type", "domain", "bus", "slot", "function", "multifunction", "controller", "target", "unit",
            "port"}
_ALIAS = {"name"}
_CHARDEV_SOURCE = {"path", "mode", "host", "service", "append"}


def _device(tag: str, attrs: set, children: dict, address: bool = True) -> dict:
    """A device element with its alias and (unless it has none) address children."""
    table = {tag: attrs, tag + "/alias": _ALIAS}
    if address:
        table[tag + "/address"] = _ADDRESS
    table.update({tag + "/" + k: v for k, v in children.items()})
    return table


SUPPORTED: dict[str, set | None] = {
    "": {"type", "id"},
    "name": set(), "uuid": set(), "title": set(), "description": set(),
    "metadata": ANY_CONTENT,
    "memory": {"unit"}, "currentMemory": {"unit"},
    "vcpu": {"placement", "current"},
    "os": {"firmware"},
    "os/type": {"arch", "machine"},
    "os/firmware": set(),
    "os/firmware/feature": {"enabled", "name"},
    "os/loader": {"readonly", "secure", "type"},
    "os/nvram": {"template"},
    "os/kernel": set(), "os/initrd": set(), "os/cmdline": set(),
    "os/boot": {"dev"},
    "os/bootmenu": {"enable", "timeout"},
    "os/smbios": {"mode"},                                      # sysinfo.py
    "sysinfo": {"type"},
    "sysinfo/bios": set(), "sysinfo/bios/entry": {"name"},
    "sysinfo/system": set(), "sysinfo/system/entry": {"name"},
    "sysinfo/baseBoard": set(), "sysinfo/baseBoard/entry": {"name"},
    "sysinfo/chassis": set(), "sysinfo/chassis/entry": {"name"},
    "sysinfo/oemStrings": set(), "sysinfo/oemStrings/entry": set(),
    "sysinfo/entry": {"name", "file"},                          # type='fwcfg'
    "features": set(),
    "features/acpi": set(), "features/apic": set(), "features/pae": set(),
    "features/vmport": {"state"}, "features/smm": {"state"},
    "features/pvspinlock": {"state"}, "features/ioapic": {"driver"},          # cpuflags.py
    "features/hyperv": {"mode"},
    **{"features/hyperv/" + name: {"state"} for name in ("relaxed", "vapic", "vpindex", "runtime", "synic",
                                                         "stimer", "reset", "frequencies", "reenlightenment",
                                                         "tlbflush", "ipi", "evmcs", "avic")},
    "features/hyperv/spinlocks": {"state", "retries"},
    "features/hyperv/vendor_id": {"state", "value"},
    "features/hyperv/stimer/direct": {"state"},
    "features/kvm": set(),
    **{"features/kvm/" + name: {"state"} for name in ("hidden", "hint-dedicated", "poll-control", "pv-ipi")},
    "cpu": {"mode", "match", "check", "migratable"},
    "cpu/model": {"fallback"},
    "cpu/topology": {"sockets", "dies", "cores", "threads"},
    "cpu/feature": {"policy", "name"},
    "clock": {"offset"},
    "clock/timer": {"name", "tickpolicy", "present"},
    "on_poweroff": set(), "on_reboot": set(), "on_crash": set(),
    "pm": set(),
    "pm/suspend-to-mem": {"enabled"}, "pm/suspend-to-disk": {"enabled"},
    "devices": set(),
    "devices/emulator": set(),
    **_device("devices/disk", {"type", "device"}, {
        "driver": {"name", "type", "cache", "io", "discard", "detect_zeroes"},
        "source": {"file", "dev", "index", "pool", "volume", "mode"},     # pool/volume: volumedisks.py
        "backingStore": ANY_CONTENT,        # chaincache's (user-written chains, the live cache)
        "target": {"dev", "bus"},
        "readonly": set(), "serial": set(),
        "boot": {"order"},
    }),
    **_device("devices/controller", {"type", "index", "model", "ports"}, {
        "model": {"name"},
        "target": {"chassis", "port", "chassisNr"},
        "master": {"startport"},
    }),
    **_device("devices/interface", {"type"}, {
        "mac": {"address"}, "model": {"type"}, "boot": {"order"},
        "source": {"network", "bridge", "portid", "dev", "mode"},     # dev, mode: direct (macvtap.py)
        "target": {"dev", "managed"},                            # network, bridge, ethernet, direct: netifaces.py
        "script": {"path"},                                      # ethernet: run with the tap's name
        "bandwidth": set(), "bandwidth/inbound": {"average", "peak", "burst"},      # tc on the tap
        "bandwidth/outbound": {"average", "peak", "burst"},
        "link": {"state"},                                       # QMP set_link (netifaces.set_link_states)
    }),
    **_device("devices/serial", {"type"}, {
        "source": _CHARDEV_SOURCE, "protocol": {"type"},
        "target": {"type", "port"}, "target/model": {"name"},
    }),
    **_device("devices/console", {"type", "tty"}, {
        "source": _CHARDEV_SOURCE, "protocol": {"type"}, "target": {"type", "port"},
    }, address=False),
    **_device("devices/channel", {"type"}, {
        "source": _CHARDEV_SOURCE, "target": {"type", "name", "state"},
    }),
    **_device("devices/input", {"type", "bus"}, {}),
    "devices/graphics": {"type", "port", "autoport", "listen", "tlsPort"},
    "devices/graphics/listen": {"type", "address"},
    "devices/graphics/image": {"compression"},
    **_device("devices/video", set(), {"model": {"type", "ram", "vram", "vgamem", "heads", "primary"}}),
    **_device("devices/sound", {"model"}, {"audio": {"id"}}),
    "devices/audio": {"id", "type"},
    **_device("devices/redirdev", {"bus", "type"}, {}),
    **_device("devices/memballoon", {"model", "autodeflate", "freePageReporting"}, {"stats": {"period"}}),
    **_device("devices/rng", {"model"}, {"backend": {"model"}, "rate": {"bytes", "period"}}),
    **_device("devices/watchdog", {"model", "action"}, {}),
    "devices/panic": {"model"}, "devices/panic/address": {"type", "iobase"},
    **_device("devices/tpm", {"model"}, {"backend": {"type", "version", "persistent_state"},
                                         "backend/device": {"path"},          # passthrough's: refused whole
                                         "backend/encryption": {"secret"},    # refused by swtpm.check
                                         "backend/active_pcr_banks": set(),
                                         **{"backend/active_pcr_banks/" + bank: set()
                                            for bank in ("sha1", "sha256", "sha384", "sha512")}},
              address=False),
}

# Values the mapping knows, per (path, attribute); others are refused by name.
VALUES: dict[tuple[str, str], tuple] = {
    ("vcpu", "placement"): ("static",),
    ("os", "firmware"): ("efi", "bios"),
    ("os/smbios", "mode"): ("sysinfo", "host", "emulate"),
    ("sysinfo", "type"): ("smbios", "fwcfg"),
    ("cpu", "migratable"): ("on", "off"),
    ("devices/memballoon", "autodeflate"): ("on", "off"),
    ("devices/memballoon", "freePageReporting"): ("on", "off"),
    ("os/loader", "type"): ("rom", "pflash"),
    ("os/boot", "dev"): ("hd", "cdrom", "network", "fd"),
    ("features/vmport", "state"): ("on", "off"),
    ("features/smm", "state"): ("on", "off"),
    ("features/pvspinlock", "state"): ("on", "off"),
    ("features/ioapic", "driver"): ("qemu", "kvm"),
    ("features/hyperv", "mode"): ("custom", "passthrough"),
    ("cpu", "mode"): ("custom", "host-passthrough", "host-model", "maximum"),
    ("clock", "offset"): ("utc", "localtime"),
    ("devices/disk", "type"): ("file", "block", "volume"),
    ("devices/disk", "device"): ("disk", "cdrom", "floppy"),
    ("devices/disk/target", "bus"): ("virtio", "sata", "scsi", "ide", "fdc"),
    ("devices/controller", "type"): ("pci", "usb", "sata", "ide", "scsi", "virtio-serial", "fdc"),
    ("devices/interface", "type"): ("user", "network", "bridge", "ethernet", "direct"),
    ("devices/interface/target", "managed"): ("yes", "no"),
    ("devices/interface/model", "type"): ("virtio", "e1000", "e1000e", "rtl8139"),
    ("devices/serial", "type"): ("pty", "file", "unix", "tcp", "null"),
    ("devices/console", "type"): ("pty", "file", "unix", "tcp", "null"),
    ("devices/channel", "type"): ("unix", "pty", "spicevmc"),
    ("devices/channel/target", "type"): ("virtio",),
    ("devices/input", "type"): ("mouse", "keyboard", "tablet"),
    ("devices/input", "bus"): ("ps2", "usb", "virtio"),
    ("devices/graphics", "type"): ("vnc", "spice"),
    ("devices/graphics/listen", "type"): ("address",),
    ("devices/video/model", "type"): ("vga", "cirrus", "qxl", "virtio", "bochs", "none"),
    ("devices/sound", "model"): ("ich9", "ich6", "ac97"),
    ("devices/audio", "type"): ("none", "spice"),
    ("devices/redirdev", "bus"): ("usb",),
    ("devices/redirdev", "type"): ("spicevmc",),
    ("devices/memballoon", "model"): ("virtio", "none"),
    ("devices/rng", "model"): ("virtio",),
    ("devices/rng/backend", "model"): ("random",),
    ("devices/watchdog", "model"): ("i6300esb", "ib700"),
    ("devices/panic", "model"): ("isa",),
    ("devices/panic/address", "type"): ("isa",),
    ("devices/tpm", "model"): ("tpm-tis", "tpm-crb"),
    ("devices/tpm/backend", "type"): ("emulator", "passthrough"),       # passthrough: refused by name
    ("devices/tpm/backend", "version"): ("1.2", "2.0"),
    ("devices/tpm/backend", "persistent_state"): ("yes", "no"),
    ("devices/watchdog", "action"): ("reset", "shutdown", "poweroff", "pause", "none", "inject-nmi"),
}


def check(root) -> None:
    """Refuse the first element, attribute or value the QEMU driver does not apply."""
    _walk(root, "")


def _walk(element, path: str) -> None:
    allowed = SUPPORTED[path]
    assert allowed is not None      # an ANY_CONTENT subtree is never walked (see below)
    shown = path or "domain"
    for attr, value in element.attrib.items():
        if attr not in allowed:
            raise unsupported("pyvirsh's QEMU driver does not support attribute '%s' of <%s> (%s)"
                              % (attr, element.tag, shown))
        values = VALUES.get((path, attr))
        if values is not None and value not in values:
            raise unsupported("pyvirsh's QEMU driver does not support %s='%s' in <%s> (%s)"
                              % (attr, value, element.tag, shown))
    for child in element:
        if not isinstance(child.tag, str):
            continue
        child_path = "%s/%s" % (path, child.tag) if path else child.tag
        if child_path not in SUPPORTED:
            if path == "devices":
                raise unsupported("pyvirsh's QEMU driver does not support <%s> devices" % child.tag)
            raise unsupported("pyvirsh's QEMU driver does not support element <%s> in <%s>"
                              % (child.tag, element.tag))
        if SUPPORTED[child_path] is not ANY_CONTENT:
            _walk(child, child_path)
