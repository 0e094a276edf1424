"""The QEMU driver's storage volumes: the files of its running `dir` pools.

A volume is a file in a running pool's directory; nothing about it is kept
elsewhere, so a file copied in by hand is a volume at once (no refresh
needed) and its key is its path, as in libvirt's dir pools.
"""

from __future__ import annotations

import os

from ..api import (VOL_FORCE, VOL_WIPE_ALGORITHMS, DriverError, ErrorCode, StorageVol, StorageVolInfo,
                   StorageVolType, VolCreateFlags, VolDeleteFlags, VolGetInfoFlags, VolResizeFlags, VolStreamFlags,
                   check_flags, os_reason, writes)
from ..storage import voldir
from ..storage.pooldef import PoolDef, sanitize_path

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    class _PoolRecord(Protocol):
        """What the lookups read of a pools.py PoolRecord (pools.py imports this module, not back)."""

        live: PoolDef | None

        @property
        def name(self) -> str: ...

        @property
        def uuid(self) -> str: ...

    class _PoolRecords(Protocol):
        """What the lookups read of the connection's pools.py PoolStore."""

        def records(self) -> Sequence[_PoolRecord]: ...


def no_vol(kind: str, word: str) -> DriverError:
    quoted = word if kind == "key" else "'%s'" % word
    return DriverError(ErrorCode.NO_STORAGE_VOL, "no storage vol with matching %s %s" % (kind, quoted))


class PoolVolumes:
    """The volume calls of a QemuStoragePool (a mixin: it reads the attributes declared here)."""

    conn: VolumeLookups     # the QemuConnection (connection.py, which imports this module)
    name: str
    uuid: str

    if TYPE_CHECKING:
        # QemuStoragePool's: the running pool's live definition, or libvirt's not-active error.
        def live_def(self) -> PoolDef: ...

    def _target(self) -> str:
        return self.live_def().target_dir

    def _vol(self, name: str, target: str | None = None) -> QemuStorageVol:
        return QemuStorageVol(self.conn, self.name, self.uuid, name, target or self._target())

    def list_all_volumes(self, flags: int = 0):
        check_flags(flags, 0, "storagePoolListAllVolumes")
        target = self._target()
        return [self._vol(n, target) for n in sorted(voldir.list_names(target))]

    def num_of_volumes(self) -> int:
        return len(voldir.list_names(self._target()))

    def lookup_vol_by_name(self, name: str):
        target = self._target()
        if "/" in name or name in (".", "..") or not voldir.is_volume(os.path.join(target, name)):
            raise no_vol("name", name)
        return self._vol(name, target)

    def _new_volume(self, xml: str):
        from ..storage.voldef import parse_volume

        target = self._target()
        vdef = parse_volume(xml)
        voldir.check_name(vdef.name)
        if vdef.backing_path is not None:
            backing = self._backing_volume(target, vdef.backing_path)
            vdef.backing_path = backing.path
            if vdef.backing_format is None:
                # libvirt writes 'raw' here; the pool knows the volume's format.
                vdef.backing_format = backing.format
        return target, vdef

    def _backing_volume(self, target: str, path: str) -> voldir.VolumeFacts:
        """A backing file must be a volume of the same pool: pyvirsh knows its chain then."""
        full = sanitize_path(path if os.path.isabs(path) else os.path.join(target, path))
        if os.path.dirname(full) != target:
            raise DriverError(ErrorCode.OPERATION_INVALID, "backing volume '%s' is not in pool '%s' (its target "
                              "is '%s')" % (path, self.name, target))
        if not voldir.is_volume(full) or os.path.isdir(full):
            raise no_vol("path", path)
        return voldir.describe(full)

    @writes("virStorageVolCreateXML")
    def create_vol_xml(self, xml: str, flags: int = 0):
        check_flags(flags, VolCreateFlags.PREALLOC_METADATA | VolCreateFlags.VALIDATE, "storageVolCreateXML")
        target, vdef = self._new_volume(xml)
        voldir.create(os.path.join(target, vdef.name), vdef, bool(flags & VolCreateFlags.PREALLOC_METADATA))
        return self._vol(vdef.name, target)

    @writes("virStorageVolCreateXMLFrom")
    def create_vol_xml_from(self, xml: str, clone, flags: int = 0):
        check_flags(flags, VolCreateFlags.PREALLOC_METADATA | VolCreateFlags.VALIDATE, "storageVolCreateXMLFrom")
        source = clone.facts()
        target, vdef = self._new_volume(xml)
        if vdef.backing_path is not None:
            backing = source.backing()
            if backing is None or backing[0] != vdef.backing_path:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "a copied volume cannot have a backing store "
                                  "of its own: the copy holds all of the data")
            # vol-clone hands over the source's XML, backing store included: the copy is flat.
            vdef.backing_path = vdef.backing_format = None
        voldir.copy_from(os.path.join(target, vdef.name), vdef, source,
                         bool(flags & VolCreateFlags.PREALLOC_METADATA))
        return self._vol(vdef.name, target)


