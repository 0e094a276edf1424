"""The test driver's storage pools and volumes: the handles (api.StoragePool /
api.StorageVol) over the state's pool and volume objects (state.py), as
libvirt's test driver keeps them. No file is ever created: a volume is a name,
a path and its sizes."""

from __future__ import annotations

from ..api import (DriverError, ErrorCode, StoragePool, StoragePoolInfo,
                   StoragePoolState, StorageVol, StorageVolInfo, check_flags,
                   vol_type_number, writes)
from ..xmlescape import escape
from ..storage.poolfilter import ALL_POOL_LIST_FLAGS, pool_matches
from .defaults import DEFAULT_POOL
from .state import TestHandle, TestPoolObj, TestState, TestVolObj

# libvirt's test driver takes VALIDATE (1) at define and no other flag at all.
_DEFINE_FLAGS = 1


def size_of(element, tag: str) -> int:
    """A pool or volume size in bytes, with its unit (libvirt's virStorageSize); absent or
    empty is 0."""
    from ..storage.voldef import scaled_size

    if not element.findtext(tag):
        return 0
    return scaled_size(element, tag) or 0


class TestStorage:
    """The storage half of a TestConnection (a mixin: it reads self.state)."""

    state: TestState

    def list_all_storage_pools(self, flags: int = 0):
        check_flags(flags, ALL_POOL_LIST_FLAGS, "testConnectListAllStoragePools")
        return [TestStoragePool(self, p) for p in self.state.pools
                if pool_matches(flags, p.active, p.persistent, p.autostart, p.type)]

    def lookup_storage_pool_by_name(self, name: str):
        for pool in self.state.pools:
            if pool.name == name:
                return TestStoragePool(self, pool)
        raise DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching name '%s'" % name)

    def lookup_storage_pool_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        canonical = parse_uuid(uuid)
        if canonical is None:
            raise DriverError(ErrorCode.INVALID_ARG,
                              "uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID")
        for pool in self.state.pools:
            if pool.uuid == canonical:
                return TestStoragePool(self, pool)
        raise DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching uuid '%s'" % canonical)

    def _new_pool(self, xml: str, *, creating: bool) -> TestPoolObj:
        """The pool a define or create makes or changes (libvirt's virStoragePoolObjListAdd)."""
        from ..storage.pooldef import parse_pool
        from ..storage.pooldup import check_new_pool

        pool = parse_pool(xml)
        pools = self.state.pools
        index = check_new_pool(pool, [(p.definition, p.active) for p in pools], creating=creating)
        if index is None:
            obj = TestPoolObj(pool, DEFAULT_POOL["capacity"])
            obj.active, obj.persistent = False, False
            pools.append(obj)
            return obj
        obj = pools[index]
        # A definition given while the pool runs becomes libvirt's newDef, which its test
        # driver never puts into effect: what the pool shows stays as it was.
        if creating or not obj.active:
            obj.definition = pool
        return obj

    @writes("virStoragePoolDefineXML")
    def storage_pool_define_xml(self, xml: str, flags: int = 0):
        check_flags(flags, _DEFINE_FLAGS, "testStoragePoolDefineXML")
        obj = self._new_pool(xml, creating=False)
        obj.persistent = True
        return TestStoragePool(self, obj)

    @writes("virStoragePoolCreateXML")
    def storage_pool_create_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 0, "testStoragePoolCreateXML")
        obj = self._new_pool(xml, creating=True)
        # libvirt's test driver makes a pool created over a defined one transient too.
        obj.active, obj.persistent = True, False
        return TestStoragePool(self, obj)

    def num_of_storage_pools(self) -> int:
        return sum(1 for p in self.state.pools if p.active)

    def num_of_defined_storage_pools(self) -> int:
        return sum(1 for p in self.state.pools if not p.active)

    def find_storage_pool_sources(self, pool_type: str, spec: str | None, flags: int = 0) -> str:
        """libvirt's test driver: made-up volume groups, an NFS share on the host asked for."""
        check_flags(flags, 0, "testConnectFindStoragePoolSources")
        if pool_type == "dir":
            # libvirt's test driver takes the type's number 0 (dir) for "no such type"
            raise DriverError(ErrorCode.INTERNAL_ERROR, "unknown storage pool type dir")
        if pool_type == "logical":
            groups = "".join("  <source>\n    <device path='/dev/sda2%d'/>\n    <name>testvg%d</name>\n"
                             "    <format type='lvm2'/>\n  </source>\n" % (n - 1, n) for n in (1, 2))
            return "<sources>\n%s</sources>" % groups     # libvirt's canned text ends without a newline
        if pool_type == "netfs":
            host = None
            if spec is not None:
                from ..xmlutil import parse

                host_el = parse(spec, "(storage_source_specification)", root="source").find("host")
                host = host_el.get("name") if host_el is not None else None
            if not host:
                raise DriverError(ErrorCode.INVALID_ARG, "hostname must be specified for netfs sources")
            return ("<sources>\n  <source>\n    <host name='%s'/>\n    <dir path='/testshare'/>\n"
                    "    <format type='nfs'/>\n  </source>\n</sources>" % host)
        raise DriverError(ErrorCode.NO_SUPPORT, "pool type '%s' does not support source discovery" % pool_type)

    def _find_volume(self, path: str):
        for pool in self.state.pools:
            if not pool.active:
                continue
            for vol in pool.volumes:
                if vol.path == path:
                    return TestStorageVol(self, pool, vol)
        return None

    def lookup_storage_vol_by_key(self, key: str):
        found = self._find_volume(key)
        if found is None:
            raise DriverError(ErrorCode.NO_STORAGE_VOL, "no storage vol with matching key %s" % key)
        return found

    def lookup_storage_vol_by_path(self, path: str):
        found = self._find_volume(path)
        if found is None:
            raise DriverError(ErrorCode.NO_STORAGE_VOL, "no storage vol with matching path '%s'" % path)
        return found


