"""A storage volume's XML: what vol-create and vol-create-from hand the driver,
read as libvirt reads it (virStorageVolDefParseXML), and the XML vol-dumpxml shows.

Elements libvirt fills in itself (key, physical, target path, timestamps) are
accepted and ignored, as libvirt does; anything else pyvirsh does not apply is
refused with 'unsupported configuration:' naming it.
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode
from ..xmlescape import escape

MAX_SIZE = (1 << 63) - 1     # a file cannot be larger than an off_t

_VOLUME_CHILDREN = ("name", "key", "capacity", "allocation", "physical", "target", "backingStore", "source")
_TARGET_CHILDREN = ("path", "format", "permissions", "timestamps", "compat", "features")
_BACKING_CHILDREN = ("path", "format", "permissions", "timestamps")


class VolumeDef:
    """A new volume: name, sizes in bytes, format, qcow2 compat, permissions mode, backing (path, format)."""

    def __init__(self, name: str, capacity: int, allocation: int | None, fmt: str | None):
        self.name = name
        self.capacity = capacity
        self.allocation = allocation      # None: as much as the capacity (libvirt's default)
        self.format = fmt
        self.compat: str | None = None
        self.lazy_refcounts = False
        self.mode: int | None = None
        self.backing_path: str | None = None
        self.backing_format: str | None = None


def _unsupported(what: str) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED, "volume XML element %s is not supported by pyvirsh" % what)


def _check_children(element, allowed, where: str) -> None:
    for child in element:
        if isinstance(child.tag, str) and child.tag not in allowed:
            raise _unsupported("<%s> in <%s>" % (child.tag, where))


def _unit_scale(unit: str) -> int | None:
    """libvirt's virScaleInteger units: b/bytes, k/KiB (1024), KB (1000), ... up to exa."""
    low = unit.lower()
    if low in ("", "b", "byte", "bytes"):
        return 1
    exponent = "kmgtpe".find(low[0]) + 1
    if exponent == 0:
        return None
    if len(low) == 1 or low[1:] == "ib":
        return 1024 ** exponent
    if low[1:] == "b":
        return 1000 ** exponent
    return None


def scaled_size(element, tag: str) -> int | None:
    """A <capacity>/<allocation> with its unit, in bytes; None when absent."""
    from ..ids import parse_uint

    el = element.find(tag)
    if el is None:
        return None
    value = parse_uint((el.text or "").strip())
    scale = _unit_scale(el.get("unit", "bytes"))
    if value is None:
        # libvirt's virStorageSize names the capacity element for either size
        raise DriverError(ErrorCode.XML_ERROR, "malformed capacity element")
    if scale is None:
        raise DriverError(ErrorCode.INVALID_ARG, "unknown suffix '%s'" % el.get("unit"))
    if value * scale > MAX_SIZE:
        raise DriverError(ErrorCode.RAW, "numerical overflow: value too large: %s%s" % (el.text, el.get("unit", "")))
    return value * scale


def parse_volume(xml: str) -> VolumeDef:
    from ..xmlutil import parse

    doc = parse(xml, "(storage_volume_definition)", root="volume")
    _check_children(doc, _VOLUME_CHILDREN, "volume")
    if doc.find("source") is not None and len(doc.find("source")):
        raise _unsupported("<source> in <volume>")
    name = doc.findtext("name")
    if not name:
        raise DriverError(ErrorCode.XML_ERROR, "missing volume name element")
    capacity = scaled_size(doc, "capacity")
    if capacity is None:
        raise DriverError(ErrorCode.XML_ERROR, "missing capacity element")
    vol = VolumeDef(name, capacity, scaled_size(doc, "allocation"), None)
    target = doc.find("target")
    if target is not None:
        _check_children(target, _TARGET_CHILDREN, "target")
        fmt = target.find("format")
        if fmt is not None:
            vol.format = fmt.get("type")
        vol.compat = target.findtext("compat")
        features = target.find("features")
        if features is not None:
            _check_children(features, ("lazy_refcounts",), "features")
            vol.lazy_refcounts = features.find("lazy_refcounts") is not None
        mode = target.findtext("permissions/mode")
        if mode is not None:
            try:
                vol.mode = int(mode.strip(), 8)
            except ValueError:
                vol.mode = -1
            if not 0 <= vol.mode <= 0o777:
                raise DriverError(ErrorCode.XML_ERROR, "malformed octal mode")
    backing = doc.find("backingStore")
    if backing is not None:
        _check_children(backing, _BACKING_CHILDREN, "backingStore")
        vol.backing_path = backing.findtext("path")
        fmt = backing.find("format")
        if fmt is not None:
            vol.backing_format = fmt.get("type")
        if not vol.backing_path:
            raise DriverError(ErrorCode.XML_ERROR, "missing volume backing store path")
    return vol


def _timestamps(st, indent: str) -> str:
    def one(tag, seconds_ns):
        sec, ns = divmod(seconds_ns, 10**9)
        return "%s  <%s>%d%s</%s>\n" % (indent, tag, sec, (".%09d" % ns) if ns else "", tag)

    return (indent + "<timestamps>\n" + one("atime", st.st_atime_ns) + one("mtime", st.st_mtime_ns)
            + one("ctime", st.st_ctime_ns) + indent + "  <btime>0</btime>\n" + indent + "</timestamps>\n")


def _perms(st, indent: str) -> str:
    return ("%s<permissions>\n%s  <mode>%04o</mode>\n%s  <owner>%d</owner>\n%s  <group>%d</group>\n"
            "%s</permissions>\n" % (indent, indent, st.st_mode & 0o777, indent, st.st_uid, indent, st.st_gid,
                                    indent))


def volume_xml(name: str, path: str, fmt: str, capacity: int, allocation: int, st, backing) -> str:
    """libvirt's vol-dumpxml of a file (or directory) volume; backing is (path, format or None,
    stat or None) or None."""
    vol_type = "dir" if fmt == "dir" else "file"
    out = ("<volume type='%s'>\n  <name>%s</name>\n  <key>%s</key>\n"
           "  <capacity unit='bytes'>%d</capacity>\n  <allocation unit='bytes'>%d</allocation>\n"
           % (vol_type, escape(name), escape(path), capacity, allocation))
    if vol_type == "file":
        out += "  <physical unit='bytes'>%d</physical>\n" % st.st_size
    out += "  <target>\n    <path>%s</path>\n    <format type='%s'/>\n" % (escape(path), fmt)
    out += _perms(st, "    ") + _timestamps(st, "    ") + "  </target>\n"
    if backing is not None:
        bpath, bfmt, bst = backing
        out += "  <backingStore>\n    <path>%s</path>\n" % escape(bpath)
        if bfmt is not None:
            out += "    <format type='%s'/>\n" % bfmt
        if bst is not None:
            out += _perms(bst, "    ") + _timestamps(bst, "    ")
        out += "  </backingStore>\n"
    return out + "</volume>\n"