class VolumeLookups:
    """The connection's volume lookups by key and path (a mixin of QemuStorage)."""

    if TYPE_CHECKING:
        # QemuStorage's: the connection's pool files.
        @property
        def pools(self) -> _PoolRecords: ...

    def _volume_at(self, path: str):
        clean = sanitize_path(path)
        directory, name = os.path.split(clean)
        if not name or name in (".", "..") or voldir.is_temporary(name):
            return None
        for rec in self.pools.records():
            if rec.live is not None and rec.live.target_path == directory and \
                    voldir.is_volume(clean):
                return QemuStorageVol(self, rec.name, rec.uuid, name, directory)
        return None

    def lookup_storage_vol_by_key(self, key: str):
        vol = self._volume_at(key) if key == sanitize_path(key) else None
        if vol is None:
            raise no_vol("key", key)
        return vol

    def lookup_storage_vol_by_path(self, path: str):
        vol = self._volume_at(path)
        if vol is None:
            raise no_vol("path", path)
        return vol


def facts_type(facts: voldir.VolumeFacts) -> int:
    return StorageVolType.DIR if facts.is_dir else StorageVolType.FILE


class QemuStorageVol(StorageVol):
    """A handle on one volume; every call finds the pool and the file again."""

    def __init__(self, conn, pool_name: str, pool_uuid: str, name: str, target: str):
        self.conn = conn
        self.pool_name = pool_name
        self.pool_uuid = pool_uuid
        self.name = name
        self.key = os.path.join(target, name)       # the key of a dir pool's volume is its path

    def connection(self):
        return self.conn

    def pool(self):
        return self.conn.pool_handle(self.pool_name, self.pool_uuid)

    def live_path(self) -> str:
        """The volume's file, or libvirt's not-found error once the pool stopped or the file went.

        The pool's running state is its live file's existence (a stat, not a parse: vol-list
        asks this of every volume)."""
        if os.path.exists(self.conn.pools.paths.live_file(self.pool_name)) and voldir.is_volume(self.key):
            return self.key
        rec = self.conn.pools.load(self.pool_name)
        if rec is None or rec.uuid != self.pool_uuid or rec.live is None:
            raise no_vol("name", self.name)
        path = os.path.join(rec.live.target_path, self.name)
        if not voldir.is_volume(path):
            raise no_vol("name", self.name)
        return path

    def facts(self) -> voldir.VolumeFacts:
        return voldir.describe(self.live_path())

    # reading ------------------------------------------------------------

    def lookup_pool(self):
        self.live_path()
        return self.pool()

    def get_path(self) -> str:
        return self.live_path()

    def get_info(self) -> StorageVolInfo:
        facts = self.facts()
        return StorageVolInfo(facts_type(facts), facts.capacity, facts.allocation)

    def get_info_flags(self, flags: int) -> StorageVolInfo:
        check_flags(flags, VolGetInfoFlags.PHYSICAL, "storageVolGetInfoFlags")
        facts = self.facts()
        second = facts.st.st_size if flags & VolGetInfoFlags.PHYSICAL and not facts.is_dir else facts.allocation
        return StorageVolInfo(facts_type(facts), facts.capacity, second)

    def get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, 0, "storageVolGetXMLDesc")
        return self.facts().to_xml(self.name)

    # changing -----------------------------------------------------------

    @writes("virStorageVolDelete")
    def delete(self, flags: int = 0) -> None:
        check_flags(flags, VolDeleteFlags.ZEROED | VOL_FORCE, "storageVolDelete")
        path = self.live_path()
        refuse_in_use(self.conn, path, "delete", bool(flags & VOL_FORCE))
        voldir.delete(path)

    @writes("virStorageVolWipe")
    def wipe(self, flags: int = 0) -> None:
        self.wipe_pattern(0, flags)         # libvirt's storageVolWipe: the zero pattern

    @writes("virStorageVolWipePattern")
    def wipe_pattern(self, algorithm: int, flags: int = 0) -> None:
        check_flags(flags, VOL_FORCE, "storageVolWipePattern")
        facts = self.facts()
        refuse_in_use(self.conn, facts.path, "wipe", bool(flags & VOL_FORCE))
        if algorithm != 0:
            word = VOL_WIPE_ALGORITHMS[algorithm] if 0 <= algorithm < len(VOL_WIPE_ALGORITHMS) else algorithm
            raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "wiping algorithm '%s' is not supported by pyvirsh "
                              "(only zero)" % word)
        voldir.wipe_zero(facts)

    @writes("virStorageVolResize")
    def resize(self, capacity: int, flags: int = 0) -> None:
        F = VolResizeFlags
        check_flags(flags, F.ALLOCATE | F.DELTA | F.SHRINK | VOL_FORCE, "storageVolResize")
        facts = self.facts()
        facts.refuse_dir()
        if flags & F.SHRINK:
            refuse_in_use(self.conn, facts.path, "shrink", bool(flags & VOL_FORCE))
        if flags & F.DELTA:
            if flags & F.SHRINK:
                if capacity > facts.capacity:
                    raise DriverError(ErrorCode.INVALID_ARG, "can't shrink capacity below zero")
                capacity = facts.capacity - capacity
            else:
                capacity = facts.capacity + capacity
        voldir.resize(facts, capacity, bool(flags & F.ALLOCATE), bool(flags & F.SHRINK))

    @writes("virStorageVolUpload")
    def upload(self, local_path: str, offset: int, length: int, flags: int = 0) -> None:
        check_flags(flags, VolStreamFlags.SPARSE_STREAM, "storageVolUpload")
        path = self.live_path()
        size = os.stat(local_path).st_size
        if length and size > length:
            # libvirt's stream refuses the bytes past --length; pyvirsh refuses before writing any.
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot write to stream: No space left on device")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as err:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot open volume '%s': %s"
                              % (path, os_reason(err))) from None
        try:
            # no fsync: like libvirt's stream and cp, the data is in the page cache when this returns
            # length: a file is measured above, a pipe only as it is read
            voldir.transfer(local_path, fd, 0, offset, length or None, bool(flags & VolStreamFlags.SPARSE_STREAM))
        finally:
            os.close(fd)

    def download(self, local_fd: int, offset: int, length: int, flags: int = 0) -> None:
        check_flags(flags, VolStreamFlags.SPARSE_STREAM, "storageVolDownload")
        voldir.transfer(self.live_path(), local_fd, offset, 0, length or None,
                        bool(flags & VolStreamFlags.SPARSE_STREAM))


