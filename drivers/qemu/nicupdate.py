"""virDomainUpdateDeviceFlags for an <interface> (what domif-setlink sends): the interface
is found by its MAC, as libvirt's virDomainNetFindIdx; the persistent definition takes the
new element whole; a running domain changes only its link state (QMP set_link, then the
live XML), and any other difference is refused naming it, never dropped.
"""

from __future__ import annotations

import copy

from ..api import DriverError, ErrorCode

# What a live update may leave out or differ in without meaning a change: what the running
# domain filled in itself.
_FILLED_IN = ("alias", "address", "target", "link")


def _mac(element) -> str | None:
    mac = element.find("mac")
    return mac.get("address").lower() if mac is not None and mac.get("address") else None


def find_by_mac(devices, element):
    mac = _mac(element)
    if mac is None:
        raise DriverError(ErrorCode.OPERATION_FAILED, "matching network device not found")
    for iface in devices.iterfind("interface"):
        if _mac(iface) == mac:
            return iface
    alias = element.find("alias")
    raise DriverError(ErrorCode.DEVICE_MISSING, "no device found at address '(<null>)' matching MAC address '%s' "
                      "and alias '%s'" % (mac, alias.get("name") if alias is not None else "(<null>)"))


def config_replaced(root, element):
    """A copy of the persistent definition's root with the matching interface replaced."""
    root = copy.deepcopy(root)
    old = find_by_mac(root.find("devices"), element)
    new = copy.deepcopy(element)
    new.tail = old.tail
    for tag in ("alias",):
        for el in new.findall(tag):
            new.remove(el)
    old.addprevious(new)
    old.getparent().remove(old)
    return root


def link_state(element) -> str:
    link = element.find("link")
    return link.get("state", "up") if link is not None else "up"


def _shape(element) -> dict:
    """The interface minus what the running domain fills in, to compare two versions of it:
    its attributes and each other child whole (<bandwidth> with its rates, say)."""
    from lxml import etree
    out: dict = {"@" + k: v for k, v in element.attrib.items()}
    for child in element:
        if isinstance(child.tag, str) and child.tag not in _FILLED_IN:
            child = copy.deepcopy(child)
            for el in child.iter():         # indentation is no difference
                if el.text is not None and not el.text.strip():
                    el.text = None
                if el.tail is not None and not el.tail.strip():
                    el.tail = None
            child.tail = None
            if child.tag == "source" and element.get("type") == "network":
                child.attrib.pop("bridge", None)        # the network's bridge and port, filled in at start
                child.attrib.pop("portid", None)
            out[child.tag] = (dict(child.attrib), etree.tostring(child, encoding="unicode"))
    return out


def live_change(live_iface, element) -> bool | None:
    """The link state a live update asks for (True up, False down), or None if it keeps the
    current one; anything else it changes is refused."""
    old, new = _shape(live_iface), _shape(element)
    if old.get("model") != new.get("model"):
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "cannot modify network device model from %s to %s"
                          % (old.get("model", ({}, ""))[0].get("type"), new.get("model", ({}, ""))[0].get("type")))
    if old != new:
        what = min(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "live update of interface %s is not supported by pyvirsh "
                          "(only its <link state> changes on a running domain)" % what.lstrip("@"))
    target = element.find("target")
    live_target = live_iface.find("target")
    if target is not None and target.get("dev") and live_target is not None and \
            target.get("dev") != live_target.get("dev"):
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "cannot modify network device tap name")
    if link_state(element) == link_state(live_iface):
        return None
    return link_state(element) == "up"


def set_live_link(live_iface, up: bool) -> None:
    """The live XML after a set_link: libvirt shows the state it set, up or down."""
    from lxml import etree
    link = live_iface.find("link")
    if link is None:
        link = etree.SubElement(live_iface, "link")
    link.set("state", "up" if up else "down")
