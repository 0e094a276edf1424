"""Storage Pool and Storage Volume basics: pool-list, pool-info, vol-create-as,
vol-list, vol-info, over the driver's StoragePool and StorageVol handles."""

from __future__ import annotations

from ..declare import command, data, flag, string
from ..errors import CommandError
from ..output import format_kv, format_table, pretty_size
from .. import values
from .common import exclusive, flag_bits, reporting


def _size(value: int) -> str:
    return "%.2f %s" % pretty_size(value)


def _is_no_support(err) -> bool:
    from ..drivers.api import ErrorCode
    return err.code is ErrorCode.NO_SUPPORT


def lookup_pool(ctl, name: str):
    """virsh's pool lookup: by UUID when the word has a UUID's length, then by name."""
    from ..drivers.api import DriverError

    pool = None
    with reporting("failed to get pool '%s'" % name):
        if len(name) == 36:
            try:
                pool = ctl.conn.lookup_storage_pool_by_uuid(name)
            except DriverError:
                pool = None
        if pool is None:
            pool = ctl.conn.lookup_storage_pool_by_name(name)
    return pool


def lookup_volume(ctl, name: str, pool_name):
    """virsh's volume lookup: by name in the given pool, then by key, then by path."""
    from ..drivers.api import DriverError

    pool = None
    if pool_name is not None:
        pool = lookup_pool(ctl, pool_name)
        with reporting("pool '%s' is not active" % pool_name):
            active = pool.is_active()
        if not active:
            raise CommandError("pool '%s' is not active" % pool_name)
    vol, last = None, None
    lookups = [(ctl.conn.lookup_storage_vol_by_key, name), (ctl.conn.lookup_storage_vol_by_path, name)]
    if pool is not None:
        lookups.insert(0, (pool.lookup_vol_by_name, name))
    for lookup, word in lookups:
        try:
            vol = lookup(word)
            break
        except DriverError as err:
            last = err
    if vol is None:
        hint = "" if pool is not None else ", specifying --pool might help"
        raise CommandError("failed to get vol '%s'%s" % (name, hint), str(last))
    if pool is not None:
        try:
            holder = vol.lookup_pool()
        except DriverError:
            holder = None
        if holder is not None and holder.name != pool.name:
            raise CommandError("Requested volume '%s' is not in pool '%s'" % (name, pool.name))
    return vol


@command("pool-info", "Returns basic information about the storage pool.")
@data("pool", "pool name or uuid")
@flag("bytes", "Return pool info in bytes")
def pool_info(ctl, pool, bytes):
    from ..drivers.api import DriverError, StoragePoolState, pool_state_label

    p = lookup_pool(ctl, pool)
    fmt = (lambda v: "%d" % v) if bytes else _size
    pairs = [("Name:", p.name), ("UUID:", p.uuid)]
    try:
        info = p.get_info()
    except DriverError as err:
        ctl.print(format_kv(pairs))
        raise CommandError(str(err)) from None
    pairs.append(("State:", pool_state_label(info.state)))
    pairs.append(("Persistent:", _yes_no(p.is_persistent, "unknown")))
    pairs.append(("Autostart:", _yes_no(p.get_autostart, "no autostart")))
    if info.state in (StoragePoolState.RUNNING, StoragePoolState.DEGRADED):
        pairs += [("Capacity:", fmt(info.capacity)), ("Allocation:", fmt(info.allocation)),
                  ("Available:", fmt(info.available))]
    ctl.print(format_kv(pairs))
    return True


def _yes_no(call, failed: str) -> str:
    """virsh's yes/no for a pool property, or its word for a call that failed."""
    from ..drivers.api import DriverError

    try:
        return "yes" if call() else "no"
    except DriverError:
        return failed


def _collect_pools(ctl, flags: int, types_given: bool) -> list:
    """virshStoragePoolListCollect: the pools matching flags, sorted by name."""
    from ..drivers.api import DriverError, StoragePoolListFlags as F

    try:
        pools = ctl.conn.list_all_storage_pools(flags)
    except DriverError as err:
        if not _is_no_support(err):
            raise CommandError("Failed to list pools", str(err)) from None
        pools = _collect_pools_fallback(ctl, flags & (F.ACTIVE | F.INACTIVE), types_given)
    return sorted(pools, key=lambda p: p.name.lower())


