"""A storage pool's definition: libvirt's pool XML read and written back.

Only what pyvirsh applies is accepted; any other element is refused with
'unsupported configuration:' naming it, never dropped. The words of the
errors are libvirt's (virStoragePoolDefParseXML).
"""

from __future__ import annotations

import os

from ..api import POOL_TYPE_FLAGS, DriverError, ErrorCode
from ..xmlescape import escape
from .pooltypes import POOL_TYPES

# Pool types the QEMU driver can run; the others parse but are refused on use.
SUPPORTED_TYPES = ("dir", "fs")

# What <source> may hold, per child element: the ones pyvirsh keeps.
_SOURCE_CHILDREN = ("host", "dir", "device", "name", "format")
_TARGET_CHILDREN = ("path", "permissions")
_POOL_CHILDREN = ("name", "uuid", "capacity", "allocation", "available", "source", "target")


class Permissions:
    """<permissions>: mode as an int (None when not given), owner and group ids (-1: not given)."""

    __slots__ = ("mode", "owner", "group")

    def __init__(self, mode=None, owner=-1, group=-1):
        self.mode = mode
        self.owner = owner
        self.group = group

    def given(self) -> bool:
        return self.mode is not None or self.owner != -1 or self.group != -1

    def to_xml(self, indent: str) -> str:
        out = indent + "<permissions>\n"
        if self.mode is not None:
            out += indent + "  <mode>%04o</mode>\n" % self.mode
        if self.owner != -1:
            out += indent + "  <owner>%d</owner>\n" % self.owner
        if self.group != -1:
            out += indent + "  <group>%d</group>\n" % self.group
        return out + indent + "</permissions>\n"


class PoolDef:
    """One pool's definition (libvirt's virStoragePoolDef, the parts pyvirsh applies).

    capacity/allocation/available are the sizes last measured (0 until the
    pool has run); target_perms are the target directory's, filled when it runs.
    """

    def __init__(self, pool_type: str, name: str, uuid: str):
        self.type = pool_type
        self.name = name
        self.uuid = uuid
        self.hosts: list[str] = []
        self.source_dir: str | None = None
        self.devices: list[str] = []
        self.source_name: str | None = None
        self.source_format: str | None = None
        self.target_path: str | None = None
        self.target_perms = Permissions()
        self.capacity = 0
        self.allocation = 0
        self.available = 0

    @property
    def target_dir(self) -> str:
        """The target path of a pool that must have one: parse_pool refuses a dir or fs pool
        without it, so this error is for a caller that forgot to refuse another type first."""
        if self.target_path is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "storage pool '%s' has no target path" % self.name)
        return self.target_path

    def definition_xml(self) -> str:
        """The definition alone, without sizes: what a persistent pool's config file holds."""
        return self.to_xml(with_sizes=False)

    def same_definition(self, other: PoolDef) -> bool:
        """Whether two definitions differ only in what a start measures (sizes, permissions)."""
        return self.to_xml(False, False) == other.to_xml(False, False)

    def to_xml(self, with_sizes: bool = True, with_perms: bool = True) -> str:
        out = "<pool type='%s'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n" % (
            self.type, escape(self.name), self.uuid)
        if with_sizes:
            for tag in ("capacity", "allocation", "available"):
                out += "  <%s unit='bytes'>%d</%s>\n" % (tag, getattr(self, tag), tag)
        out += "  <source>\n"
        for host in self.hosts:
            out += "    <host name='%s'/>\n" % escape(host)
        if self.source_dir is not None:
            out += "    <dir path='%s'/>\n" % escape(self.source_dir)
        for dev in self.devices:
            out += "    <device path='%s'/>\n" % escape(dev)
        if self.source_name is not None:
            out += "    <name>%s</name>\n" % escape(self.source_name)
        if self.source_format is not None:
            out += "    <format type='%s'/>\n" % escape(self.source_format)
        out += "  </source>\n"
        if self.target_path is not None:
            out += "  <target>\n    <path>%s</path>\n" % escape(self.target_path)
            if with_perms and self.target_perms.given():
                out += self.target_perms.to_xml("    ")
            out += "  </target>\n"
        return out + "</pool>\n"


# ---------------------------------------------------------------------------
# Reading back pyvirsh's own files without an XML library
# ---------------------------------------------------------------------------

_UUID_CHARS = frozenset("0123456789abcdef-")


