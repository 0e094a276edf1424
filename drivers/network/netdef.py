"""A virtual network's definition: libvirt's network XML read and written back.

What pyvirsh applies is kept and formatted in libvirt's order and layout
(virNetworkDefFormat); any other element or attribute is refused with
'unsupported configuration:' naming it, never dropped. The words of the errors
are libvirt 9.0's, as its network XML parser reports them.
"""

from __future__ import annotations

import ipaddress

from ..api import DriverError, ErrorCode
from ..xmlescape import escape

FORWARD_MODES = ("none", "nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")
# Modes whose bridge libvirt makes itself (and gives STP and a forward delay).
BRIDGE_MAKING_MODES = (None, "nat", "route", "open")
# Modes pyvirsh can run; the others parse but are refused with unsupported configuration.
SUPPORTED_MODES = (None, "nat", "route", "open", "bridge")

_CHILDREN = {
    "network": ("name", "uuid", "forward", "bridge", "mtu", "mac", "domain", "dns", "ip"),
    "forward": ("nat",),
    "nat": ("port",),
    "dns": ("host",),
    "dns-host": ("hostname",),
    "ip": ("dhcp",),
    "dhcp": ("range", "host"),
}
_ATTRS = {
    "network": ("ipv6",),
    "forward": ("mode", "dev"),
    "port": ("start", "end"),
    "bridge": ("name", "stp", "delay"),
    "mtu": ("size",),
    "mac": ("address",),
    "domain": ("name", "localOnly"),
    "dns": ("enable",),
    "dns-host": ("ip",),
    "ip": ("address", "netmask", "prefix", "family"),
    "range": ("start", "end"),
    "host": ("mac", "name", "ip"),
}


class DhcpHost:
    """<host mac name ip/> of an IPv4 <dhcp>."""

    __slots__ = ("mac", "name", "ip")

    def __init__(self, mac: str | None, name: str | None, ip: str):
        self.mac = mac
        self.name = name
        self.ip = ip

    def to_xml(self) -> str:
        out = "<host"
        if self.mac is not None:
            out += " mac='%s'" % self.mac
        if self.name is not None:
            out += " name='%s'" % escape(self.name)
        return out + " ip='%s'/>" % self.ip


class DnsHost:
    """<host ip><hostname>...</hostname></host> of <dns>."""

    __slots__ = ("ip", "hostnames")

    def __init__(self, ip: str, hostnames: list[str]):
        self.ip = ip
        self.hostnames = hostnames

    def to_xml(self, indent: str) -> str:
        out = indent + "<host ip='%s'>\n" % self.ip
        for name in self.hostnames:
            out += indent + "  <hostname>%s</hostname>\n" % escape(name)
        return out + indent + "</host>\n"


class IpDef:
    """One <ip>: the address, its netmask or prefix as written, and its DHCP part."""

    def __init__(self, address: str, netmask: str | None, prefix: int | None):
        self.address = address
        self.netmask = netmask
        self.prefix = prefix
        self.ranges: list[tuple[str, str]] = []
        self.hosts: list[DhcpHost] = []

    @property
    def prefix_length(self) -> int:
        """virNetworkIPDefPrefix: the prefix, else the netmask's bits, else the class's."""
        if self.prefix is not None:
            return self.prefix
        if self.netmask is not None:
            return ipaddress.IPv4Network("0.0.0.0/" + self.netmask).prefixlen
        first = int(self.address.split(".")[0])
        return 8 if first < 128 else 16 if first < 192 else 24

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface("%s/%d" % (self.address, self.prefix_length))

    def to_xml(self) -> str:
        out = "  <ip address='%s'" % self.address
        if self.netmask is not None:
            out += " netmask='%s'" % self.netmask
        if self.prefix is not None:
            out += " prefix='%d'" % self.prefix
        out += ">\n"
        if self.ranges or self.hosts:        # an empty <dhcp> is dropped, as libvirt does
            out += "    <dhcp>\n"
            for start, end in self.ranges:
                out += "      <range start='%s' end='%s'/>\n" % (start, end)
            for host in self.hosts:
                out += "      " + host.to_xml() + "\n"
            out += "    </dhcp>\n"
        return out + "  </ip>\n"


