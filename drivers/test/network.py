"""The test driver's virtual networks: the handles (api.Network) over the state's network
objects, as libvirt's test driver keeps them: nothing on the host is touched, a
network is its definition and three flags."""

from __future__ import annotations

from ..api import (DriverError, ErrorCode, Network, NetworkUpdateFlags, check_flags, network_matches,
                   writes)
from .state import TestHandle, TestState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..network.netdef import NetworkDef


class TestNetworkObj:
    """One network (libvirt's virNetworkObj): the definition in use, and the persistent
    definition waiting for the next start when it was changed while running."""

    def __init__(self, definition: NetworkDef | None = None, xml_text: str | None = None,
                 name: str = "", uuid: str = ""):
        self._def = definition
        self._xml_text = xml_text       # the built-in default network, parsed on first use
        self.name = definition.name if definition is not None else name
        self.uuid = definition.uuid if definition is not None else uuid
        self.new_def: NetworkDef | None = None
        self.active = False
        self.persistent = True
        self.autostart = False

    @property
    def definition(self) -> NetworkDef:
        if self._def is None:
            from ..network.netdef import parse_network
            assert self._xml_text is not None
            self._def = parse_network(self._xml_text)
        return self._def

    @definition.setter
    def definition(self, value: NetworkDef) -> None:
        self._def = value

    def bridge(self) -> str | None:
        if self._def is None and self._xml_text is not None:
            return "virbr0"     # the built-in default network's, without parsing it
        return self.definition.bridge


def _parse(xml: str):
    from ..network.netdef import parse_network
    return parse_network(xml)


class TestNetworks:
    """The network half of a TestConnection (a mixin: it reads self.state)."""

    state: TestState

    def list_all_networks(self, flags: int = 0):
        from ..api import ALL_NETWORK_LIST_FLAGS
        check_flags(flags, ALL_NETWORK_LIST_FLAGS, "testConnectListAllNetworks")
        return [TestNetwork(self, n) for n in self.state.networks
                if network_matches(flags, n.active, n.persistent, n.autostart)]

    def lookup_network_by_name(self, name: str):
        for obj in self.state.networks:
            if obj.name == name:
                return TestNetwork(self, obj)
        raise DriverError(ErrorCode.NO_NETWORK, "no network with matching name '%s'" % name)

    def lookup_network_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        canonical = parse_uuid(uuid)
        if canonical is None:
            raise DriverError(ErrorCode.INVALID_ARG, "uuidstr in virNetworkLookupByUUIDString must be a valid UUID")
        for obj in self.state.networks:
            if obj.uuid == canonical:
                return TestNetwork(self, obj)
        raise DriverError(ErrorCode.NO_NETWORK, "no network with matching uuid '%s'" % canonical)

    def _assign(self, definition, live: bool) -> TestNetworkObj:
        """virNetworkObjAssignDef: the name and UUID checks, then the object it replaces or adds."""
        for obj in self.state.networks:
            if obj.name == definition.name:
                if obj.uuid != definition.uuid:
                    raise DriverError(ErrorCode.OPERATION_FAILED, "network '%s' already exists with uuid %s"
                                      % (obj.name, obj.uuid))
                if live and obj.active:
                    raise DriverError(ErrorCode.OPERATION_INVALID, "network is already active as '%s'"
                                      % obj.name)
                if obj.active:
                    obj.new_def = definition
                else:
                    obj.definition = definition
                return obj
            if obj.uuid == definition.uuid:
                raise DriverError(ErrorCode.OPERATION_FAILED, "network '%s' is already defined with uuid %s"
                                  % (obj.name, obj.uuid))
        obj = TestNetworkObj(definition)
        obj.persistent = not live
        self.state.networks.append(obj)
        return obj

    @writes("virNetworkDefineXML")
    def network_define_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 1, "testNetworkDefineXML")       # VALIDATE: the parse is the validation
        obj = self._assign(_parse(xml), live=False)
        obj.persistent = True
        return TestNetwork(self, obj)

    @writes("virNetworkCreateXML")
    def network_create_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 1, "testNetworkCreateXML")
        obj = self._assign(_parse(xml), live=True)
        obj.active = True
        return TestNetwork(self, obj)


class TestNetwork(TestHandle, Network):
    def __init__(self, conn, obj: TestNetworkObj):
        super().__init__(conn, obj)
        self.uuid = obj.uuid

    def _present(self) -> bool:
        return self.obj in self.conn.state.networks

    def _gone(self) -> DriverError:
        return DriverError(ErrorCode.NO_NETWORK, "no network with matching uuid '%s' (%s)" % (self.uuid, self.name))

    def is_active(self) -> bool:
        return self._live().active

    def is_persistent(self) -> bool:
        return self._live().persistent

    def get_autostart(self) -> bool:
        return self._live().autostart

    def get_bridge_name(self) -> str:
        bridge = self._live().bridge()
        if bridge is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "network '%s' does not have a bridge name." % self.name)
        return bridge

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, 0, "testNetworkGetXMLDesc")
        return self._live().definition.to_xml()

    @writes("virNetworkCreate")
    def create(self) -> None:
        obj = self._live()
        if obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "Network '%s' is already running" % obj.name)
        obj.active = True

    @writes("virNetworkDestroy")
    def destroy(self) -> None:
        obj = self._live()
        obj.active = False          # libvirt's test driver "destroys" an inactive network too
        if not obj.persistent:
            self.conn.state.networks.remove(obj)

    @writes("virNetworkUndefine")
    def undefine(self) -> None:
        obj = self._live()
        if obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "Network '%s' is still running" % obj.name)
        self.conn.state.networks.remove(obj)

    @writes("virNetworkSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        self._live().autostart = autostart

    @writes("virNetworkUpdate")
    def update(self, command: int, section: int, parent_index: int, xml: str, flags: int = 0) -> None:
        from ..network.netupdate import copy_definition, update_definition

        F = NetworkUpdateFlags
        check_flags(flags, F.LIVE | F.CONFIG, "virNetworkUpdate")
        obj = self._live()
        if flags == F.CURRENT:
            flags = F.LIVE if obj.active else F.CONFIG
        if flags & F.LIVE and not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "network is not running")
        if flags & F.CONFIG and not obj.persistent:
            raise DriverError(ErrorCode.OPERATION_INVALID, "cannot change persistent config of a transient network")
        live = config = None
        if flags & F.CONFIG:
            # libvirt's test driver keeps a running network's changed config apart, unseen.
            base = obj.new_def if obj.new_def is not None else obj.definition
            config = copy_definition(base)
            update_definition(config, command, section, parent_index, xml)
        if flags & F.LIVE:
            live = copy_definition(obj.definition)
            update_definition(live, command, section, parent_index, xml)
        if config is not None:
            if obj.active:
                obj.new_def = config
            else:
                obj.definition = config
        if live is not None:
            obj.definition = live