def _collect_pools_fallback(ctl, state_flags: int, types_given: bool) -> list:
    """What virsh does when the driver lacks virConnectListAllStoragePools: count the
    pools with the older calls (a driver with pools implements the listing)."""
    from ..drivers.api import StoragePoolListFlags as F, no_support

    if types_given:
        raise CommandError("Filtering using --type is not supported by this libvirt")
    count = 0
    if state_flags != F.INACTIVE:
        with reporting("Failed to get the number of active pools "):
            count += ctl.conn.num_of_storage_pools()
    if state_flags != F.ACTIVE:
        with reporting("Failed to get the number of inactive pools"):
            count += ctl.conn.num_of_defined_storage_pools()
    if count:
        raise CommandError("Failed to list active pools", str(no_support("virConnectListStoragePools")))
    return []


@command("pool-list", "Returns list of pools.")
@flag("inactive", "list inactive pools")
@flag("all", "list inactive & active pools")
@flag("transient", "list transient pools")
@flag("persistent", "list persistent pools")
@flag("autostart", "list pools with autostart enabled")
@flag("no-autostart", "list pools with autostart disabled")
@string("type", "only list pool of specified type(s) (if supported)")
@flag("details", "display extended details for pools")
@flag("uuid", "list UUID of active pools only")
@flag("name", "list name of active pools only")
def pool_list(ctl, inactive, all, transient, persistent, autostart, no_autostart, type, details, uuid, name):
    from ..drivers.api import POOL_TYPE_FLAGS, DriverError, StoragePoolListFlags as F, StoragePoolState
    from ..drivers.api import pool_state_label

    exclusive("all", all, "inactive", inactive)
    flags = F.INACTIVE if inactive else F.ACTIVE | F.INACTIVE if all else F.ACTIVE
    flags |= flag_bits((autostart, F.AUTOSTART), (no_autostart, F.NO_AUTOSTART), (persistent, F.PERSISTENT),
                       (transient, F.TRANSIENT))
    exclusive("details", details, "uuid", uuid)
    exclusive("details", details, "name", name)
    if type is not None:
        from .common import split_commas
        for word in split_commas(type):
            if word not in POOL_TYPE_FLAGS:
                raise CommandError("Invalid pool type '%s'" % word)
            flags |= POOL_TYPE_FLAGS[word]
    pools = _collect_pools(ctl, flags, type is not None)
    if uuid or name:
        lines = []
        for p in pools:
            fields = ([p.uuid] if uuid else []) + (["%-20s" % p.name] if name else [])
            lines.append(" ".join(fields) + "\n")
        ctl.print("".join(lines))
        return True
    rows = []
    for p in pools:
        autostart_word = _yes_no(p.get_autostart, "no autostart")
        persistent_word = _yes_no(p.is_persistent, "unknown") if details else None
        try:
            info = p.get_info()
        except DriverError:
            ctl.error("Could not retrieve pool information")
            info = None
        if not details:
            # virsh tests virStoragePoolIsActive's result for truth: a failure (-1) reads as active.
            state = "unknown" if info is None else "inactive" if _yes_no(p.is_active, "yes") == "no" \
                else "active"
            rows.append([p.name, state, autostart_word])
            continue
        if info is None:
            cells = ["unknown"] * 4
        elif info.state in (StoragePoolState.RUNNING, StoragePoolState.DEGRADED):
            cells = [pool_state_label(info.state), _size(info.capacity), _size(info.allocation),
                     _size(info.available)]
        else:
            cells = [pool_state_label(info.state), "-", "-", "-"]
        rows.append([p.name, cells[0], autostart_word, persistent_word] + cells[1:])
    if details:
        header = ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"]
    else:
        header = ["Name", "State", "Autostart"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


def _malformed(text):
    try:
        return values.scaled("capacity", text, 1)
    except CommandError:
        raise CommandError("Malformed size %s" % text) from None


def _backing_volume(ctl, pool, name: str):
    """vol-create-as's backing volume: by name in the pool, then by key, then by path."""
    from ..drivers.api import DriverError

    for lookup in (pool.lookup_vol_by_name, ctl.conn.lookup_storage_vol_by_key,
                   ctl.conn.lookup_storage_vol_by_path):
        try:
            return lookup(name)
        except DriverError as err:
            last = err
    raise CommandError("failed to get vol '%s'" % name, str(last))


@command("vol-create-as", "Create a vol.")
@data("pool", "pool name")
@data("name", "name of the volume")
@data("capacity", "size of the vol, as scaled integer (default bytes)")
@string("allocation", "initial allocation size, as scaled integer (default bytes)")
@string("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk")
@string("backing-vol", "the backing volume if taking a snapshot")
@string("backing-vol-format", "format of backing volume if taking a snapshot")
@flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)")
@flag("print-xml", "print XML document, but don't define/create")
def vol_create_as(ctl, pool, name, capacity, allocation, format, backing_vol, backing_vol_format,
                  prealloc_metadata, print_xml):
    from ..drivers.api import DriverError, VolCreateFlags
    from ..drivers.xmlescape import escape

    p = lookup_pool(ctl, pool)
    cap = _malformed(capacity)
    alloc = _malformed(allocation) if allocation is not None else None
    xml = "<volume>\n  <name>%s</name>\n  <capacity>%d</capacity>\n" % (escape(name), cap)
    if alloc is not None:
        xml += "  <allocation>%d</allocation>\n" % alloc
    if format:
        xml += "  <target>\n    <format type='%s'/>\n  </target>\n" % escape(format)
    if backing_vol:
        backing = _backing_volume(ctl, p, backing_vol)
        try:
            path = backing.get_path()
        except DriverError as err:
            raise CommandError(str(err)) from None
        xml += "  <backingStore>\n    <path>%s</path>\n" % escape(path)
        if backing_vol_format:
            xml += "    <format type='%s'/>\n" % escape(backing_vol_format)
        xml += "  </backingStore>\n"
    xml += "</volume>\n"
    if print_xml:
        ctl.print(xml)
        return True
    flags = VolCreateFlags.PREALLOC_METADATA if prealloc_metadata else 0
    with reporting("Failed to create vol %s" % name):
        p.create_vol_xml(xml, flags)
    ctl.print_extra("Vol %s created\n" % name)
    return True