class TestStoragePool(TestHandle, StoragePool):
    def __init__(self, conn, obj: TestPoolObj):
        super().__init__(conn, obj)
        self.uuid = obj.uuid

    def _present(self) -> bool:
        return self.obj in self.conn.state.pools

    def _gone(self) -> DriverError:
        return DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching uuid '%s' (%s)"
                           % (self.uuid, self.name))

    def _active(self) -> TestPoolObj:
        obj = self._live()
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is not active" % obj.name)
        return obj

    def _inactive(self) -> TestPoolObj:
        obj = self._live()
        if obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is active" % obj.name)
        return obj

    def get_info(self) -> StoragePoolInfo:
        obj = self._live()
        state = StoragePoolState.RUNNING if obj.active else StoragePoolState.INACTIVE
        return StoragePoolInfo(state, obj.capacity, obj.allocation, obj.available)

    def is_active(self) -> bool:
        return self._live().active

    def is_persistent(self) -> bool:
        return self._live().persistent

    def get_autostart(self) -> bool:
        return self._live().autostart

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, 0, "testStoragePoolGetXMLDesc")
        return self._live().xml()

    @writes("virStoragePoolCreate")
    def create(self, flags: int = 0) -> None:
        check_flags(flags, 0, "testStoragePoolCreate")
        self._inactive().active = True

    @writes("virStoragePoolBuild")
    def build(self, flags: int = 0) -> None:
        check_flags(flags, 0, "testStoragePoolBuild")
        self._inactive()

    @writes("virStoragePoolDestroy")
    def destroy(self) -> None:
        obj = self._active()
        obj.active = False
        if not obj.persistent:
            self.conn.state.pools.remove(obj)

    @writes("virStoragePoolDelete")
    def delete(self, flags: int = 0) -> None:
        check_flags(flags, 0, "testStoragePoolDelete")
        self._inactive()

    @writes("virStoragePoolUndefine")
    def undefine(self) -> None:
        obj = self._inactive()
        self.conn.state.pools.remove(obj)

    @writes("virStoragePoolSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        obj = self._live()
        if not obj.persistent:
            raise DriverError(ErrorCode.INVALID_ARG, "pool has no config file")
        obj.autostart = autostart

    @writes("virStoragePoolRefresh")
    def refresh(self, flags: int = 0) -> None:
        check_flags(flags, 0, "testStoragePoolRefresh")
        self._active()

    def list_all_volumes(self, flags: int = 0):
        check_flags(flags, 0, "testStoragePoolListAllVolumes")
        obj = self._live()
        if not obj.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool is not active")
        return [TestStorageVol(self.conn, obj, v) for v in obj.volumes]

    def num_of_volumes(self) -> int:
        return len(self._active().volumes)

    def lookup_vol_by_name(self, name: str):
        obj = self._active()
        vol = obj.find_volume(name)
        if vol is None:
            raise DriverError(ErrorCode.NO_STORAGE_VOL, "no storage vol with matching name '%s'" % name)
        return TestStorageVol(self.conn, obj, vol)

    @writes("virStorageVolCreateXML")
    def create_vol_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 0, "testStorageVolCreateXML")
        return self._new_volume(xml, None)

    @writes("virStorageVolCreateXMLFrom")
    def create_vol_xml_from(self, xml: str, clone: StorageVol, flags: int = 0) -> StorageVol:
        check_flags(flags, 0, "testStorageVolCreateXMLFrom")
        return self._new_volume(xml, clone)

    def _new_volume(self, xml: str, clone: StorageVol | None):
        """A volume added from its XML (and, for a clone, the origin's data, which the test
        driver does not keep): libvirt's name and free-space checks, in its order."""
        obj = self._active()
        vol = _parse_volume(xml, obj)
        if obj.find_volume(vol.name) is not None:
            raise DriverError(ErrorCode.OPERATION_FAILED, "storage vol already exists")
        if clone is not None:
            clone.get_info()                # the origin must still be there
        if obj.allocation + vol.allocation > obj.capacity:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Not enough free space in pool for volume '%s'"
                              % vol.name)
        obj.add_volume(vol)
        return TestStorageVol(self.conn, obj, vol)