class NetworkDef:
    """One network's definition (libvirt's virNetworkDef, the parts pyvirsh applies)."""

    def __init__(self, name: str, uuid: str):
        self.name = name
        self.uuid = uuid
        self.ipv6: str | None = None
        self.forward_mode: str | None = None        # None: isolated (no <forward>)
        self.forward_dev: str | None = None
        self.nat_ports: tuple[int, int] | None = None
        self.bridge: str | None = None
        self.stp = True
        self.delay = 0
        self.mtu: int | None = None
        self.mac: str | None = None
        self.domain: str | None = None
        self.domain_local_only: str | None = None
        self.dns_enable: str | None = None
        self.dns_hosts: list[DnsHost] = []
        self.ips: list[IpDef] = []

    def dhcp_ip(self) -> IpDef | None:
        """The <ip> that serves DHCP (pyvirsh runs at most one, as libvirt for IPv4)."""
        return next((ip for ip in self.ips if ip.ranges or ip.hosts), None)

    def to_xml(self) -> str:
        out = "<network"
        if self.ipv6 is not None:
            out += " ipv6='%s'" % self.ipv6
        out += ">\n  <name>%s</name>\n  <uuid>%s</uuid>\n" % (escape(self.name), self.uuid)
        if self.forward_mode is not None:
            out += "  <forward"
            if self.forward_dev is not None:
                out += " dev='%s'" % escape(self.forward_dev)
            out += " mode='%s'" % self.forward_mode
            if self.nat_ports is not None:
                out += ">\n    <nat>\n      <port start='%d' end='%d'/>\n    </nat>\n  </forward>\n" \
                    % self.nat_ports
            else:
                out += "/>\n"
        if self.forward_mode in BRIDGE_MAKING_MODES:
            out += "  <bridge"
            if self.bridge is not None:
                out += " name='%s'" % escape(self.bridge)
            out += " stp='%s' delay='%d'/>\n" % ("on" if self.stp else "off", self.delay)
        elif self.bridge is not None:
            out += "  <bridge name='%s'/>\n" % escape(self.bridge)
        if self.mtu is not None:
            out += "  <mtu size='%d'/>\n" % self.mtu
        if self.mac is not None:
            out += "  <mac address='%s'/>\n" % self.mac
        if self.domain is not None:
            out += "  <domain name='%s'" % escape(self.domain)
            if self.domain_local_only is not None:
                out += " localOnly='%s'" % self.domain_local_only
            out += "/>\n"
        if self.dns_enable is not None or self.dns_hosts:
            out += "  <dns"
            if self.dns_enable is not None:
                out += " enable='%s'" % self.dns_enable
            if self.dns_hosts:
                out += ">\n" + "".join(h.to_xml("    ") for h in self.dns_hosts) + "  </dns>\n"
            else:
                out += "/>\n"
        for ip in self.ips:
            out += ip.to_xml()
        return out + "</network>\n"


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

def unsupported(what: str) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED, "network XML %s is not supported by pyvirsh" % what)


def _check(element, kind: str, where: str) -> None:
    """Refuse the children and attributes pyvirsh would otherwise drop."""
    allowed = _CHILDREN.get(kind, ())
    for child in element:
        if isinstance(child.tag, str) and child.tag not in allowed:
            raise unsupported("element <%s> in <%s>" % (child.tag, where))
    known = _ATTRS.get(kind, ())
    for attr in element.attrib:
        if attr not in known:
            raise unsupported("attribute '%s' of <%s>" % (attr, where))


def parse_ipv4(text: str | None) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text or "")
    except ValueError:
        return None


def parse_mac(text: str) -> str | None:
    """virMacAddrParse: six hex octets split by ':', in lower case; None when malformed."""
    parts = text.split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        return None
    try:
        return ":".join("%02x" % int(p, 16) for p in parts)
    except ValueError:
        return None


def _xml_error(message: str) -> DriverError:
    return DriverError(ErrorCode.XML_ERROR, message)


