"""`logical` pools (an LVM volume group) as libvirt's logical backend drives them with
lvm2's tools: the command lines, and the reading of what `vgs` and `lvs` print.

Not yet wired into the QEMU driver (pooldef.SUPPORTED_TYPES leaves `logical` out, so a
logical pool is refused with `unsupported configuration:` naming the type): an LVM
volume is a device-mapper device, and a kernel without device-mapper (no
`device-mapper` line in /proc/misc) can hold a volume group's metadata but can
activate none of its volumes. `device_mapper_missing()` says so in words a user can
act on. What the tools print is read here so that the backend, once wired, is the
part already tested against the real tools (tests/test_storage_logical.py).
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode

# libvirt's refresh: the volume group's sizes, then one line per logical volume segment.
VGS_FIELDS = ("vg_size", "vg_free")
LVS_FIELDS = ("lv_name", "origin", "uuid", "devices", "segtype", "stripes", "seg_size", "vg_extent_size",
              "size", "lv_attr")
_REPORT = ["--noheadings", "--units", "b", "--unbuffered", "--nosuffix"]


def vgs_argv(vg: str) -> list[str]:
    return ["vgs", "--separator", ":"] + _REPORT + ["--options", ",".join(VGS_FIELDS), vg]


def lvs_argv(vg: str) -> list[str]:
    return ["lvs", "--separator", "#"] + _REPORT + ["--options", ",".join(LVS_FIELDS), vg]


def build_argvs(vg: str, devices: list[str]) -> list[list[str]]:
    """pool-build: each device made a physical volume, then the group over all of them."""
    if not devices:
        raise DriverError(ErrorCode.XML_ERROR, "missing source device")
    return [["pvcreate", dev] for dev in devices] + [["vgcreate", vg] + list(devices)]


def start_argv(vg: str) -> list[str]:
    return ["vgchange", "-aay", vg]


def stop_argv(vg: str) -> list[str]:
    return ["vgchange", "-aan", vg]


def delete_argvs(vg: str, devices: list[str]) -> list[list[str]]:
    return [["vgremove", "-f", vg]] + [["pvremove", dev] for dev in devices]


def create_volume_argv(vg: str, name: str, capacity: int, allocation: int | None = None) -> list[str]:
    """lvcreate of capacity bytes (as libvirt: KiB, rounded up); a smaller allocation makes a
    sparse (snapshot-backed) volume of virtual size capacity, as libvirt does."""
    if "/" in name:
        raise DriverError(ErrorCode.OPERATION_INVALID, "volume name '%s' cannot contain '/'" % name)
    kib = -(-capacity // 1024)
    if allocation is not None and allocation < capacity:
        return ["lvcreate", "--name", name, "-L", "%dK" % -(-allocation // 1024), "--virtualsize", "%dK" % kib, vg]
    return ["lvcreate", "--name", name, "-L", "%dK" % kib, vg]


def delete_volume_argv(vg: str, name: str) -> list[str]:
    return ["lvremove", "-f", "%s/%s" % (vg, name)]


def parse_vgs(text: str) -> tuple[int, int]:
    """(capacity, available) in bytes from vgs_argv's output: one line, two numbers."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse vgs output: %r" % text)
    fields = lines[0].split(":")
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse vgs output: %r" % text)
    return int(fields[0]), int(fields[1])


class LogicalVolume:
    """One logical volume as lvs shows it: libvirt's volume of a logical pool."""

    __slots__ = ("name", "key", "path", "capacity", "allocation", "origin", "segtype", "attr", "extents")

    def __init__(self, vg: str, name: str, key: str, capacity: int, origin: str | None, segtype: str,
                 attr: str):
        self.name = name
        self.key = key                      # the LV's UUID, as libvirt keys it
        self.path = "/dev/%s/%s" % (vg, name)
        self.capacity = capacity
        self.allocation = 0                 # the sum of its segments' sizes
        self.origin = origin                # a snapshot's origin volume: its backing store
        self.segtype = segtype
        self.attr = attr
        self.extents: list[tuple[str, int]] = []     # (device, first extent) of each segment

    @property
    def active(self) -> bool:
        return len(self.attr) > 4 and self.attr[4] == "a"


def parse_lvs(text: str, vg: str) -> list[LogicalVolume]:
    """The volumes of lvs_argv's output, one line per segment (a volume of several segments
    comes on several lines), sorted by name. Thin pools and the hidden parts of other
    volumes are no volumes of their own, as in libvirt: an attr starting with 't', or a name
    in brackets."""
    volumes: dict[str, LogicalVolume] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        fields = line.split("#")
        if len(fields) != len(LVS_FIELDS):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse lvs output: %r" % line)
        row = dict(zip(LVS_FIELDS, fields))
        name, attr = row["lv_name"], row["lv_attr"]
        if attr.startswith("t") or name.startswith("["):
            continue
        for number in ("stripes", "seg_size", "vg_extent_size", "size"):
            if not row[number].isdigit():
                raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed %s in lvs output: %r" % (number, line))
        vol = volumes.get(name)
        if vol is None:
            vol = volumes[name] = LogicalVolume(vg, name, row["uuid"], int(row["size"]), row["origin"] or None,
                                                row["segtype"], attr)
        vol.allocation += int(row["seg_size"])
        vol.extents.extend(_extents(row["devices"], line))
    return [volumes[n] for n in sorted(volumes)]


def _extents(devices: str, line: str) -> list[tuple[str, int]]:
    """'/dev/loop0(0),/dev/loop1(12)': (device, first physical extent) of each stripe."""
    out = []
    for part in devices.split(","):
        if not part:
            continue
        dev, _, rest = part.partition("(")
        if not rest.endswith(")") or not rest[:-1].isdigit():
            raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed devices in lvs output: %r" % line)
        out.append((dev, int(rest[:-1])))
    return out


def device_mapper_missing(proc_misc: str = "/proc/misc") -> str | None:
    """Why no logical volume can be activated here, or None: the kernel lists device-mapper
    among its misc devices when it has it (a /dev/mapper/control node alone is not enough)."""
    try:
        with open(proc_misc) as f:
            misc = f.read().split()
    except OSError as err:
        return "cannot read %s: %s" % (proc_misc, err.strerror)
    if "device-mapper" in misc:
        return None
    return "the kernel has no device-mapper (no 'device-mapper' in %s): LVM volumes cannot be activated" % proc_misc
