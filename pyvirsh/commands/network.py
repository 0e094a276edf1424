"""Networking: the net-* commands over the driver's Network handles (virsh-network.c)."""

from __future__ import annotations

from ..declare import command, data, flag, number, string
from ..errors import CommandError
from .common import exclusive, reporting


def _network_option(help_text: str = "network name or uuid"):
    return data("network", help_text, completer="networks")


def lookup_network(ctl, word: str, by_uuid: bool = True, by_name: bool = True):
    """virsh's vshCommandOptNetworkBy: by UUID when the word has a UUID's length, then by name;
    one line naming the word when neither finds it, with the last lookup's error below."""
    from ..drivers.api import DriverError

    last = None
    if by_uuid and len(word) == 36:
        try:
            return ctl.conn.lookup_network_by_uuid(word)
        except DriverError as err:
            last = err
    if by_name:
        try:
            return ctl.conn.lookup_network_by_name(word)
        except DriverError as err:
            last = err
    raise CommandError("failed to get network '%s'" % word, *([str(last)] if last is not None else []))


@command("net-autostart", "Configure a network to be automatically started at boot.")
@_network_option()
@flag("disable", "disable autostarting")
def net_autostart(ctl, network, disable):
    net = lookup_network(ctl, network)
    verb = "unmark" if disable else "mark"
    with reporting("failed to %s network %s as autostarted" % (verb, network)):
        net.set_autostart(not disable)
    ctl.print("Network %s %sed as autostarted\n" % (network, verb))
    return True


def _from_file(ctl, file: str, validate: bool, call, verb: str) -> bool:
    from .common import read_xml_file

    xml = read_xml_file(file)
    with reporting("Failed to %s network from %s" % (verb, file)):
        net = call(xml, 1 if validate else 0)
    ctl.print("Network %s %s from %s\n" % (net.name, "created" if verb == "create" else "defined", file))
    return True


@command("net-create", "Create a network.")
@data("file", "file containing an XML network description", completer="files")
@flag("validate", "validate the XML against the schema")
def net_create(ctl, file, validate):
    return _from_file(ctl, file, validate, ctl.conn.network_create_xml, "create")


@command("net-define", "Define or modify a persistent virtual network.")
@data("file", "file containing an XML network description", completer="files")
@flag("validate", "validate the XML against the schema")
def net_define(ctl, file, validate):
    return _from_file(ctl, file, validate, ctl.conn.network_define_xml, "define")


def _action(ctl, word: str, call, failed: str, done: str) -> bool:
    net = lookup_network(ctl, word)
    with reporting(failed % word):
        call(net)
    ctl.print(done % word)
    return True


@command("net-destroy", "Forcefully stop a given network.")
@_network_option()
def net_destroy(ctl, network):
    return _action(ctl, network, lambda n: n.destroy(), "Failed to destroy network %s", "Network %s destroyed\n")


@command("net-start", "Start a network.")
@_network_option()
def net_start(ctl, network):
    return _action(ctl, network, lambda n: n.create(), "Failed to start network %s", "Network %s started\n")


@command("net-undefine", "Undefine the configuration for a persistent network.")
@_network_option()
def net_undefine(ctl, network):
    return _action(ctl, network, lambda n: n.undefine(), "Failed to undefine network %s",
                   "Network %s has been undefined\n")


@command("net-dhcp-leases", "Print lease info for a given network")
@_network_option()
@string("mac", "MAC address")
def net_dhcp_leases(ctl, network, mac):
    import time

    from ..output import format_table

    net = lookup_network(ctl, network)
    with reporting("Failed to get leases info for %s" % network):
        leases = net.get_dhcp_leases(mac, 0)
    rows = []
    for lease in sorted(leases, key=lambda lease: lease.mac or ""):
        expiry = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.expirytime))
        rows.append([expiry, lease.mac or "", "ipv6" if lease.type == 1 else "ipv4",
                     "%s/%d" % (lease.ipaddr, lease.prefix), lease.hostname or "-", lease.clientid or "-"])
    header = ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


