"""Devices of a domain (virsh's Domain Management group): attach-device, attach-disk,
attach-interface, change-media, detach-device, detach-disk, detach-interface,
update-device.

As in virsh, the disk and interface XML is built (or picked out of dumpxml) here and
handed to the driver's attach/detach/update calls; the plain libvirt call is used when
no --live/--config/--current/--persistent is given, the *Flags call otherwise.
"""

from __future__ import annotations

from ..declare import alias, command, data, flag, string
from ..errors import CommandError
from .common import domain_option, exclusive, lookup_domain, read_xml_file, reporting, requires


def file_option(help: str):
    return data("file", help, completer="files")


def affect_options(func):
    """--persistent --config --live --current, as virsh's device commands declare them."""
    for name, help_text in reversed((("persistent", "make live change persistent"),
                                     ("config", "affect next boot"),
                                     ("live", "affect running domain"),
                                     ("current", "affect current domain"))):
        func = flag(name, help_text)(func)
    return func


def _affect_flags(persistent, config, live, current) -> int:
    from ..drivers.api import DeviceModifyFlags as F
    exclusive("persistent", persistent, "current", current)
    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    return (F.CONFIG if config or persistent else 0) | (F.LIVE if live else 0)


def _with_persistent(dom, flags: int, persistent) -> int:
    """--persistent on a running domain changes the live domain too."""
    from ..drivers.api import DeviceModifyFlags as F
    return flags | F.LIVE if persistent and dom.is_active() else flags


def _attach(dom, xml: str, flags: int, current) -> None:
    if flags or current:
        dom.attach_device_flags(xml, flags)
    else:
        dom.attach_device(xml)


def _detach(dom, xml: str, flags: int, current) -> None:
    if flags or current:
        dom.detach_device_flags(xml, flags)
    else:
        dom.detach_device(xml)


# ---------------------------------------------------------------------------
# attach
# ---------------------------------------------------------------------------

@command("attach-device", "Attach device from an XML <file>.")
@domain_option()
@file_option("XML file")
@affect_options
def attach_device(ctl, domain, file, persistent, config, live, current):
    flags = _affect_flags(persistent, config, live, current)
    dom = lookup_domain(ctl, domain)
    flags = _with_persistent(dom, flags, persistent)
    xml = read_xml_file(file)
    with reporting("Failed to attach device from %s" % file):
        _attach(dom, xml, flags, current)
    ctl.print_extra("Device attached successfully\n")
    return True


@command("attach-disk", "Attach new disk device.")
@domain_option()
@data("source", "source of disk device or name of network disk", empty_ok=True, completer="files")
@data("target", "target of disk device")
@string("targetbus", "target bus of disk device")
@string("driver", "driver of disk device")
@string("subdriver", "subdriver of disk device")
@string("iothread", "IOThread to be used by supported device")
@string("cache", "cache mode of disk device")
@string("io", "io policy of disk device")
@string("type", "target device type")
@alias("shareable", "mode=shareable")
@string("mode", "mode of device reading and writing")
@string("sourcetype", "type of source (block|file|network)")
@string("serial", "serial of disk device")
@string("wwn", "wwn of disk device")
@string("alias", "custom alias name of disk device")
@flag("rawio", "needs rawio capability")
@string("address", "address of disk device")
@flag("multifunction", "use multifunction pci under specified address")
@flag("print-xml", "print XML document rather than attach the disk")
@string("source-protocol", "protocol used by disk device source")
@string("source-host-name", "host name for source of disk device")
@string("source-host-transport", "host transport for source of disk device")
@string("source-host-socket", "host socket for source of disk device")
@affect_options
def attach_disk(ctl, domain, source, target, targetbus, driver, subdriver, iothread, cache, io, type, mode,
                sourcetype, serial, wwn, alias, rawio, address, multifunction, print_xml, source_protocol,
                source_host_name, source_host_transport, source_host_socket, persistent, config, live,
                current):
    from ..devicexml import disk_xml

    flags = _affect_flags(persistent, config, live, current)
    requires("source-protocol", source_protocol, "source-host-name", source_host_name)
    requires("source-protocol", source_protocol, "source-host-transport", source_host_transport)
    requires("source-protocol", source_protocol, "source-host-socket", source_host_socket)
    requires("source-host-transport", source_host_transport, "source-host-socket", source_host_socket)
    exclusive("source-host-name", source_host_name, "source-host-socket", source_host_socket)
    xml = disk_xml(source, target, targetbus=targetbus, driver=driver, subdriver=subdriver, iothread=iothread,
                   cache=cache, io=io, device=type, mode=mode, sourcetype=sourcetype, serial=serial, wwn=wwn,
                   alias=alias, rawio=rawio, address=address, multifunction=multifunction,
                   protocol=source_protocol, host_name=source_host_name, host_transport=source_host_transport,
                   host_socket=source_host_socket)
    if print_xml:
        ctl.print(xml)
        return True
    dom = lookup_domain(ctl, domain)
    flags = _with_persistent(dom, flags, persistent)
    with reporting("Failed to attach disk"):
        _attach(dom, xml, flags, current)
    ctl.print_extra("Disk attached successfully\n")
    return True


