"""The QEMU driver's storage pools, daemonless: state in files beside the domains'.

    CONFIG/storage/NAME.xml            a persistent pool's definition
    CONFIG/storage/autostart/NAME      present when the pool autostarts
    RUN/storage/NAME.xml               a running pool's live definition, with the sizes
                                       and target permissions measured when it started
                                       or was refreshed (a transient pool has only this)

(CONFIG and RUN are the connection's config and run directories, see paths.py.)
A pool runs from its start to its destroy or to the host's reboot, which
empties RUN. Without a daemon nothing starts pools at boot: autostart means
that starting a domain whose <disk type='volume'> names an inactive pool
starts that pool first. Every call reads the files again, so several pyvirsh
processes see one state; changes take the storage lock and are atomic writes.
"""

from __future__ import annotations

import os

from ..api import (DriverError, ErrorCode, StoragePool, StoragePoolBuildFlags, StoragePoolCreateFlags,
                   StoragePoolInfo, StoragePoolState, StorageXMLFlags, check_flags, writes)
from ..fsutil import FileLock, atomic_write, ensure_dir, read_text, remove
from ..storage import pooldir
from ..storage.pooldef import SUPPORTED_TYPES, PoolDef, parse_pool, read_own, require_supported
from .paths import DriverPaths
from .volumes import PoolVolumes, VolumeLookups

LOCK_TIMEOUT = 30.0


class PoolPaths:
    """Where the pool files of one connection live."""

    def __init__(self, paths: DriverPaths):
        self.config = os.path.join(paths.config, "storage")
        self.autostart_dir = os.path.join(self.config, "autostart")
        self.run = os.path.join(paths.run, "storage")
        self.lock = os.path.join(paths.locks, "storage.lock")

    def config_file(self, name: str) -> str:
        return os.path.join(self.config, name + ".xml")

    def live_file(self, name: str) -> str:
        return os.path.join(self.run, name + ".xml")

    def autostart_file(self, name: str) -> str:
        return os.path.join(self.autostart_dir, name)


class PoolRecord:
    """One pool as its files say: the persistent definition (None for a transient pool),
    the live one (None when inactive) and the autostart mark."""

    def __init__(self, config: PoolDef | None, live: PoolDef | None, autostart: bool):
        self.config = config
        self.live = live
        self.autostart = autostart
        current = live if live is not None else config
        if current is None:     # PoolStore.load makes no record of a pool without files
            raise ValueError("a pool record needs a definition")
        # The live definition while it runs, else the persistent one (the next start's).
        self.current: PoolDef = current

    @property
    def name(self) -> str:
        return self.current.name

    @property
    def uuid(self) -> str:
        return self.current.uuid


def _read_def(path: str) -> PoolDef | None:
    text = read_text(path)
    if text is None:
        return None
    return _trusted(text, path)


def _trusted(text: str, path: str) -> PoolDef:
    """A definition pyvirsh wrote, with the sizes it measured (parse_pool reads the rest).
    Read without lxml when it is in the exact form pyvirsh writes (read_own)."""
    own = read_own(text)
    if own is not None:
        return own
    from ..xmlutil import parse_trusted

    pool = parse_pool(text)
    doc = parse_trusted(text, path)
    for tag in ("capacity", "allocation", "available"):
        value = doc.findtext(tag)
        if value is not None:
            setattr(pool, tag, int(value))
    return pool


def _no_pool_name(name: str) -> DriverError:
    return DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching name '%s'" % name)


