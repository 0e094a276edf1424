"""virsh's own device XML work, done client-side before any driver call: the <disk> of
attach-disk and the <interface> of attach-interface built from options, the disk that
detach-disk and change-media pick out of dumpxml (virshFindDisk) and the media change
made to it (virshUpdateDiskXML), and the interface detach-interface picks.

Errors are virsh's own lines (CommandError); nodes taken from a document are written
the way libxml2 dumps a node (double quotes, the document's own indentation)."""

from __future__ import annotations

from .drivers.xmlescape import escape
from .errors import CommandError

# --------------------------------------------------------------------------
# attach-disk
# --------------------------------------------------------------------------




def _uint(text: str, base: int, limit: int = 0xFFFFFFFF) -> tuple[int, str] | None:
    """virStrToLong_uip/_ullp with an end pointer: leading blanks, an unsigned number in
    the base (0x allowed in 16), the rest returned; None if no digits or out of range."""
    s = text.lstrip(" \t\n\v\f\r")
    s = s.removeprefix("+")
    if base == 16 and s[:2].lower() == "0x" and len(s) > 2 and s[2] in "0123456789abcdefABCDEF":
        s = s[2:]
    digits = "0123456789abcdef"[:base]
    n = 0
    while n < len(s) and s[n].lower() in digits:
        n += 1
    if n == 0:
        return None
    value = int(s[:n], base)
    if value > limit:
        return None
    return value, s[n:]


def _fields(text: str, bases: list[tuple[int, int]]) -> list[int] | None:
    """Numbers separated by one character each (virsh skips whatever it is)."""
    values = []
    rest = text
    for i, (base, limit) in enumerate(bases):
        if i > 0:
            if not rest:
                return None             # virsh would read past the string's end
            rest = rest[1:]
        parsed = _uint(rest, base, limit)
        if parsed is None:
            return None
        value, rest = parsed
        values.append(value)
    return values


_U32, _U64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
_ADDRESS_FIELDS = {"pci": [(16, _U32)] * 4, "sata": [(10, _U32), (10, _U32), (10, _U64)],
                   "ide": [(10, _U32), (10, _U32), (10, _U64)], "scsi": [(10, _U32), (10, _U32), (10, _U64)],
                   "ccw": [(16, _U32)] * 3, "usb": [(10, _U32)] * 2}


def _address(text: str, target: str, multifunction: bool) -> str:
    kind, colon, rest = text.partition(":")
    values = _fields(rest, _ADDRESS_FIELDS[kind]) if colon and kind in _ADDRESS_FIELDS else None
    if values is None:
        raise CommandError("Invalid address.")
    if target.startswith("vd") and kind not in ("pci", "ccw"):
        raise CommandError("expecting a pci:0000.00.00.00 or ccw:00.0.0000 address.")
    if target.startswith("sd") and kind not in ("scsi", "usb", "sata"):
        raise CommandError("expecting a scsi:00.00.00 or usb:00.00 or sata:00.00.00 address.")
    if target.startswith("hd") and kind != "ide":
        raise CommandError("expecting an ide:00.00.00 address.")
    if kind == "pci":
        return "<address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'%s/>\n" % (
            *values, " multifunction='on'" if multifunction else "")
    if kind == "ccw":
        return "<address type='ccw' cssid='0x%02x' ssid='0x%01x' devno='0x%04x'/>\n" % tuple(values)
    if kind == "usb":
        return "<address type='usb' bus='%u' port='%u'/>\n" % tuple(values)
    return "<address type='drive' controller='%u' bus='%u' unit='%u'/>\n" % tuple(values)


def _element(name: str, attrs: str, children: str, indent: str) -> str:
    """virXMLFormatElement: nothing if empty, self-closing without children."""
    if not attrs and not children:
        return ""
    if not children:
        return "%s<%s%s/>\n" % (indent, name, attrs)
    return "%s<%s%s>\n%s%s</%s>\n" % (indent, name, attrs, children, indent, name)


def _attr(name: str, value) -> str:
    return " %s='%s'" % (name, escape(value)) if value is not None else ""


def valid_wwn(wwn: str) -> bool:
    """virValidateWWN: 16 hex digits, after an optional 0x."""
    digits = wwn[2:] if wwn[:2].lower() == "0x" else wwn
    return len(digits) == 16 and all(c in "0123456789abcdefABCDEF" for c in digits)