def _unescape(value: str) -> str:
    return (value.replace("&lt;", "<").replace("&gt;", ">").replace("&apos;", "'").replace("&quot;", '"')
            .replace("&amp;", "&"))


def _between(line: str, head: str, tail: str) -> str | None:
    """The escaped value of a line of the form head + value + tail, unescaped; else None."""
    if line.startswith(head) and line.endswith(tail) and len(line) >= len(head) + len(tail):
        return _unescape(line[len(head):len(line) - len(tail)])
    return None


def read_own(text: str) -> PoolDef | None:
    """A definition in exactly the form to_xml writes (the pool files pyvirsh keeps), read
    line by line: lxml costs a one-shot `vol-list` or `vol-path` more than all the rest of
    its work. None for any other text, which parse_pool reads then. The result is checked
    by rendering it again: it is used only when that gives back the same bytes, and only
    when it is a definition parse_pool could have returned."""
    lines = text.split("\n")
    if len(lines) < 7 or lines[-1] != "":
        return None
    pool_type = _between(lines[0], "<pool type='", "'>")
    name = _between(lines[1], "  <name>", "</name>")
    uuid = _between(lines[2], "  <uuid>", "</uuid>")
    if pool_type not in POOL_TYPES or name is None or uuid is None or len(uuid) != 36 or \
            not _UUID_CHARS.issuperset(uuid) or "/" in name:
        return None
    pool = PoolDef(pool_type, name, uuid)
    at = 3
    with_sizes = lines[at].startswith("  <capacity unit='bytes'>")
    if with_sizes:
        for tag in ("capacity", "allocation", "available"):
            value = _between(lines[at], "  <%s unit='bytes'>" % tag, "</%s>" % tag)
            if value is None or not value.isdigit():
                return None
            setattr(pool, tag, int(value))
            at += 1
    if lines[at] != "  <source>":
        return None
    at += 1
    for head, tail, field in (("    <host name='", "'/>", "hosts"), ("    <dir path='", "'/>", "source_dir"),
                              ("    <device path='", "'/>", "devices"), ("    <name>", "</name>", "source_name"),
                              ("    <format type='", "'/>", "source_format")):
        while at < len(lines):
            value = _between(lines[at], head, tail)
            if value is None:
                break
            at += 1
            if field in ("hosts", "devices"):
                getattr(pool, field).append(value)
            else:
                setattr(pool, field, value)
                break
    if lines[at] != "  </source>":
        return None
    at += 1
    if lines[at] == "  <target>":
        path = _between(lines[at + 1], "    <path>", "</path>")
        if path is None:
            return None
        pool.target_path = path
        at += 2
        if lines[at] == "    <permissions>":
            at += 1
            for tag in ("mode", "owner", "group"):
                value = _between(lines[at], "      <%s>" % tag, "</%s>" % tag)
                if value is not None:
                    try:
                        setattr(pool.target_perms, tag, int(value, 8 if tag == "mode" else 10))
                    except ValueError:
                        return None
                    at += 1
            if lines[at] != "    </permissions>":
                return None
            at += 1
        if lines[at] != "  </target>":
            return None
        at += 1
    if lines[at:] != ["</pool>", ""] or pool.to_xml(with_sizes) != text or not _could_parse(pool):
        return None
    return pool


def _could_parse(pool: PoolDef) -> bool:
    """Whether parse_pool could have returned this definition (a file edited by hand, in
    pyvirsh's own form, is not trusted further than the XML parser would trust it)."""
    if pool.type == "logical" and (pool.source_name is None or pool.target_path != "/dev/" + pool.source_name):
        return False
    if pool.target_path is None and pool.type in ("dir", "fs", "netfs", "disk"):
        return False
    if pool.target_path is not None and pool.target_path != sanitize_path(pool.target_path.strip()):
        return False
    if pool.type == "fs" and not pool.devices:
        return False
    mode = pool.target_perms.mode
    if mode is not None and not 0 <= mode <= 0o777 or max(pool.target_perms.owner, pool.target_perms.group) \
            > 2**32 - 1:
        return False
    options = POOL_TYPES[pool.type].source
    if options is None:
        return pool.source_format is None
    return pool.source_format in options.formats


def _unsupported(what: str) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED, "pool XML element %s is not supported by pyvirsh" % what)


def _check_children(element, allowed, where: str) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in allowed:
            raise _unsupported("<%s> in <%s>" % (child.tag, where))


def sanitize_path(path: str) -> str:
    """libvirt's virFileSanitizePath: '//' collapsed, a trailing '/' dropped (but '/' stays)."""
    while "//" in path:
        path = path.replace("//", "/")
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