# ---------------------------------------------------------------------------
# Who uses a volume: refusals libvirt does not make
# ---------------------------------------------------------------------------

def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normpath(a) == os.path.normpath(b)


def running_user(conn, path: str, under: bool = False) -> str | None:
    """'domain NAME (disk vda[2])' when path is a layer of a running domain's cached chain
    (with under, when a layer lies in the directory path)."""
    for dom in conn.list_all_domains():
        try:
            if not dom.is_active():
                continue
            disks = dom.get_disks()
        except DriverError:
            continue
        for disk in disks:
            for depth, layer in enumerate(disk.chain):
                if not layer.path:
                    continue
                hit = (os.path.dirname(os.path.normpath(layer.path)) == os.path.normpath(path)) if under \
                    else _same_file(layer.path, path)
                if hit:
                    where = disk.target if depth == 0 else "%s[%s]" % (disk.target, layer.index)
                    return "running domain '%s' (%s, layer %d of its chain)" % (dom.name, where, depth + 1)
    return None


def backing_user(conn, path: str) -> str | None:
    """'volume NAME in pool P' for a volume of a running pool whose backing file is path."""
    for rec in conn.pools.records():
        if rec.live is None:
            continue
        target = rec.live.target_path
        try:
            names = voldir.list_names(target)
        except DriverError:
            continue
        for name in sorted(names):
            other = os.path.join(target, name)
            if _same_file(other, path):
                continue
            backing = voldir.describe(other).backing_path()
            if backing is not None and _same_file(backing, path):
                return "volume '%s' in pool '%s'" % (name, rec.name)
    return None


def refuse_in_use(conn, path: str, verb: str, force: bool) -> None:
    user = running_user(conn, path)
    if user is not None:
        raise DriverError(ErrorCode.OPERATION_INVALID, "cannot %s volume '%s': it is in use by %s"
                          % (verb, path, user))
    if not force:
        user = backing_user(conn, path)
        if user is not None:
            raise DriverError(ErrorCode.OPERATION_INVALID, "cannot %s volume '%s': it is the backing file of %s "
                              "(--force to %s it anyway)" % (verb, path, user, verb))