def disk_xml(source, target, *, targetbus=None, driver=None, subdriver=None, iothread=None, cache=None,
             io=None, device=None, mode=None, sourcetype=None, serial=None, wwn=None, alias=None, rawio=False,
             address=None, multifunction=False, protocol=None, host_name=None, host_transport=None,
             host_socket=None) -> str:
    """attach-disk's <disk>, checked in virsh's order."""
    import os
    import stat
    if sourcetype is not None and sourcetype not in ("", "file", "block", "network"):
        raise CommandError("Unknown source type: '%s'" % sourcetype)
    kind = sourcetype or ""
    if not kind:
        if protocol:
            kind = "network"
        else:
            kind = "file"
            if driver not in ("file", "tap") and source:
                try:
                    if stat.S_ISBLK(os.stat(source).st_mode):
                        kind = "block"
                except (OSError, ValueError):
                    pass
    if (kind == "network") != bool(protocol):
        raise CommandError("--source-protocol option requires --sourcetype network")
    if mode is not None and mode not in ("readonly", "shareable"):
        raise CommandError("No support for %s in command 'attach-disk'" % mode)
    if wwn is not None and not valid_wwn(wwn):
        raise CommandError("internal error: Malformed wwn: %s" % wwn)
    disk_attrs = " type='%s'" % kind + _attr("device", device) + (" rawio='yes'" if rawio else "")
    children = _element("driver", _attr("name", driver) + _attr("type", subdriver) + _attr("iothread", iothread)
                        + _attr("cache", cache) + _attr("io", io), "", "  ")
    host = ""
    if kind == "file":
        source_attrs = _attr("file", source)
    elif kind == "block":
        source_attrs = _attr("dev", source)
    else:
        source_attrs = _attr("protocol", protocol) + _attr("name", source)
        host_attrs = _attr("transport", host_transport) + _attr("socket", host_socket)
        if host_name:
            name, sep, port = host_name.partition(":")
            host_attrs += _attr("name", name) + (_attr("port", port) if sep else "")
        host = _element("host", host_attrs, "", "    ")
    children += _element("source", source_attrs, host, "  ")
    children += "  <target dev='%s'%s/>\n" % (target, " bus='%s'" % targetbus if targetbus else "")
    if mode:
        children += "  <%s/>\n" % mode
    if serial:
        children += "  <serial>%s</serial>\n" % serial
    if alias:
        children += "  <alias name='%s'/>\n" % alias
    if wwn:
        children += "  <wwn>%s</wwn>\n" % wwn
    if address:
        children += "  " + _address(address, target, multifunction)
    return _element("disk", disk_attrs, children, "")


# --------------------------------------------------------------------------
# attach-interface
# --------------------------------------------------------------------------

# virDomainNetType's names: what virsh knows as an interface type at all
NET_TYPES = ("user", "ethernet", "vhostuser", "server", "client", "mcast", "network", "bridge", "internal",
             "direct", "hostdev", "udp", "vdpa", "null", "vds")


def _rate(text: str) -> list[int]:
    """'average,peak,burst,floor', fields optional but for their commas."""
    fields = text.split(",")
    if len(fields) > 4:
        raise CommandError("Rate string '%s' has too many fields" % text)
    values = []
    for name, field in zip(("average", "peak", "burst", "floor"), fields, strict=False):
        if field == "":
            values.append(0)
            continue
        parsed = _uint(field, 10, _U64)
        if parsed is None or parsed[1] != "":
            raise CommandError("field '%s' is malformed" % name)
        values.append(parsed[0])
    return values + [0] * (4 - len(values))


def interface_xml(kind, source, *, target=None, mac=None, script=None, model=None, alias=None, inbound=None,
                  outbound=None, managed=False, source_mode=None) -> str:
    if kind not in NET_TYPES:
        raise CommandError("No support for %s in command 'attach-interface'" % kind)
    if source_mode is not None and source_mode not in ("server", "client"):
        raise CommandError("Invalid source mode: %s" % source_mode)
    rate_in = rate_out = None
    if inbound is not None:
        rate_in = _rate(inbound)
        if not rate_in[0] and not rate_in[3]:
            raise CommandError("either inbound average or floor is mandatory")
    if outbound is not None:
        rate_out = _rate(outbound)
        if not rate_out[0]:
            raise CommandError("outbound average is mandatory")
        if rate_out[3]:
            raise CommandError("outbound floor is unsupported yet")
    out = "<interface type='%s'%s>\n" % (kind, " managed='yes'" if managed else "")
    if kind in ("network", "bridge"):
        out += "  <source %s='%s'/>\n" % (kind, source)
    elif kind == "direct":
        out += "  <source dev='%s'/>\n" % source
    elif kind == "hostdev":
        values = _fields(source, _ADDRESS_FIELDS["pci"])
        if values is None:
            raise CommandError("cannot parse pci address '%s' for network interface" % source)
        out += "  <source>\n    <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' " \
               "function='0x%x'/>\n  </source>\n" % tuple(values)
    elif kind == "vhostuser":
        if source_mode is None:
            raise CommandError("source-mode is mandatory")
        out += "  <source type='unix' path='%s' mode='%s'/>\n" % (source, source_mode)
    else:
        raise CommandError("No support for %s in command 'attach-interface'" % kind)
    for tag, attr, value in (("target", "dev", target), ("mac", "address", mac), ("script", "path", script),
                             ("model", "type", model), ("alias", "name", alias)):
        if value is not None:
            out += "  <%s %s='%s'/>\n" % (tag, attr, value)
    if inbound is not None or outbound is not None:
        out += "  <bandwidth>\n"
        if rate_in and (rate_in[0] or rate_in[3]):
            out += "    <inbound" + "".join(" %s='%d'" % (n, v) for n, v in
                                           zip(("average", "peak", "burst", "floor"), rate_in, strict=True) if v)
            out += "/>\n"
        if rate_out and rate_out[0]:
            out += "    <outbound" + "".join(" %s='%d'" % (n, v) for n, v in
                                            zip(("average", "peak", "burst"), rate_out, strict=False) if v)
            out += "/>\n"
        out += "  </bandwidth>\n"
    return out + "</interface>\n"


