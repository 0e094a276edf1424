"""virNetworkUpdate on a definition: one section changed by one command, with libvirt's
matching rules and words (virNetworkDefUpdateSection). The caller decides which
definitions (live, persistent) are changed and what a running network does about it.

Sections pyvirsh applies: ip-dhcp-host, ip-dhcp-range and dns-host; the others are
refused with 'unsupported configuration:' naming them.
"""

from __future__ import annotations

from ..api import NETWORK_SECTIONS, NETWORK_UPDATE_COMMANDS, DriverError, ErrorCode
from .netdef import IpDef, NetworkDef, parse_dhcp_host, parse_dns_host, parse_range, unsupported

MODIFY, DELETE, ADD_LAST, ADD_FIRST = 1, 2, 3, 4


def _invalid(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, message)


def _element(xml: str, tag: str, net_name: str):
    from ..xmlutil import parse

    try:
        element = parse(xml, "network_update_xml")
    except DriverError as err:
        # libvirt names this document without the parentheses its definitions get
        if err.message.startswith("(network_update_xml)"):
            err.message = err.message.replace("(network_update_xml)", "network_update_xml", 1)
            err.args = (err.message,)
        raise
    if element.tag != tag:
        raise DriverError(ErrorCode.XML_ERROR, "unexpected element <%s>, expecting <%s>, while updating "
                          "network '%s'" % (element.tag, tag, net_name))
    return element


def _parent_ip(net: NetworkDef, parent_index: int, what: str) -> IpDef:
    """virNetworkIPDefByIndex: the <ip> at parent_index, or (-1) the first IPv4 one with DHCP,
    else the first IPv4 one."""
    if parent_index >= 0:
        if parent_index >= len(net.ips):
            raise _invalid("couldn't update %s - no <ip> element found at index %d in network '%s'"
                           % (what, parent_index, net.name))
        return net.ips[parent_index]
    ip = net.dhcp_ip() or (net.ips[0] if net.ips else None)
    if ip is None:
        raise _invalid("couldn't update %s - no <ip> element found in network '%s'" % (what, net.name))
    return ip


def _insert(items: list, item, command: int) -> None:
    if command == ADD_FIRST:
        items.insert(0, item)
    else:
        items.append(item)


def _dhcp_host(net: NetworkDef, command: int, parent_index: int, xml: str) -> None:
    ip = _parent_ip(net, parent_index, "dhcp host entry")
    host = parse_dhcp_host(_element(xml, "host", net.name), net.name)
    hosts = ip.hosts
    if command == MODIFY:
        for i, old in enumerate(hosts):
            if (host.mac and old.mac == host.mac) or old.ip == host.ip or \
                    (host.name is not None and old.name == host.name):
                hosts[i] = host
                return
        raise _invalid("couldn't locate an existing dhcp host entry with \"mac='%s'\" \"name='%s'\" "
                       "\"ip='%s'\" in network '%s'" % (host.mac or "(null)", host.name or "(null)", host.ip,
                                                        net.name))
    if command == DELETE:
        for i, old in enumerate(hosts):
            if (not host.mac or not old.mac or old.mac == host.mac) and \
                    (host.name is None or old.name == host.name) and old.ip == host.ip:
                del hosts[i]
                return
        raise _invalid("couldn't locate a matching dhcp host entry in network '%s'" % net.name)
    for old in hosts:
        if (host.mac and old.mac == host.mac) or (host.name is not None and old.name == host.name) or \
                old.ip == host.ip:
            raise _invalid("there is an existing dhcp host entry in network '%s' that matches "
                           "\"<host mac='%s' name='%s' ip='%s'/>\""
                           % (net.name, host.mac or "(null)", host.name or "(null)", host.ip))
    _insert(hosts, host, command)


def _dhcp_range(net: NetworkDef, command: int, parent_index: int, xml: str) -> None:
    ip = _parent_ip(net, parent_index, "dhcp range entry")
    got = parse_range(_element(xml, "range", net.name), ip, net.name)
    if got is None:
        return
    if command == MODIFY:
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "dhcp ranges cannot be modified, only added or deleted")
    if command == DELETE:
        if got not in ip.ranges:
            raise _invalid("couldn't locate a matching dhcp range entry in network '%s'" % net.name)
        ip.ranges.remove(got)
        return
    if got in ip.ranges:
        raise _invalid("there is an existing dhcp range entry in network '%s' that matches "
                       "\"<range start='%s' end='%s'/>\"" % (net.name, got[0], got[1]))
    _insert(ip.ranges, got, command)


def _dns_host(net: NetworkDef, command: int, parent_index: int, xml: str) -> None:
    element = _element(xml, "host", net.name)
    if command == MODIFY:
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "DNS HOST records cannot be modified, "
                          "only added or deleted")
    if command == DELETE and element.find("hostname") is None:
        from .netdef import DnsHost, parse_ipv4     # a deletion may name the address alone
        if parse_ipv4(element.get("ip")) is None:
            parse_dns_host(element, net.name)       # raises libvirt's error
        host = DnsHost(element.get("ip") or "", [])
    else:
        host = parse_dns_host(element, net.name)
    found = [i for i, old in enumerate(net.dns_hosts)
             if old.ip == host.ip or set(old.hostnames) & set(host.hostnames)]
    if command == DELETE:
        if not found:
            raise _invalid("couldn't locate a matching DNS HOST record in network %s" % net.name)
        if len(found) > 1:
            raise _invalid("multiple matching DNS HOST records were found in network %s" % net.name)
        del net.dns_hosts[found[0]]
        return
    if found:
        raise _invalid("there is already at least one DNS HOST record with a matching field in network %s"
                       % net.name)
    _insert(net.dns_hosts, host, command)


_SECTIONS = {"ip-dhcp-host": _dhcp_host, "ip-dhcp-range": _dhcp_range, "dns-host": _dns_host}


def update_definition(net: NetworkDef, command: int, section: int, parent_index: int, xml: str) -> None:
    """Apply one update to net in place; on failure net may be half-changed (callers work on a copy)."""
    if not 0 < command < len(NETWORK_UPDATE_COMMANDS):
        raise DriverError(ErrorCode.INVALID_ARG, "unrecognized network update command code %d" % command)
    if not 0 < section < len(NETWORK_SECTIONS):
        raise DriverError(ErrorCode.INVALID_ARG, "can't update unrecognized section of network")
    apply = _SECTIONS.get(NETWORK_SECTIONS[section])
    if apply is None:
        raise unsupported("update of section '%s'" % NETWORK_SECTIONS[section])
    apply(net, command, parent_index, xml)


def copy_definition(net: NetworkDef) -> NetworkDef:
    """A deep copy, through the XML (the definition's one serialized form)."""
    from .netdef import parse_network
    return parse_network(net.to_xml())