def _perms(element) -> Permissions:
    from ..ids import parse_uint

    perms = Permissions()
    if element is None:
        return perms
    _check_children(element, ("mode", "owner", "group"), "permissions")
    mode = element.findtext("mode")
    if mode is not None:
        try:
            perms.mode = int(mode.strip(), 8)
        except ValueError:
            perms.mode = -1
        if not 0 <= perms.mode <= 0o777:
            raise DriverError(ErrorCode.XML_ERROR, "malformed octal mode")
    for tag in ("owner", "group"):
        text = element.findtext(tag)
        if text is not None:
            value = parse_uint(text.strip(), 2**32 - 1)
            if value is None:
                raise DriverError(ErrorCode.XML_ERROR, "malformed %s element" % tag)
            setattr(perms, tag, value)
    return perms


def parse_pool(xml: str) -> PoolDef:
    """A pool definition from its XML, as libvirt reads it (a new UUID when none is given)."""
    from ..ids import new_uuid, parse_uuid
    from ..xmlutil import parse

    doc = parse(xml, "(storage_pool_definition)", root="pool")
    pool_type = doc.get("type")
    if pool_type is None:
        raise DriverError(ErrorCode.XML_ERROR, "storage pool missing type attribute")
    if pool_type not in POOL_TYPE_FLAGS:
        raise DriverError(ErrorCode.XML_ERROR, "unknown storage pool type %s" % pool_type)
    _check_children(doc, _POOL_CHILDREN, "pool")
    for attr in doc.attrib:
        if attr != "type":
            raise _unsupported("attribute %s of <pool>" % attr)
    name = doc.findtext("name")
    if name is None:
        raise DriverError(ErrorCode.XML_ERROR, "missing pool source name element")
    if "/" in name:
        raise DriverError(ErrorCode.XML_ERROR, "name %s cannot contain '/'" % name)
    uuid_text = doc.findtext("uuid")
    if uuid_text is None:
        uuid = new_uuid()
    else:
        parsed = parse_uuid(uuid_text.strip())
        if parsed is None:
            raise DriverError(ErrorCode.XML_ERROR, "malformed uuid element")
        uuid = parsed
    pool = PoolDef(pool_type, name, uuid)
    source = doc.find("source")
    if source is not None:
        _check_children(source, _SOURCE_CHILDREN, "source")
        pool.hosts = [h.get("name") or "" for h in source.findall("host")]
        dir_el = source.find("dir")
        if dir_el is not None:
            pool.source_dir = dir_el.get("path")
        pool.devices = [d.get("path") or "" for d in source.findall("device")]
        pool.source_name = source.findtext("name")
        fmt = source.find("format")
        if fmt is not None:
            pool.source_format = fmt.get("type")
    target = doc.find("target")
    if target is not None:
        _check_children(target, _TARGET_CHILDREN, "target")
        path = target.findtext("path")
        if path is not None:
            pool.target_path = sanitize_path(path.strip())
        pool.target_perms = _perms(target.find("permissions"))
    if pool_type == "logical":
        # libvirt names a volume group after its pool and keeps it under /dev/VG.
        if pool.source_name is None:
            pool.source_name = name
        pool.target_path = "/dev/%s" % pool.source_name
    if pool.target_path is None and pool_type in ("dir", "fs", "netfs", "disk"):
        raise DriverError(ErrorCode.XML_ERROR, "missing storage pool target path")
    if pool_type == "fs" and not pool.devices:
        raise DriverError(ErrorCode.XML_ERROR, "missing storage pool source device name")
    source_options = POOL_TYPES[pool_type].source
    if source_options is None:
        pool.source_format = None           # libvirt keeps no format for such a pool
    elif pool.source_format is None:
        pool.source_format = source_options.default
    elif pool.source_format not in source_options.formats:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "unknown pool format type %s" % pool.source_format)
    return pool


def require_supported(pool: PoolDef) -> None:
    """Refuse a pool type pyvirsh cannot run, naming it."""
    if pool.type not in SUPPORTED_TYPES:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "storage pool type '%s' is not supported by pyvirsh "
                          "(supported: %s)" % (pool.type, ", ".join(SUPPORTED_TYPES)))


def measured_perms(path: str) -> Permissions:
    st = os.stat(path)
    return Permissions(st.st_mode & 0o777, st.st_uid, st.st_gid)