# --------------------------------------------------------------------------
# picking devices out of a domain's XML
# --------------------------------------------------------------------------

def _document(text: str, failure: str):
    """The domain XML a driver returned, whitespace kept (virsh dumps nodes out of it)."""
    from lxml import etree
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        raise CommandError(failure) from None


def _dump(element) -> str:
    """The node as libxml2's xmlNodeDump writes it (virXMLNodeToString)."""
    from lxml import etree
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _unlink(element) -> None:
    """xmlUnlinkNode: the element goes, the whitespace after it stays."""
    parent = element.getparent()
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def find_disk(document: str, path: str, changeable: bool):
    """virshFindDisk: the <disk> whose target or source is path (cdrom/floppy only if
    changeable), as a detached element without its backing chain."""
    import copy
    root = _document(document, "Failed to get disk information")
    disks = root.findall("devices/disk")
    if not disks:
        raise CommandError("Failed to get disk information")
    for disk in disks:
        device = disk.get("device")
        if changeable and device is not None and device not in ("cdrom", "floppy"):
            continue
        source = disk.find("source")
        names = [source.get(a) for a in ("file", "dev", "dir", "name")] if source is not None else []
        target = disk.find("target")
        names.append(target.get("dev") if target is not None else None)
        if path in names:
            found = copy.deepcopy(disk)
            found.tail = None
            backing = found.find("backingStore")
            if backing is not None:
                _unlink(backing)
            return found
    raise CommandError("No disk found whose source path or target is %s" % path)


def disk_to_string(disk) -> str:
    return _dump(disk)


def update_disk(disk, new_source, block: bool, target: str, action: str) -> str:
    """virshUpdateDiskXML: the disk with its media ejected, inserted or changed."""
    from lxml import etree
    device = disk.get("device")
    if device not in ("cdrom", "floppy"):
        raise CommandError("The disk device '%s' is not removable" % target)
    source = disk.find("source")
    if action == "eject":
        if source is None:
            raise CommandError("The disk device '%s' doesn't have media" % target)
        block = False
        new_source = None
    elif new_source is None:
        raise CommandError("New disk media source was not specified")
    startup_policy = None
    if source is not None:
        path = next((source.get(a) for a in ("file", "dev", "dir", "pool", "name") if source.get(a) is not None),
                    None)
        if path is not None and action == "insert":
            raise CommandError("The disk device '%s' already has media" % target)
        startup_policy = source.get("startupPolicy")
        _unlink(source)
    disk.set("type", "block" if block else "file")
    if new_source is not None:
        source = etree.SubElement(disk, "source")
        source.set("dev" if block else "file", new_source)
        if startup_policy:
            source.set("startupPolicy", startup_policy)
    return _dump(disk)


def find_interface(document: str, kind: str, mac: str | None) -> str:
    """virshDomainDetachInterface's pick: the one interface of that type, or the one with that MAC."""
    root = _document(document, "Failed to get interface information")
    nodes = [el for el in root.findall("devices/interface") if el.get("type") == kind]
    if not nodes:
        raise CommandError("No interface found whose type is %s" % kind)
    match = None
    if mac is not None:
        for node in nodes:
            mac_el = node.find("mac")
            address = mac_el.get("address") if mac_el is not None else None
            if address is not None and _same_mac(address, mac):
                if match is not None:
                    raise CommandError("Domain has multiple interfaces matching MAC address %s. You must use "
                                       "detach-device and specify the device pci address to remove it." % mac)
                match = node
    else:
        if len(nodes) > 1:
            raise CommandError("Domain has %d interfaces. Please specify which one to detach using --mac"
                               % len(nodes))
        match = nodes[0]
    if match is None:
        raise CommandError("No interface with MAC address %s was found" % mac)
    return _dump(match)


def _same_mac(a: str, b: str) -> bool:
    """virMacAddrCompare: byte by byte, each byte a hex number (so '0a' equals 'a')."""
    def parts(text):
        try:
            values = [int(p, 16) for p in text.split(":")]
        except ValueError:
            return None
        return values if len(values) == 6 else None
    pa, pb = parts(a), parts(b)
    return pa is not None and pa == pb
