"""A network's ports (virNetworkPort): one per interface of a running domain plugged into the
network, named by the portid its <source> is given at start (netifaces), as libvirt's live XML
shows it. Nothing is stored apart: the running domains' live definitions are the ports.
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode, NetworkPort, check_flags
from ..xmlescape import escape


def plugged(net) -> list[tuple[str, str, str, object]]:
    """(port uuid, domain name, domain uuid, <interface>) of every port of the network."""
    out = []
    for dom in net.conn.list_all_domains():
        if not dom.is_active():
            continue
        root = dom.get_definition().root
        for iface in root.iterfind("devices/interface"):
            source = iface.find("source")
            if iface.get("type") == "network" and source is not None and source.get("network") == net.name \
                    and source.get("portid"):
                out.append((source.get("portid"), dom.name, root.findtext("uuid"), iface))
    return out


def port_xml(net_mode: str | None, port: tuple) -> str:
    """virNetworkPortDefFormat: owner, MAC, bandwidth, and the plug (the bridge it is on)."""
    from lxml import etree

    uuid, dom_name, dom_uuid, iface = port
    mac = iface.find("mac")
    lines = ["<networkport>", "  <uuid>%s</uuid>" % uuid, "  <owner>", "    <name>%s</name>" % escape(dom_name),
             "    <uuid>%s</uuid>" % dom_uuid, "  </owner>"]
    if mac is not None:
        lines.append("  <mac address='%s'/>" % mac.get("address"))
    bandwidth = iface.find("bandwidth")
    if bandwidth is not None:
        lines.append("  <bandwidth>")
        for rate in bandwidth:
            if isinstance(rate.tag, str):
                attrs = "".join(" %s='%s'" % (k, escape(v)) for k, v in rate.attrib.items())
                lines.append("    <%s%s/>" % (etree.QName(rate).localname, attrs))
        lines.append("  </bandwidth>")
    bridge = iface.find("source").get("bridge")
    lines.append("  <plug type='%s' bridge='%s'/>" % ("bridge" if net_mode == "bridge" else "network",
                                                      escape(bridge or "")))
    lines.append("</networkport>")
    return "\n".join(lines) + "\n"


class QemuNetworkPort(NetworkPort):
    def __init__(self, net, uuid: str):
        self.net = net
        self.uuid = uuid

    def connection(self):
        return self.net.conn

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, 0, "networkPortGetXMLDesc")
        rec = self.net.record()
        for port in plugged(self.net):
            if port[0] == self.uuid:
                return port_xml(rec.live.forward_mode if rec.live is not None else None, port)
        raise no_port(self.uuid)


def no_port(uuid: str) -> DriverError:
    return DriverError(ErrorCode.NO_NETWORK_PORT, "Network port with UUID %s does not exist" % uuid)


def list_ports(net) -> list[QemuNetworkPort]:
    if net.record().live is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, "network '%s' is not active" % net.name)
    return [QemuNetworkPort(net, port[0]) for port in plugged(net)]


def lookup(net, uuid: str) -> QemuNetworkPort:
    wanted = uuid.lower()
    for port in plugged(net):
        if port[0] == wanted:
            return QemuNetworkPort(net, port[0])
    raise no_port(uuid)