def _not_active(name: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is not active" % name)


def _still_active(name: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is still active" % name)


class PoolStore:
    """Reading and writing the pool files of one connection."""

    def __init__(self, paths: DriverPaths):
        self.paths = PoolPaths(paths)
        self._lock: FileLock | None = None

    def lock(self) -> FileLock:
        if self._lock is None:
            ensure_dir(os.path.dirname(self.paths.lock))
            self._lock = FileLock(self.paths.lock, LOCK_TIMEOUT, "the storage pools")
        return self._lock

    def names(self) -> list[str]:
        names: set[str] = set()
        for directory in (self.paths.config, self.paths.run):
            try:
                entries = os.listdir(directory)
            except OSError:
                continue
            names.update(e[:-4] for e in entries if e.endswith(".xml") and not e.startswith("."))
        return sorted(names)

    def load(self, name: str) -> PoolRecord | None:
        if "/" in name or name.startswith(".") or "\0" in name:
            return None
        config = _read_def(self.paths.config_file(name))
        live = _read_def(self.paths.live_file(name))
        if config is None and live is None:
            return None
        return PoolRecord(config, live, os.path.exists(self.paths.autostart_file(name)))

    def records(self) -> list[PoolRecord]:
        return [r for r in (self.load(n) for n in self.names()) if r is not None]

    def save_config(self, pool: PoolDef) -> None:
        ensure_dir(self.paths.config)
        atomic_write(self.paths.config_file(pool.name), pool.definition_xml())

    def save_live(self, pool: PoolDef) -> None:
        ensure_dir(self.paths.run)
        atomic_write(self.paths.live_file(pool.name), pool.to_xml())

    def set_autostart(self, name: str, on: bool) -> None:
        path = self.paths.autostart_file(name)
        if on:
            ensure_dir(self.paths.autostart_dir)
            atomic_write(path, "")
        else:
            remove(path)

    def check_new(self, pool: PoolDef, *, creating: bool) -> PoolRecord | None:
        """The existing record the definition replaces (same name and UUID), if any."""
        from ..storage.pooldup import check_new_pool

        records = self.records()
        index = check_new_pool(pool, [(rec.current, rec.live is not None) for rec in records], creating=creating)
        return None if index is None else records[index]


def _check_name(name: str) -> None:
    """Names that cannot be a state file: libvirt refuses only '/', pyvirsh also these."""
    if name in ("", ".", "..") or name.startswith(".") or "\0" in name or "\n" in name or \
            len(name.encode()) > 200:
        raise DriverError(ErrorCode.XML_ERROR, "pool name '%s' is not usable as a file name" % name)


def _start(store: PoolStore, pool: PoolDef, flags: int) -> None:
    """Build if asked, check the target, measure, and write the live file."""
    F = StoragePoolCreateFlags
    if flags & F.BUILD_OVERWRITE and flags & F.BUILD_NO_OVERWRITE:
        raise DriverError(ErrorCode.RAW, "Flags 'VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE' and "
                          "'VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE' are mutually exclusive")
    if flags & (F.BUILD | F.BUILD_OVERWRITE | F.BUILD_NO_OVERWRITE):
        build_flags = (StoragePoolBuildFlags.OVERWRITE if flags & F.BUILD_OVERWRITE else 0) | \
            (StoragePoolBuildFlags.NO_OVERWRITE if flags & F.BUILD_NO_OVERWRITE else 0)
        _build(pool, build_flags)
    if pool.type == "fs":
        from ..storage import poolfs
        poolfs.start(pool)
    try:
        pooldir.check_target(pool)
        pooldir.measure(pool)
        store.save_live(pool)
    except BaseException:
        _stop(pool)
        raise


def _build(pool: PoolDef, flags: int) -> None:
    if pool.type == "fs":
        from ..storage import poolfs
        poolfs.build(pool, flags)
    else:
        pooldir.build(pool, flags)


def _stop(pool: PoolDef) -> None:
    """What stopping a pool undoes: an fs pool's mount."""
    if pool.type == "fs":
        from ..storage import poolfs
        poolfs.stop(pool)


class QemuStorage(VolumeLookups):
    """The storage half of a QemuConnection (a mixin: it reads self.paths)."""

    paths: DriverPaths      # the host class's, QemuConnection's

    @property
    def pools(self) -> PoolStore:
        store = self.__dict__.get("_pool_store")
        if store is None:
            store = self.__dict__["_pool_store"] = PoolStore(self.paths)
        return store

    def _pool_handle(self, rec: PoolRecord) -> QemuStoragePool:
        return QemuStoragePool(self, rec.name, rec.uuid)

    def pool_handle(self, name: str, uuid: str) -> QemuStoragePool:
        """A handle on a pool known by name and UUID (a volume's parent; volumes.py cannot import this)."""
        return QemuStoragePool(self, name, uuid)

    def list_all_storage_pools(self, flags: int = 0):
        from ..storage.poolfilter import ALL_POOL_LIST_FLAGS, pool_matches

        check_flags(flags, ALL_POOL_LIST_FLAGS, "storageConnectListAllStoragePools")
        return [self._pool_handle(r) for r in self.pools.records()
                if pool_matches(flags, r.live is not None, r.config is not None, r.autostart, r.current.type)]

    def num_of_storage_pools(self) -> int:
        return sum(1 for r in self.pools.records() if r.live is not None)

    def num_of_defined_storage_pools(self) -> int:
        return sum(1 for r in self.pools.records() if r.live is None)

    def lookup_storage_pool_by_name(self, name: str):
        rec = self.pools.load(name)
        if rec is None:
            raise _no_pool_name(name)
        return self._pool_handle(rec)

    def lookup_storage_pool_by_uuid(self, uuid: str):
        from ..ids import parse_uuid
        canonical = parse_uuid(uuid)
        if canonical is None:
            raise DriverError(ErrorCode.INVALID_ARG,
                              "uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID")
        for rec in self.pools.records():
            if rec.uuid == canonical:
                return self._pool_handle(rec)
        raise DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching uuid '%s'" % canonical)

    def get_storage_pool_capabilities(self, flags: int = 0) -> str:
        from ..storage.pooltypes import capabilities_xml

        check_flags(flags, 0, "storageConnectGetStoragePoolCapabilities")
        return capabilities_xml(SUPPORTED_TYPES)

    @writes("virStoragePoolDefineXML")
    def storage_pool_define_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 1, "storagePoolDefineXML")      # VALIDATE: the parse is the validation
        pool = parse_pool(xml)
        _check_name(pool.name)
        require_supported(pool)
        with self.pools.lock():
            self.pools.check_new(pool, creating=False)
            self.pools.save_config(pool)
        return QemuStoragePool(self, pool.name, pool.uuid)

    @writes("virStoragePoolCreateXML")
    def storage_pool_create_xml(self, xml: str, flags: int = 0):
        check_flags(flags, 7, "storagePoolCreateXML")
        pool = parse_pool(xml)
        _check_name(pool.name)
        require_supported(pool)
        with self.pools.lock():
            self.pools.check_new(pool, creating=True)
            _start(self.pools, pool, flags)
        return QemuStoragePool(self, pool.name, pool.uuid)


class QemuStoragePool(PoolVolumes, StoragePool):
    """A handle on one pool; every call reads its files again."""

    conn: QemuStorage       # the QemuConnection

    def __init__(self, conn: QemuStorage, name: str, uuid: str):
        self.conn = conn
        self.name = name
        self.uuid = uuid

    def connection(self):
        return self.conn

    @property
    def store(self) -> PoolStore:
        return self.conn.pools

    def record(self) -> PoolRecord:
        rec = self.store.load(self.name)
        if rec is None or rec.uuid != self.uuid:
            raise DriverError(ErrorCode.NO_STORAGE_POOL, "no storage pool with matching uuid '%s' (%s)"
                              % (self.uuid, self.name))
        return rec

    def live_def(self) -> PoolDef:
        """The running pool's live definition; not active: libvirt's error."""
        live = self.record().live
        if live is None:
            raise _not_active(self.name)
        return live

    # reading ------------------------------------------------------------

    def get_info(self) -> StoragePoolInfo:
        rec = self.record()
        if rec.live is None:
            return StoragePoolInfo(StoragePoolState.INACTIVE, 0, 0, 0)
        live = rec.live
        return StoragePoolInfo(StoragePoolState.RUNNING, live.capacity, live.allocation, live.available)

    def is_active(self) -> bool:
        return self.record().live is not None

    def is_persistent(self) -> bool:
        return self.record().config is not None

    def get_autostart(self) -> bool:
        return self.record().autostart

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, StorageXMLFlags.INACTIVE, "storagePoolGetXMLDesc")
        rec = self.record()
        if flags & StorageXMLFlags.INACTIVE and rec.config is not None and rec.live is not None and \
                not rec.config.same_definition(rec.live):
            return rec.config.to_xml()      # redefined since it started: the next start's definition
        return rec.current.to_xml()

    # lifecycle ----------------------------------------------------------

    @writes("virStoragePoolCreate")
    def create(self, flags: int = 0) -> None:
        check_flags(flags, 7, "storagePoolCreate")
        with self.store.lock():
            rec = self.record()
            if rec.live is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is already active" % self.name)
            _start(self.store, rec.current, flags)        # inactive: current is the persistent definition

    @writes("virStoragePoolBuild")
    def build(self, flags: int = 0) -> None:
        check_flags(flags, StoragePoolBuildFlags.OVERWRITE | StoragePoolBuildFlags.NO_OVERWRITE,
                    "storagePoolBuild")
        with self.store.lock():
            rec = self.record()
            if rec.live is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' is already active" % self.name)
            _build(rec.current, flags)        # inactive: current is the persistent definition

    @writes("virStoragePoolDestroy")
    def destroy(self) -> None:
        with self.store.lock():
            _stop(self.live_def())
            remove(self.store.paths.live_file(self.name))

    @writes("virStoragePoolDelete")
    def delete(self, flags: int = 0) -> None:
        check_flags(flags, 1, "storagePoolDelete")      # ZEROED: dir pools ignore it, as libvirt
        with self.store.lock():
            rec = self.record()
            if rec.live is not None:
                raise _still_active(self.name)
            from .volumes import running_user
            pool = rec.current      # inactive: the persistent definition
            user = running_user(self.conn, pool.target_dir, under=True)
            if user is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "cannot delete pool '%s': its directory holds an "
                                  "image of %s" % (self.name, user))
            pooldir.delete(pool)

    @writes("virStoragePoolUndefine")
    def undefine(self) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.live is not None:
                raise _still_active(self.name)
            if rec.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "pool '%s' is not persistent" % self.name)
            self.store.set_autostart(self.name, False)
            remove(self.store.paths.config_file(self.name))

    @writes("virStoragePoolSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        with self.store.lock():
            rec = self.record()
            if rec.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "cannot set autostart for transient pool")
            self.store.set_autostart(self.name, autostart)

    @writes("virStoragePoolRefresh")
    def refresh(self, flags: int = 0) -> None:
        check_flags(flags, 0, "storagePoolRefresh")
        with self.store.lock():
            live = self.live_def()
            try:
                pooldir.check_target(live)
                pooldir.measure(live)
            except DriverError:
                # libvirt stops a pool whose refresh fails (a transient one is gone).
                try:
                    _stop(live)
                finally:
                    remove(self.store.paths.live_file(self.name))
                raise
            self.store.save_live(live)
