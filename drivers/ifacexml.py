"""A domain's <interface> elements read and changed the way virsh does it on the client
side, from the domain XML (libvirt has no API for domiflist, domif-getlink or the XML
domif-setlink hands to virDomainUpdateDeviceFlags). Text in, plain values out: the
commands never see an lxml element.
"""

from __future__ import annotations

import re

from lxml import etree

# The document comes from the driver; its whitespace is kept, as virsh prints the node as it is.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
_MAC = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


class Nic:
    """One <interface>: what domiflist shows and domif-getlink matches (None for what is absent
    or empty, as virsh's XPath strings)."""
    __slots__ = ("type", "source", "target", "model", "mac", "link")

    def __init__(self, type, source, target, model, mac, link):
        self.type = type
        self.source = source
        self.target = target
        self.model = model
        self.mac = mac
        self.link = link


def _first_source(iface) -> str | None:
    """string(./source/@bridge|@dev|@network|@name|@path): the first of those attributes in
    document order, i.e. in the order they are written."""
    source = iface.find("source")
    if source is None:
        return None
    for name, value in source.attrib.items():
        if name in ("bridge", "dev", "network", "name", "path"):
            return value or None
    return None


def _attr(iface, path: str, name: str) -> str | None:
    el = iface.find(path)
    return (el.get(name) or None) if el is not None else None


def nics(domain_xml: str) -> list[Nic]:
    root = etree.fromstring(domain_xml.encode("utf-8"), _PARSER)
    return [Nic(iface.get("type") or None, _first_source(iface), _attr(iface, "target", "dev"),
                _attr(iface, "model", "type"), _attr(iface, "mac", "address"), _attr(iface, "link", "state"))
            for iface in root.iterfind("devices/interface")]


def normal_mac(text: str) -> str | None:
    """virMacAddrParse + virMacAddrFormat: the MAC in lower case with two digits a byte, or None."""
    if not _MAC.match(text):
        return None
    return ":".join("%02x" % int(part, 16) for part in text.split(":"))


def with_link_state(domain_xml: str, iface: str, state: str) -> str | None:
    """The first interface whose MAC or target dev is iface (any case), with <link state>
    set (a <link> added last if it has none), serialized as libxml2's xmlNodeDump does it
    (double quotes, the document's own whitespace); None when no interface matches, ""
    when the domain has none."""
    root = etree.fromstring(domain_xml.encode("utf-8"), _PARSER)
    wanted = iface.lower()
    found = root.findall("devices/interface")
    if not found:
        return ""
    for el in found:
        mac, target = _attr(el, "mac", "address"), _attr(el, "target", "dev")
        if (mac is not None and mac.lower() == wanted) or (target is not None and target.lower() == wanted):
            link = el.find("link")
            if link is None:
                link = etree.SubElement(el, "link")
            link.set("state", state)
            return etree.tostring(el, encoding="unicode", with_tail=False)
    return None
