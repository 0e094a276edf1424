"""What each of libvirt's storage pool types takes (its poolTypeInfo table): the formats
a pool's <source> may name and the one it gets by default, and the formats of its volumes.
The pool parser's defaults and checks and `pool-capabilities` are all read from here."""

from __future__ import annotations

from ..api import POOL_TYPE_FLAGS
from ..xmlescape import escape
from .imageformats import FORMATS

FS_FORMATS = ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+",
              "xfs", "ocfs2", "vmfs")
NETFS_FORMATS = ("auto", "nfs", "glusterfs", "cifs")
LOGICAL_FORMATS = ("unknown", "lvm2")
DISK_FORMATS = ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")
PARTITION_FORMATS = ("none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended")


class Options:
    """A default format and the formats allowed (libvirt's poolOptions or volOptions).
    Plain classes, not NamedTuple: the listing commands import this and typing is slow."""
    __slots__ = ("default", "formats")

    def __init__(self, default: str, formats: tuple[str, ...]):
        self.default = default
        self.formats = formats


class PoolType:
    __slots__ = ("source", "volume")

    def __init__(self, source: Options | None, volume: Options | None):
        self.source = source            # None: the type keeps no <source><format>
        self.volume = volume            # None: its volumes have no <format>


_FILES = Options("raw", FORMATS)

POOL_TYPES: dict[str, PoolType] = {
    "dir": PoolType(None, _FILES),
    "fs": PoolType(Options("auto", FS_FORMATS), _FILES),
    "netfs": PoolType(Options("auto", NETFS_FORMATS), _FILES),
    "logical": PoolType(Options("lvm2", LOGICAL_FORMATS), None),
    "disk": PoolType(Options("unknown", DISK_FORMATS), Options("none", PARTITION_FORMATS)),
    "iscsi": PoolType(None, None),
    "iscsi-direct": PoolType(None, None),
    "scsi": PoolType(None, None),
    "mpath": PoolType(None, None),
    "rbd": PoolType(None, Options("raw", ())),
    "sheepdog": PoolType(None, None),
    "gluster": PoolType(None, _FILES),
    "zfs": PoolType(None, None),
    "vstorage": PoolType(None, _FILES),
}
assert list(POOL_TYPES) == list(POOL_TYPE_FLAGS)     # one order: libvirt's


def default_volume_format(pool_type: str) -> str | None:
    """The format a new volume of a pool of this type gets when its XML names none."""
    volume = POOL_TYPES[pool_type].volume
    return volume.default if volume is not None else None


def capabilities_xml(supported) -> str:
    """`pool-capabilities`: every type, its options, and whether this driver runs it."""
    out = "<storagepoolCapabilities>\n"
    for name, info in POOL_TYPES.items():
        out += "  <pool type='%s' supported='%s'>\n" % (name, "yes" if name in supported else "no")
        for tag, enum, options in (("poolOptions", "sourceFormatType", info.source),
                                   ("volOptions", "targetFormatType", info.volume)):
            if options is None:
                continue
            out += "    <%s>\n      <defaultFormat type='%s'/>\n      <enum name='%s'>\n" % (
                tag, options.default, enum)
            out += "".join("        <value>%s</value>\n" % escape(f) for f in options.formats)
            out += "      </enum>\n    </%s>\n" % tag
        out += "  </pool>\n"
    return out + "</storagepoolCapabilities>\n"