def _collect_volumes(pool) -> list:
    """virshStorageVolListCollect: the pool's volumes, sorted by name."""
    from ..drivers.api import DriverError

    try:
        vols = pool.list_all_volumes(0)
    except DriverError as err:
        if not _is_no_support(err):
            raise CommandError("Failed to list volumes", str(err)) from None
        # virsh's fallback: count first (a driver with volumes implements the listing).
        with reporting("Failed to list storage volumes"):
            count = pool.num_of_volumes()
        if count:
            from ..drivers.api import no_support
            raise CommandError("Failed to list storage volumes",
                               str(no_support("virStoragePoolListVolumes"))) from None
        vols = []
    return sorted(vols, key=lambda v: v.name.lower())


@command("vol-list", "Returns list of vols by pool.")
@data("pool", "pool name or uuid")
@flag("details", "display extended details for volumes")
def vol_list(ctl, pool, details):
    from ..drivers.api import DriverError, vol_type_label

    p = lookup_pool(ctl, pool)
    rows = []
    for v in _collect_volumes(p):
        try:
            path = v.get_path()
        except DriverError:
            path = "unknown"
        if not details:
            rows.append([v.name, path])
            continue
        try:
            info = v.get_info()
            rows.append([v.name, path, vol_type_label(info.type), _size(info.capacity),
                         _size(info.allocation)])
        except DriverError:
            rows.append([v.name, path, "unknown", "unknown", "unknown"])
    if details:
        header = ["Name", "Path", "Type", "Capacity", "Allocation"]
    else:
        header = ["Name", "Path"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


@command("vol-info", "Returns basic information about the storage vol.")
@data("vol", "vol name, key or path")
@string("pool", "pool name or uuid")
@flag("bytes", "sizes are represented in bytes rather than pretty units")
@flag("physical", "return the physical size of the volume in allocation field")
def vol_info(ctl, vol, pool, bytes, physical):
    from ..drivers.api import DriverError, VolGetInfoFlags, vol_type_label

    v = lookup_volume(ctl, vol, pool)
    ctl.print(format_kv([("Name:", v.name)]))
    try:
        info = v.get_info_flags(VolGetInfoFlags.PHYSICAL) if physical else v.get_info()
    except DriverError as err:
        raise CommandError(str(err)) from None
    fmt = (lambda n: "%d bytes" % n) if bytes else _size
    ctl.print(format_kv([("Type:", vol_type_label(info.type)), ("Capacity:", fmt(info.capacity)),
                         ("Physical:" if physical else "Allocation:", fmt(info.allocation))]))
    return True
