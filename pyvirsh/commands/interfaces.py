"""A domain's network interfaces: domiflist, domif-getlink and domif-setlink.

virsh does these on the client side, from the domain XML (virsh-domain-monitor.c and
virsh-domain.c): domif-setlink sends the interface with its <link state> changed to
virDomainUpdateDeviceFlags, so each driver's update call decides what it can do.
"""

from __future__ import annotations

from ..declare import alias, command, data, flag
from ..errors import CommandError
from ..output import format_table
from .common import domain_option, lookup_domain, reporting


def _domain_xml(dom, inactive: bool) -> str:
    from ..drivers.api import XMLFlags
    return dom.get_xml_desc(XMLFlags.INACTIVE if inactive else 0)


@command("domiflist", "Get the summary of virtual interfaces for a domain.")
@domain_option()
@flag("inactive", "get inactive rather than running configuration")
def domiflist(ctl, domain, inactive):
    from ..drivers.ifacexml import nics

    dom = lookup_domain(ctl, domain)
    rows = [[nic.target or "-", nic.type or "", nic.source or "-", nic.model or "-", nic.mac or "-"]
            for nic in nics(_domain_xml(dom, inactive))]
    ctl.print(format_table(["Interface", "Type", "Source", "Model", "MAC"], rows, ctl.quiet))
    return True


@command("domif-getlink", "Get link state of a domain's virtual interface.")
@domain_option()
@data("interface", "interface device (MAC Address)")
@flag("config", "Get persistent interface state")
def domif_getlink(ctl, domain, interface, config):
    from ..drivers.ifacexml import nics, normal_mac

    dom = lookup_domain(ctl, domain)
    mac = normal_mac(interface)
    found = [nic for nic in nics(_domain_xml(dom, config))
             if nic.mac == (mac or "") or nic.target == interface]
    if len(found) != 1:
        raise CommandError("Interface (mac: %s) not found." % mac if mac else
                           "Interface (dev: %s) not found." % interface)
    ctl.print("%s %s" % (interface, found[0].link or "up"))
    return True


@command("domif-setlink", "Set link state of a domain's virtual interface. This command wraps usage of "
         "update-device command.")
@domain_option()
@data("interface", "interface device (MAC Address)")
@data("state", "new state of the device")
@alias("persistent", "config")
@flag("config", "affect next boot")
@flag("print-xml", "print XML document rather than set the interface link state")
def domif_setlink(ctl, domain, interface, state, config, print_xml):
    from ..drivers.api import DeviceModifyFlags as F
    from ..drivers.ifacexml import with_link_state

    dom = lookup_domain(ctl, domain)
    if state not in ("up", "down"):
        raise CommandError("invalid link state '%s'" % state)
    flags = F.CONFIG if config or not dom.is_active() else F.LIVE
    xml = with_link_state(_domain_xml(dom, flags == F.CONFIG), interface, state)
    if xml == "":
        raise CommandError("Failed to extract interface information or no interfaces found")
    if xml is None:
        raise CommandError("interface '%s' not found" % interface)
    if print_xml:
        ctl.print(xml)
        return True
    with reporting("Failed to update interface link state"):
        dom.update_device_flags(xml, flags)
    ctl.print_extra("Device updated successfully\n")
    return True