def parse_dhcp_host(element, net_name: str) -> DhcpHost:
    _check(element, "host", "host")
    mac = element.get("mac")
    if mac is not None:
        parsed = parse_mac(mac)
        if parsed is None:
            raise _xml_error("Cannot parse MAC address '%s' in network '%s'" % (mac, net_name))
        if int(parsed[:2], 16) & 1:
            raise _xml_error("expected unicast mac address, found multicast '%s' in network '%s'"
                             % (mac, net_name))
        mac = parsed
    name = element.get("name")
    if name is not None and not name[:1].isalpha():
        raise _xml_error("Cannot use host name '%s' in network '%s'" % (name, net_name))
    if mac is None and name is None:
        raise _xml_error("Static host definition in IPv4 network '%s' must have mac or name attribute"
                         % net_name)
    ip = element.get("ip")
    if ip is None or parse_ipv4(ip) is None:
        raise _xml_error("Missing IP address in static host definition for network '%s'" % net_name)
    return DhcpHost(mac, name, ip)


def parse_dns_host(element, net_name: str) -> DnsHost:
    _check(element, "dns-host", "host")
    ip = element.get("ip")
    if ip is None or parse_ipv4(ip) is None:
        raise DriverError(ErrorCode.XML_DETAIL, "Missing IP address in network '%s' DNS HOST record" % net_name)
    names = [(h.text or "").strip() for h in element.findall("hostname")]
    names = [n for n in names if n]
    if not names:
        raise DriverError(ErrorCode.XML_DETAIL, "Missing hostname in network '%s' DNS HOST record" % net_name)
    return DnsHost(ip, names)


def parse_range(element, ip: IpDef, net_name: str) -> tuple[str, str] | None:
    _check(element, "range", "range")
    start, end = element.get("start"), element.get("end")
    if start is None or end is None:
        raise _xml_error("Missing 'start' or 'end' attribute in dhcp range for network '%s'" % net_name)
    first, last = parse_ipv4(start), parse_ipv4(end)
    for text, addr in ((start, first), (end, last)):
        if addr is None:
            raise _xml_error("Invalid address '%s' in network '%s'" % (text, net_name))
    assert first is not None and last is not None
    subnet = ip.interface.network
    if first not in subnet or last not in subnet:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "range %s - %s is not entirely within network %s/%d"
                          % (start, end, ip.address, ip.prefix_length))
    if int(last) < int(first):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "range %s - %s is reversed " % (start, end))
    return (start, end)


def _parse_ip(element, net_name: str) -> IpDef:
    _check(element, "ip", "ip")
    family = element.get("family")
    if family is not None and family != "ipv4":
        raise unsupported("<ip family='%s'>" % family)
    address = element.get("address")
    if address is None:
        raise _xml_error("Missing required address attribute in network '%s'" % net_name)
    if parse_ipv4(address) is None:
        raise _xml_error("Invalid address '%s' in network '%s'" % (address, net_name))
    netmask = element.get("netmask")
    prefix_text = element.get("prefix")
    if netmask is not None and prefix_text is not None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                          "Network '%s' IP address cannot have both a prefix and a netmask" % net_name)
    prefix = None
    if prefix_text is not None:
        if not prefix_text.isdigit() or int(prefix_text) > 32:
            raise _xml_error("Invalid ipv4 prefix '%s' in network '%s'" % (prefix_text, net_name))
        prefix = int(prefix_text)
    if netmask is not None:
        try:
            ipaddress.IPv4Network("0.0.0.0/" + netmask)
        except ValueError:
            raise _xml_error("Invalid netmask '%s' in network '%s'" % (netmask, net_name)) from None
    ip = IpDef(address, netmask, prefix)
    dhcp = element.find("dhcp")
    if dhcp is not None:
        _check(dhcp, "dhcp", "dhcp")
        for child in dhcp:
            if child.tag == "range":
                got = parse_range(child, ip, net_name)
                if got is not None:
                    ip.ranges.append(got)
            elif child.tag == "host":
                ip.hosts.append(parse_dhcp_host(child, net_name))
    return ip


