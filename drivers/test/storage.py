"""The test driver's storage pools and volumes: the handles (api.StoragePool /
api.StorageVol) over the state's pool and volume objects (state.py), as
libvirt's test driver keeps them. No file is ever created: a volume is a name,
a path and its sizes."""

from __future__ import annotations

from ..api import (DriverError, ErrorCode, StoragePool, StoragePoolInfo,
                   StoragePoolState, StorageVol, StorageVolInfo, check_flags,
                   vol_type_number, writes)
from ..ids import parse_uint
from ..storage.poolfilter import ALL_POOL_LIST_FLAGS, pool_matches
from .state import TestHandle, TestPoolObj, TestState, TestVolObj


def size_of(element, tag: str) -> int:
    """A pool or volume size in bytes (libvirt's virStorageSize); absent or empty is 0."""
    text = element.findtext(tag)
    if not text:
        return 0
    value = parse_uint(text.strip())
    if value is None:
        raise DriverError(ErrorCode.XML_ERROR, "malformed capacity element")
    return value


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

    def list_all_volumes(self, flags: int = 0):
        check_flags(flags, 0, "testStoragePoolListAllVolumes")
        obj = self._active()
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
        obj = self._active()
        vol = _parse_volume(xml, obj)
        if obj.find_volume(vol.name) is not None:
            raise DriverError(ErrorCode.OPERATION_FAILED, "storage vol already exists")
        if obj.allocation + vol.allocation > obj.capacity:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Not enough free space in pool for volume '%s'"
                              % vol.name)
        obj.add_volume(vol)
        return TestStorageVol(self.conn, obj, vol)


def _parse_volume(xml: str, pool: TestPoolObj) -> TestVolObj:
    """A new volume's XML (virStorageVolDefParse, the parts the test driver keeps)."""
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
        backing = (backing_el.findtext("path"), backing_fmt.get("type") if backing_fmt is not None else None)
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