@command("net-dumpxml", "Output the network information as an XML dump to stdout.")
@_network_option()
@flag("inactive", "show inactive defined XML")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def net_dumpxml(ctl, network, inactive, xpath, wrap):
    from ..drivers.api import DriverError, NetworkXMLFlags
    from .common import print_xml

    net = lookup_network(ctl, network)
    try:
        text = net.get_xml_desc(NetworkXMLFlags.INACTIVE if inactive else 0)
    except DriverError as err:
        raise CommandError(str(err)) from None
    print_xml(ctl, text, xpath, wrap)
    return True


@command("net-edit", "Edit the XML configuration for a network.")
@_network_option()
def net_edit(ctl, network):
    from ..drivers.api import DriverError, ErrorCode, NetworkXMLFlags
    from .editing import edit_document

    net = lookup_network(ctl, network)
    try:
        original = net.get_xml_desc(NetworkXMLFlags.INACTIVE)
    except DriverError as err:
        # virsh asks again without the flag when the driver refuses it (VIR_ERR_INVALID_ARG,
        # which is also the code of libvirt's "unsupported flags" error).
        if err.code is not ErrorCode.INVALID_ARG and not err.message.startswith("unsupported flags"):
            raise CommandError(str(err)) from None
        try:
            original = net.get_xml_desc(0)
        except DriverError as again:
            raise CommandError(str(again)) from None

    def apply(new_text):
        return ctl.conn.network_define_xml(new_text, 0)

    result = edit_document(ctl, original, apply)
    if result is None:
        ctl.print("Network %s XML configuration not changed.\n" % net.name)
    else:
        ctl.print("Network %s XML configuration edited.\n" % result.name)
    return True


# virsh 9.0's network event names (VIR_NETWORK_EVENT_ID_*) and lifecycle words
NETWORK_EVENT_NAMES = ("lifecycle",)
_NETWORK_LIFECYCLE = ("Defined", "Undefined", "Started", "Stopped")


@command("net-event", "List event types, or wait for network events to occur")
@string("network", "filter by network name or uuid", completer="networks")
@string("event", "which event type to wait for")
@flag("loop", "loop until timeout or interrupt, rather than one-shot")
@number("timeout", "timeout seconds")
@flag("list", "list valid event types")
@flag("timestamp", "show timestamp for each printed event")
def net_event(ctl, network, event, loop, timeout, list, timestamp):
    from ..values import timeout_ms
    from .events import _loop, _timestamp

    if list:
        ctl.print("".join(name + "\n" for name in NETWORK_EVENT_NAMES))
        return True
    if event is None:
        raise CommandError("either --list or --event <type> is required")
    if event not in NETWORK_EVENT_NAMES:
        raise CommandError("unknown event type %s" % event)
    ms = timeout_ms(timeout)
    net = None
    unreported: list[str] = []
    if network is not None:
        # virsh reports a network it cannot find and then listens to all of them; the
        # lookup's own error is shown at the end, when no event came (cmdNetworkEvent).
        try:
            net = lookup_network(ctl, network)
        except CommandError as err:
            ctl.error(err.lines[0])
            unreported = err.lines[1:]
    listener = ctl.conn.network_event_listener(net)

    def accept(item):
        name, _kind, lifecycle, _detail = item
        word = _NETWORK_LIFECYCLE[lifecycle] if 0 <= lifecycle < len(_NETWORK_LIFECYCLE) else "unknown"
        return "%sevent 'lifecycle' for network %s: %s\n" % (_timestamp() + ": " if timestamp else "", name, word)
    if _loop(ctl, listener, accept, loop, ms):
        return True
    raise CommandError(*unreported)