def _bool_word(element, attr: str, where: str, net_name: str) -> str | None:
    value = element.get(attr)
    if value is not None and value not in ("yes", "no"):
        raise _xml_error("Invalid %s setting '%s' in network '%s'" % (where, value, net_name))
    return value


def parse_network(xml: str) -> NetworkDef:
    """A network definition from its XML, as libvirt reads it (a new UUID when none is given)."""
    from ..ids import new_uuid, parse_uuid
    from ..xmlutil import parse

    doc = parse(xml, "network_definition", root="network")
    _check(doc, "network", "network")
    name = doc.findtext("name")
    if name is None:
        raise DriverError(ErrorCode.RAW, "missing name information")
    if "/" in name:
        raise DriverError(ErrorCode.RAW, "invalid char in name: /")
    uuid_text = doc.findtext("uuid")
    if uuid_text is None:
        uuid = new_uuid()
    else:
        parsed = parse_uuid(uuid_text)
        if parsed is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "malformed uuid element")
        uuid = parsed
    net = NetworkDef(name, uuid)
    net.ipv6 = _bool_word(doc, "ipv6", "ipv6", name)
    forward = doc.find("forward")
    if forward is not None:
        _check(forward, "forward", "forward")
        mode = forward.get("mode", "nat")
        if mode not in FORWARD_MODES:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "unknown forwarding type '%s'" % mode)
        if mode not in SUPPORTED_MODES:
            raise unsupported("<forward mode='%s'>" % mode)
        net.forward_mode = mode
        net.forward_dev = forward.get("dev")
        nat = forward.find("nat")
        if nat is not None:
            _check(nat, "nat", "nat")
            port = nat.find("port")
            if port is not None:
                _check(port, "port", "port")
                net.nat_ports = _port_range(port, name)
    bridge = doc.find("bridge")
    if bridge is not None:
        _check(bridge, "bridge", "bridge")
        net.bridge = bridge.get("name")
        net.stp = bridge.get("stp") != "off"
        delay = bridge.get("delay")
        if delay is not None:
            if not delay.isdigit():
                raise _xml_error("Invalid delay value in network '%s'" % name)
            net.delay = int(delay)
    mtu = doc.find("mtu")
    if mtu is not None:
        _check(mtu, "mtu", "mtu")
        size = mtu.get("size", "")
        if not size.isdigit() or int(size) > 2**32 - 1:
            raise _xml_error("Invalid mtu size '%s' in network '%s'" % (size, name))
        net.mtu = int(size)
    mac = doc.find("mac")
    if mac is not None:
        _check(mac, "mac", "mac")
        text = mac.get("address", "")
        parsed_mac = parse_mac(text)
        if parsed_mac is None:
            raise _xml_error("Invalid bridge mac address '%s' in network '%s'" % (text, name))
        if int(parsed_mac[:2], 16) & 1:
            raise _xml_error("Invalid multicast bridge mac address '%s' in network '%s'" % (text, name))
        net.mac = parsed_mac
    domain = doc.find("domain")
    if domain is not None:
        _check(domain, "domain", "domain")
        net.domain = domain.get("name")
        net.domain_local_only = _bool_word(domain, "localOnly", "domain localOnly", name)
    dns = doc.find("dns")
    if dns is not None:
        _check(dns, "dns", "dns")
        net.dns_enable = _bool_word(dns, "enable", "dns enable", name)
        net.dns_hosts = [parse_dns_host(h, name) for h in dns.findall("host")]
    net.ips = [_parse_ip(ip, name) for ip in doc.findall("ip")]
    if net.forward_mode == "open" and not net.ips:
        raise _xml_error("open forwarding requested, but no IP address provided for network '%s'" % name)
    if net.forward_mode == "bridge" and net.ips:
        raise _xml_error("Unsupported <ip> element in network %s with forward mode='bridge'" % name)
    return net


def _port_range(port, name: str) -> tuple[int, int]:
    start, end = port.get("start", ""), port.get("end", "")
    if not start.isdigit() or not end.isdigit() or int(start) > 65535 or int(end) > 65535:
        raise _xml_error("Invalid port range in network '%s'" % name)
    return int(start), int(end)