def _parse_volume(xml: str, pool: TestPoolObj) -> TestVolObj:
    """A new volume's XML (virStorageVolDefParse, the parts the test driver keeps)."""
    from ..storage.pooltypes import default_volume_format
    from ..storage.probe import FORMATS     # os and struct only
    from ..xmlutil import parse

    doc = parse(xml, "(storage_volume_definition)", root="volume")
    name = doc.findtext("name")
    if not name:
        raise DriverError(ErrorCode.XML_ERROR, "missing volume name element")
    if not doc.findtext("capacity"):
        raise DriverError(ErrorCode.XML_ERROR, "missing capacity element")
    capacity = size_of(doc, "capacity")
    allocation = size_of(doc, "allocation") if doc.find("allocation") is not None else capacity
    fmt_el = doc.find("target/format")
    fmt = fmt_el.get("type") if fmt_el is not None else None
    if fmt is not None and fmt not in FORMATS[1:]:      # every format but "none"
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "unknown volume format type %s" % fmt)
    backing = None
    backing_el = doc.find("backingStore")
    if backing_el is not None:
        backing_fmt = backing_el.find("format")
        # without a format, libvirt gives the backing volume its pool type's default one
        backing = (backing_el.findtext("path"), backing_fmt.get("type") if backing_fmt is not None
                   else default_volume_format(pool.type))
    return TestVolObj(name, "%s/%s" % (pool.path, name), "file", capacity, allocation, fmt, backing)


class TestStorageVol(TestHandle, StorageVol):
    def __init__(self, conn, pool: TestPoolObj, obj: TestVolObj):
        super().__init__(conn, obj)
        self.pool = pool
        self.key = obj.key

    def _present(self) -> bool:
        return self.pool in self.conn.state.pools and self.obj in self.pool.volumes

    def _gone(self) -> DriverError:
        return DriverError(ErrorCode.NO_STORAGE_VOL, "no storage vol with matching name '%s'" % self.name)

    def lookup_pool(self):
        self._live()
        return TestStoragePool(self.conn, self.pool)

    def get_path(self) -> str:
        return self._live().path

    def get_info(self) -> StorageVolInfo:
        obj = self._live()
        vol_type = vol_type_number(obj.type)
        return StorageVolInfo(-1 if vol_type is None else vol_type, obj.capacity, obj.allocation)

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, 0, "testStorageVolGetXMLDesc")
        return _volume_xml(self._live(), self.pool.type)

    @writes("virStorageVolDelete")
    def delete(self, flags: int = 0) -> None:
        check_flags(flags, 0, "testStorageVolDelete")
        self.pool.remove_volume(self._live())


def _volume_xml(vol: TestVolObj, pool_type: str) -> str:
    """vol-dumpxml of a test volume: libvirt's format of what the test driver keeps (no file
    behind it, so no physical size, permissions or timestamps)."""
    from ..storage.pooltypes import default_volume_format

    out = ("<volume type='%s'>\n  <name>%s</name>\n  <key>%s</key>\n"
           "  <capacity unit='bytes'>%d</capacity>\n  <allocation unit='bytes'>%d</allocation>\n"
           "  <target>\n    <path>%s</path>\n"
           % (vol.type, escape(vol.name), escape(vol.key), vol.capacity, vol.allocation, escape(vol.path)))
    fmt = vol.format or default_volume_format(pool_type)
    if fmt is not None:
        out += "    <format type='%s'/>\n" % fmt
    out += "  </target>\n"
    if vol.backing is not None:
        path, backing_fmt = vol.backing
        out += "  <backingStore>\n    <path>%s</path>\n" % escape(path or "")
        if backing_fmt is not None:
            out += "    <format type='%s'/>\n" % backing_fmt
        out += "  </backingStore>\n"
    return out + "</volume>\n"