@command("net-info", "Returns basic information about the network")
@_network_option()
def net_info(ctl, network):
    from ..drivers.api import DriverError
    from ..output import format_kv

    net = lookup_network(ctl, network)
    pairs = [("Name:", net.name), ("UUID:", net.uuid)]
    try:
        pairs.append(("Active:", "yes" if net.is_active() else "no"))
    except DriverError:
        pass
    pairs.append(("Persistent:", _yes_no(net.is_persistent, "unknown")))
    pairs.append(("Autostart:", _yes_no(net.get_autostart, "no autostart")))
    try:
        pairs.append(("Bridge:", net.get_bridge_name()))
    except DriverError:
        pass
    ctl.print(format_kv(pairs))
    return True


def _yes_no(call, failed: str) -> str:
    from ..drivers.api import DriverError

    try:
        return "yes" if call() else "no"
    except DriverError:
        return failed


@command("net-list", "Returns list of networks.")
@flag("inactive", "list inactive networks")
@flag("all", "list inactive & active networks")
@flag("persistent", "list persistent networks")
@flag("transient", "list transient networks")
@flag("autostart", "list networks with autostart enabled")
@flag("no-autostart", "list networks with autostart disabled")
@flag("uuid", "list uuid's only")
@flag("name", "list network names only")
@flag("table", "list table (default)")
def net_list(ctl, inactive, all, persistent, transient, autostart, no_autostart, uuid, name, table):
    from ..drivers.api import DriverError, NetworkListFlags as F
    from ..output import format_table
    from .common import flag_bits

    if uuid + name + table > 1:
        raise CommandError("Only one argument from --table, --name and --uuid may be specified.")
    flags = F.ACTIVE | F.INACTIVE if all else F.INACTIVE if inactive else F.ACTIVE
    flags |= flag_bits((persistent, F.PERSISTENT), (transient, F.TRANSIENT), (autostart, F.AUTOSTART),
                       (no_autostart, F.NO_AUTOSTART))
    try:
        nets = ctl.conn.list_all_networks(flags)
    except DriverError as err:
        raise CommandError("Failed to list networks", str(err)) from None
    nets = sorted(nets, key=lambda n: n.name.lower())
    if uuid or name:
        ctl.print("".join("%s\n" % (n.uuid if uuid else n.name) for n in nets))
        return True
    rows = []
    for n in nets:
        rows.append([n.name, "active" if _yes_no(n.is_active, "yes") == "yes" else "inactive",
                     _yes_no(n.get_autostart, "no autostart"), _yes_no(n.is_persistent, "yes")])
    ctl.print(format_table(["Name", "State", "Autostart", "Persistent"], rows, ctl.quiet))
    return True


@command("net-name")
@_network_option("network uuid")
def net_name(ctl, network):
    if len(network) != 36:
        raise CommandError("failed to get network '%s'" % network)
    ctl.print("%s\n" % lookup_network(ctl, network, by_name=False).name)
    return True


@command("net-uuid")
@_network_option("network name")
def net_uuid(ctl, network):
    ctl.print("%s\n" % lookup_network(ctl, network, by_uuid=False).uuid)
    return True


@command("net-update")
@_network_option()
@data("command", "type of update (add-first, add-last (add), delete, or modify)")
@data("section", "which section of network configuration to update")
@data("xml", "name of file containing xml (or, if it starts with '<', the complete xml element itself) to "
      "add/modify, or to be matched for search")