@command("attach-interface", "Attach new network interface.")
@domain_option()
@data("type", "network interface type")
@data("source", "source of network interface")
@string("target", "target network name")
@string("mac", "MAC address")
@string("script", "script used to bridge network interface")
@string("model", "model type")
@string("alias", "custom alias name of interface device")
@string("inbound", "control domain's incoming traffics")
@string("outbound", "control domain's outgoing traffics")
@affect_options
@flag("print-xml", "print XML document rather than attach the interface")
@flag("managed", "libvirt will automatically detach/attach the device from/to host")
@string("source-mode", "mode attribute of <source/> element")
def attach_interface(ctl, domain, type, source, target, mac, script, model, alias, inbound, outbound,
                     persistent, config, live, current, print_xml, managed, source_mode):
    from ..devicexml import interface_xml

    flags = _affect_flags(persistent, config, live, current)
    xml = interface_xml(type, source, target=target, mac=mac, script=script, model=model, alias=alias,
                        inbound=inbound, outbound=outbound, managed=managed, source_mode=source_mode)
    if print_xml:
        ctl.print(xml)
        return True
    dom = lookup_domain(ctl, domain)
    flags = _with_persistent(dom, flags, persistent)
    with reporting("Failed to attach interface"):
        _attach(dom, xml, flags, current)
    ctl.print_extra("Interface attached successfully\n")
    return True


# ---------------------------------------------------------------------------
# detach
# ---------------------------------------------------------------------------

@command("detach-device", "Detach device from an XML <file>")
@domain_option()
@file_option("XML file")
@affect_options
def detach_device(ctl, domain, file, persistent, config, live, current):
    flags = _affect_flags(persistent, config, live, current)
    dom = lookup_domain(ctl, domain)
    flags = _with_persistent(dom, flags, persistent)
    xml = read_xml_file(file)
    with reporting("Failed to detach device from %s" % file):
        _detach(dom, xml, flags, current)
    ctl.print_extra("Device detached successfully\n")
    return True


def _domain_xml(dom, inactive: bool) -> str:
    from ..drivers.api import DriverError, XMLFlags
    try:
        return dom.get_xml_desc(XMLFlags.INACTIVE if inactive else 0)
    except DriverError as err:
        raise CommandError(str(err)) from None


@command("detach-disk", "Detach disk device.")
@domain_option()
@data("target", "target of disk device", completer="disks")
@affect_options
@flag("print-xml", "print XML document rather than detach the disk")
def detach_disk(ctl, domain, target, persistent, config, live, current, print_xml):
    from ..devicexml import disk_to_string, find_disk
    from ..drivers.api import DeviceModifyFlags as F

    flags = _affect_flags(persistent, config, live, current)
    dom = lookup_domain(ctl, domain)
    document = _domain_xml(dom, flags == F.CONFIG)
    flags = _with_persistent(dom, flags, persistent)
    xml = disk_to_string(find_disk(document, target, changeable=False))
    if print_xml:
        ctl.print(xml)
        return True
    with reporting("Failed to detach disk"):
        _detach(dom, xml, flags, current)
    ctl.print_extra("Disk detached successfully\n")
    return True