@number("parent-index", "which parent object to search through")
@flag("config", "affect next network startup")
@flag("live", "affect running network")
@flag("current", "affect current state of network")
def net_update(ctl, network, command, section, xml, parent_index, config, live, current):
    from ..drivers.api import NETWORK_SECTIONS, NETWORK_UPDATE_COMMANDS, NetworkUpdateFlags as F
    from .. import values
    from .common import flag_bits, read_xml_file

    exclusive("current", current, "live", live)
    exclusive("current", current, "config", config)
    net = lookup_network(ctl, network)
    word = "add-last" if command == "add" else command
    if word not in NETWORK_UPDATE_COMMANDS[1:]:
        raise CommandError("unrecognized command name '%s'" % command)
    if section not in NETWORK_SECTIONS[1:]:
        raise CommandError("unrecognized section name '%s'" % section)
    index = values.integer("parent-index", parent_index, -(2**31), 2**31 - 1)
    text = xml if xml.startswith("<") else read_xml_file(xml)
    flags = flag_bits((config, F.CONFIG), (live, F.LIVE))
    with reporting("Failed to update network %s" % net.name):
        net.update(NETWORK_UPDATE_COMMANDS.index(word), NETWORK_SECTIONS.index(section),
                   -1 if index is None else index, text, flags)
    if config:
        affected = "persistent config and live state" if live else "persistent config"
    elif live or _yes_no(net.is_active, "yes") == "yes":
        affected = "live state"
    else:
        affected = "persistent config"
    ctl.print("Updated network %s %s" % (net.name, affected))
    return True


# ---------------------------------------------------------------------------
# net-port-* (virsh-network.c): the ports of a network, one per plugged guest interface
# ---------------------------------------------------------------------------

def _port_network(ctl, word: str):
    """virshCommandOptNetworkPort's network: its lookup failure is one line, without libvirt's."""
    try:
        return lookup_network(ctl, word)
    except CommandError as err:
        raise CommandError(err.args[0]) from None


def _lookup_port(ctl, network: str, port: str):
    """The port, or None after virsh's one-line error (virsh then ends the command *successfully*)."""
    from ..drivers.api import DriverError

    try:
        net = _port_network(ctl, network)
    except CommandError as err:
        ctl.error(err.args[0])
        return None
    try:
        return net.port_lookup_by_uuid(port)
    except DriverError:
        ctl.error("failed to get network port '%s'" % port)
        return None


@command("net-port-list", "Returns list of network ports.")
@_network_option()
@flag("uuid", "list uuid's only")
@flag("table", "list table (default)")
def net_port_list(ctl, network, uuid, table):
    from ..drivers.api import DriverError
    from ..output import format_table

    if uuid and table:
        raise CommandError("Only one argument from --table and --uuid may be specified.")
    net = lookup_network(ctl, network)
    try:
        ports = sorted(net.list_all_ports(), key=lambda port: port.uuid)
    except DriverError as err:
        raise CommandError(str(err)) from None
    if uuid:
        ctl.print("".join("%s\n" % port.uuid for port in ports))
    else:
        ctl.print(format_table(["UUID"], [[port.uuid] for port in ports], ctl.quiet))
    return True


@command("net-port-create", "Create a network port.")
@_network_option()
@data("file", "file containing an XML network port description", completer="files")
@flag("validate", "validate the XML against the schema")
def net_port_create(ctl, network, file, validate):
    from .common import read_xml_file

    net = lookup_network(ctl, network)
    xml = read_xml_file(file)
    with reporting("Failed to create network from %s" % file):
        port = net.port_create_xml(xml)
    ctl.print_extra("Network port %s created from %s\n" % (port.uuid, file))
    return True


@command("net-port-dumpxml", "Output the network port information as an XML dump to stdout.")
@_network_option()
@data("port", "port UUID")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def net_port_dumpxml(ctl, network, port, xpath, wrap):
    from ..drivers.api import DriverError
    from .common import print_xml

    found = _lookup_port(ctl, network, port)
    if found is None:
        return True
    try:
        text = found.get_xml_desc()
    except DriverError as err:
        raise CommandError(str(err)) from None
    print_xml(ctl, text, xpath, wrap)
    return True


@command("net-port-delete", "Delete the specified network port.")
@_network_option()
@data("port", "port UUID")
def net_port_delete(ctl, network, port):
    found = _lookup_port(ctl, network, port)
    if found is None:
        return True
    with reporting("Failed to delete network port %s" % port):
        found.delete()
    ctl.print_extra("Network port %s deleted\n" % port)
    return True