@command("detach-interface", "Detach network interface.")
@domain_option()
@data("type", "network interface type")
@string("mac", "MAC address")
@affect_options
@flag("print-xml", "print XML document rather than detach the interface")
def detach_interface(ctl, domain, type, mac, persistent, config, live, current, print_xml):
    from ..devicexml import find_interface
    from ..drivers.api import DeviceModifyFlags as F
    from ..drivers.api import DriverError, XMLFlags

    exclusive("persistent", persistent, "current", current)
    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    dom = lookup_domain(ctl, domain)
    # virsh prints its own failures at once and the driver's after its summary line
    driver_error: list[str] = []

    class Cleanup(Exception):
        pass

    def attempt(inactive: bool, flags: int) -> bool:
        try:
            document = dom.get_xml_desc(XMLFlags.INACTIVE if inactive else 0)
        except DriverError as err:
            driver_error.append(str(err))
            raise Cleanup() from None
        try:
            xml = find_interface(document, type, mac)
        except CommandError as err:
            for line in err.lines:
                ctl.error(line)
            return False
        if print_xml:
            ctl.print(xml)
            return True
        try:
            _detach(dom, xml, flags, current)
        except DriverError as err:
            driver_error.append(str(err))
            return False
        return True

    ok = False
    try:
        affect_config = bool(config or persistent)
        if affect_config:
            ok = attempt(True, F.CONFIG)
            if not ok:
                raise Cleanup()
        affect_live = bool(live or (persistent and dom.is_active()))
        if affect_live or not affect_config:
            ok = attempt(False, F.LIVE if affect_live else 0)
            if print_xml:
                if not ok:
                    raise CommandError(*driver_error)
                return True
    except Cleanup:
        pass
    if not ok:
        raise CommandError("Failed to detach interface", *driver_error)
    ctl.print_extra("Interface detached successfully\n")
    return True


# ---------------------------------------------------------------------------
# update, change-media
# ---------------------------------------------------------------------------

@command("update-device", "Update device from an XML <file>.")
@domain_option()
@file_option("XML file")
@affect_options
@flag("force", "force device update")
def update_device(ctl, domain, file, persistent, config, live, current, force):
    from ..drivers.api import DeviceModifyFlags as F

    flags = _affect_flags(persistent, config, live, current)
    dom = lookup_domain(ctl, domain)
    flags = _with_persistent(dom, flags, persistent)
    xml = read_xml_file(file)
    if force:
        flags |= F.FORCE
    with reporting("Failed to update device from %s" % file):
        dom.update_device_flags(xml, flags)
    ctl.print_extra("Device updated successfully\n")
    return True


@command("change-media", "Change media of CD or floppy drive.")
@domain_option()
@data("path", "Fully-qualified path or target of disk device", completer="disks")
@string("source", "source of the media", completer="files")
@flag("eject", "Eject the media")
@flag("insert", "Insert the media")
@flag("update", "Update the media")
@flag("current", "can be either or both of --live and --config, depends on implementation hypervisor driver")
@flag("live", "alter live configuration of running domain")
@flag("config", "alter persistent configuration, effect observed on next boot")
@flag("force", "force media changing")
@flag("print-xml", "print XML document rather than change media")
@flag("block", "source media is a block device")
def change_media(ctl, domain, path, source, eject, insert, update, current, live, config, force, print_xml,
                 block):
    from ..devicexml import find_disk, update_disk
    from ..drivers.api import DeviceModifyFlags as F

    exclusive("eject", eject, "insert", insert)
    exclusive("eject", eject, "update", update)
    exclusive("insert", insert, "update", update)
    exclusive("eject", eject, "block", block)
    if update and source is None:       # virsh's docs: update without a source ejects
        update, eject = False, True
    if eject:
        action, done = "eject", "Successfully ejected media."
    if insert:
        action, done = "insert", "Successfully inserted media."
    if update or (not eject and not insert):
        action, done = "update", "Successfully updated media."
    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    flags = (F.CONFIG if config else 0) | (F.LIVE if live else 0) | (F.FORCE if force else 0)
    dom = lookup_domain(ctl, domain)
    document = _domain_xml(dom, bool(flags & F.CONFIG))
    xml = update_disk(find_disk(document, path, changeable=True), source, block, path, action)
    if print_xml:
        ctl.print(xml)
        return True
    with reporting("Failed to complete action %s on media" % action):
        dom.update_device_flags(xml, flags)
    ctl.print(done)
    return True
