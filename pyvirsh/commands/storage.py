"""Storage Pool and Storage Volume basics: pool-list, pool-info, vol-create-as,
vol-list, vol-info, over the driver's StoragePool and StorageVol handles."""

from __future__ import annotations

from ..declare import command, data, flag, flag_table, string
from ..errors import CommandError
from ..output import format_kv, format_table, pretty_size
from .. import values
from .common import exclusive, flag_bits, reporting
from .storagelookup import lookup_pool, lookup_volume
from .storagelookup import pool_option as _pool_opt
from .storagelookup import vol_option as _vol_option


def _size(value: int) -> str:
    return "%.2f %s" % pretty_size(value)


def _is_no_support(err) -> bool:
    from ..drivers.api import ErrorCode
    return err.code is ErrorCode.NO_SUPPORT


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
    except CommandError as err:
        # virsh's words, then the scaling's reason (an overflow) when the number itself was fine
        digits = text.strip().lstrip("+")
        digits = digits[:len(digits) - len(digits.lstrip("0123456789"))] or "0"
        detail = err.lines[1:] if int(digits) <= values.ULLONG_MAX else []
        raise CommandError("Malformed size %s" % text, *detail) from None


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


# ---------------------------------------------------------------------------
# Pool lifecycle: define, create, build, start, destroy, delete, undefine
# ---------------------------------------------------------------------------

def _pool_by(ctl, word: str, by_uuid: bool):
    """virsh's virshCommandOptPoolBy with one kind of lookup: pool-name looks up by UUID
    only (a word that is no UUID is not looked up at all), pool-uuid by name only."""
    if by_uuid and len(word) != 36:
        raise CommandError("failed to get pool '%s'" % word)
    with reporting("failed to get pool '%s'" % word):
        if by_uuid:
            return ctl.conn.lookup_storage_pool_by_uuid(word)
        return ctl.conn.lookup_storage_pool_by_name(word)


_POOL_XML_OPTIONS = (
    ("source-host", "source-host for underlying storage"),
    ("source-path", "source path for underlying storage"),
    ("source-dev", "source device for underlying storage"),
    ("source-name", "source name for underlying storage"),
    ("target", "target for underlying storage"),
    ("source-format", "format for underlying storage"),
    ("auth-type", "auth type to be used for underlying storage"),
    ("auth-username", "auth username to be used for underlying storage"),
    ("secret-usage", "auth secret usage to be used for underlying storage"),
    ("secret-uuid", "auth secret UUID to be used for underlying storage"),
    ("adapter-name", "adapter name to be used for underlying storage"),
    ("adapter-wwnn", "adapter wwnn to be used for underlying storage"),
    ("adapter-wwpn", "adapter wwpn to be used for underlying storage"),
    ("adapter-parent", "adapter parent scsi_hostN to be used for underlying vHBA storage"),
    ("adapter-parent-wwnn", "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage"),
    ("adapter-parent-wwpn", "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage"),
    ("adapter-parent-fabric-wwn", "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage"),
    ("source-protocol-ver", "nfsvers value for NFS pool mount option"),
    ("source-initiator", "initiator iqn for underlying storage"),
)

_BUILD_FLAGS = (
    ("build", "build the pool as normal"),
    ("no-overwrite", "do not overwrite any existing data"),
    ("overwrite", "overwrite any existing data"),
)


def _pool_xml_options(func):
    """pool-define-as and pool-create-as: name, type, --print-xml and the source options."""
    for opt_name, help_text in reversed(_POOL_XML_OPTIONS):
        func = string(opt_name, help_text)(func)
    func = flag("print-xml", "print XML document, but don't define/create")(func)
    func = data("type", "type of the pool")(func)
    return data("name", "name of the pool")(func)


def _build_pool_xml(name: str, pool_type: str, o: dict) -> str:
    """virsh's virshBuildPoolXML, word for word (it escapes nothing)."""
    wwn = o["adapter_wwnn"] and o["adapter_wwpn"]
    auth = o["auth_type"] and o["auth_username"] and (o["secret_usage"] or o["secret_uuid"])
    out = "<pool type='%s'>\n  <name>%s</name>\n" % (pool_type, name)
    if any(o[k] for k in ("source_host", "source_path", "source_dev", "source_format", "source_name",
                          "adapter_name", "source_protocol_ver", "source_initiator")) or wwn or auth:
        out += "  <source>\n"
        if o["source_host"]:
            out += "    <host name='%s'/>\n" % o["source_host"]
        if o["source_path"]:
            out += "    <dir path='%s'/>\n" % o["source_path"]
        if o["source_dev"]:
            out += "    <device path='%s'/>\n" % o["source_dev"]
        if o["source_initiator"]:
            out += "    <initiator>\n      <iqn name='%s'/>\n    </initiator>\n" % o["source_initiator"]
        if wwn:
            out += "    <adapter type='fc_host'"
            if o["adapter_parent"]:
                out += " parent='%s'" % o["adapter_parent"]
            elif o["adapter_parent_wwnn"] and o["adapter_parent_wwpn"]:
                out += " parent_wwnn='%s' parent_wwpn='%s'" % (o["adapter_parent_wwnn"],
                                                              o["adapter_parent_wwpn"])
            elif o["adapter_parent_fabric_wwn"]:
                out += " parent_fabric_wwn='%s'" % o["adapter_parent_fabric_wwn"]
            out += " wwnn='%s' wwpn='%s'/>\n" % (o["adapter_wwnn"], o["adapter_wwpn"])
        elif o["adapter_name"]:
            out += "    <adapter type='scsi_host' name='%s'/>\n" % o["adapter_name"]
        if auth:
            out += "    <auth type='%s' username='%s'>\n" % (o["auth_type"], o["auth_username"])
            if o["secret_usage"]:
                out += "      <secret usage='%s'/>\n" % o["secret_usage"]
            else:
                out += "      <secret uuid='%s'/>\n" % o["secret_uuid"]
            out += "    </auth>\n"
        if o["source_format"]:
            out += "    <format type='%s'/>\n" % o["source_format"]
        if o["source_name"]:
            out += "    <name>%s</name>\n" % o["source_name"]
        if o["source_protocol_ver"]:
            out += "    <protocol ver='%s'/>\n" % o["source_protocol_ver"]
        out += "  </source>\n"
    if o["target"]:
        out += "  <target>\n    <path>%s</path>\n  </target>\n" % o["target"]
    return out + "</pool>\n"


def _create_flags(build: bool, no_overwrite: bool, overwrite: bool) -> int:
    from ..drivers.api import StoragePoolCreateFlags as F

    exclusive("overwrite", overwrite, "no-overwrite", no_overwrite)
    return flag_bits((build, F.BUILD), (overwrite, F.BUILD_OVERWRITE), (no_overwrite, F.BUILD_NO_OVERWRITE))


@command("pool-define-as", "Define a pool.")
@_pool_xml_options
def pool_define_as(ctl, name, type, print_xml, **options):
    xml = _build_pool_xml(name, type, options)
    if print_xml:
        ctl.print(xml)
        return True
    with reporting("Failed to define pool %s" % name):
        pool = ctl.conn.storage_pool_define_xml(xml, 0)
    ctl.print_extra("Pool %s defined\n" % pool.name)
    return True


@command("pool-create-as", "Create a pool.")
@_pool_xml_options
@flag_table(_BUILD_FLAGS)
def pool_create_as(ctl, name, type, print_xml, build, no_overwrite, overwrite, **options):
    flags = _create_flags(build, no_overwrite, overwrite)
    xml = _build_pool_xml(name, type, options)
    if print_xml:
        ctl.print(xml)
        return True
    with reporting("Failed to create pool %s" % name):
        pool = ctl.conn.storage_pool_create_xml(xml, flags)
    ctl.print_extra("Pool %s created\n" % pool.name)
    return True


@command("pool-define", "Define or modify a persistent storage pool.")
@data("file", "file containing an XML pool description", completer="files")
@flag("validate", "validate the XML against the schema")
def pool_define(ctl, file, validate):
    from .common import read_xml_file

    xml = read_xml_file(file)
    with reporting("Failed to define pool from %s" % file):
        pool = ctl.conn.storage_pool_define_xml(xml, 1 if validate else 0)
    ctl.print_extra("Pool %s defined from %s\n" % (pool.name, file))
    return True


@command("pool-create", "Create a pool.")
@data("file", "file containing an XML pool description", completer="files")
@flag_table(_BUILD_FLAGS)
def pool_create(ctl, file, build, no_overwrite, overwrite):
    from .common import read_xml_file

    flags = _create_flags(build, no_overwrite, overwrite)
    xml = read_xml_file(file)
    with reporting("Failed to create pool from %s" % file):
        pool = ctl.conn.storage_pool_create_xml(xml, flags)
    ctl.print_extra("Pool %s created from %s\n" % (pool.name, file))
    return True


@command("pool-build", "Build a given pool.")
@data("pool", "pool name or uuid", completer="pools")
@flag_table(_BUILD_FLAGS[1:])
def pool_build(ctl, pool, no_overwrite, overwrite):
    from ..drivers.api import StoragePoolBuildFlags as F

    p = lookup_pool(ctl, pool)
    flags = flag_bits((overwrite, F.OVERWRITE), (no_overwrite, F.NO_OVERWRITE))
    with reporting("Failed to build pool %s" % pool):
        p.build(flags)
    ctl.print_extra("Pool %s built\n" % pool)
    return True


@command("pool-start", "Start a pool.")
@data("pool", "pool name or uuid", completer="pools")
@flag_table(_BUILD_FLAGS)
def pool_start(ctl, pool, build, no_overwrite, overwrite):
    p = lookup_pool(ctl, pool)
    flags = _create_flags(build, no_overwrite, overwrite)
    with reporting("Failed to start pool %s" % pool):
        p.create(flags)
    ctl.print_extra("Pool %s started\n" % pool)
    return True


def _pool_action(ctl, word: str, verb: str, call, done: str) -> bool:
    p = lookup_pool(ctl, word)
    with reporting("Failed to %s pool %s" % (verb, word)):
        call(p)
    ctl.print_extra(done % word)
    return True


@command("pool-destroy", "Forcefully stop a given pool. Raw data in the pool is untouched")
@data("pool", "pool name or uuid", completer="pools")
def pool_destroy(ctl, pool):
    return _pool_action(ctl, pool, "destroy", lambda p: p.destroy(), "Pool %s destroyed\n")


@command("pool-delete", "Delete a given pool.")
@data("pool", "pool name or uuid", completer="pools")
def pool_delete(ctl, pool):
    return _pool_action(ctl, pool, "delete", lambda p: p.delete(0), "Pool %s deleted\n")


@command("pool-undefine", "Undefine the configuration for an inactive pool.")
@data("pool", "pool name or uuid", completer="pools")
def pool_undefine(ctl, pool):
    return _pool_action(ctl, pool, "undefine", lambda p: p.undefine(), "Pool %s has been undefined\n")


@command("pool-refresh", "Refresh a given pool.")
@data("pool", "pool name or uuid", completer="pools")
def pool_refresh(ctl, pool):
    return _pool_action(ctl, pool, "refresh", lambda p: p.refresh(0), "Pool %s refreshed\n")


@command("pool-autostart", "Configure a pool to be automatically started at boot.")
@data("pool", "pool name or uuid", completer="pools")
@flag("disable", "disable autostarting")
def pool_autostart(ctl, pool, disable):
    p = lookup_pool(ctl, pool)
    verb = "unmark" if disable else "mark"
    with reporting("failed to %s pool %s as autostarted" % (verb, pool)):
        p.set_autostart(not disable)
    ctl.print_extra("Pool %s %sed as autostarted\n" % (pool, verb))
    return True


@command("pool-dumpxml", "Output the pool information as an XML dump to stdout.")
@data("pool", "pool name or uuid", completer="pools")
@flag("inactive", "show inactive defined XML")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def pool_dumpxml(ctl, pool, inactive, xpath, wrap):
    from ..drivers.api import StorageXMLFlags
    from .common import print_xml

    p = lookup_pool(ctl, pool)
    text = p.get_xml_desc(StorageXMLFlags.INACTIVE if inactive else 0)     # virsh adds no line of its own
    print_xml(ctl, text, xpath, wrap)
    return True


@command("pool-name")
@data("pool", "pool name or uuid", completer="pools")
def pool_name(ctl, pool):
    ctl.print("%s\n" % _pool_by(ctl, pool, by_uuid=True).name)
    return True


@command("pool-uuid")
@data("pool", "pool name or uuid", completer="pools")
def pool_uuid(ctl, pool):
    ctl.print("%s\n" % _pool_by(ctl, pool, by_uuid=False).uuid)
    return True


# ---------------------------------------------------------------------------
# Volumes: create from XML, copy, delete, wipe, resize, names (upload, download: volstream.py)
# ---------------------------------------------------------------------------

@command("vol-create", "Create a vol.")
@data("pool", "pool name", completer="pools")
@data("file", "file containing an XML vol description", completer="files")
@flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)")
@flag("validate", "validate the XML against the schema")
def vol_create(ctl, pool, file, prealloc_metadata, validate):
    from ..drivers.api import VolCreateFlags as F
    from .common import read_xml_file

    p = lookup_pool(ctl, pool)
    xml = read_xml_file(file)
    with reporting("Failed to create vol from %s" % file):
        vol = p.create_vol_xml(xml, flag_bits((prealloc_metadata, F.PREALLOC_METADATA), (validate, F.VALIDATE)))
    ctl.print_extra("Vol %s created from %s\n" % (vol.name, file))
    return True


@command("vol-create-from", "Create a vol from an existing volume.")
@data("pool", "pool name or uuid", completer="pools")
@data("file", "file containing an XML vol description", completer="files")
@_vol_option()
@string("inputpool", "pool name or uuid of the input volume's pool", completer="pools")
@flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)")
@flag("reflink", "use btrfs COW lightweight copy")
@flag("validate", "validate the XML against the schema")
def vol_create_from(ctl, pool, file, vol, inputpool, prealloc_metadata, reflink, validate):
    from ..drivers.api import VolCreateFlags as F
    from .common import read_xml_file

    p = lookup_pool(ctl, pool)
    source = lookup_volume(ctl, vol, inputpool, pool_option="inputpool")
    xml = read_xml_file(file)
    flags = flag_bits((prealloc_metadata, F.PREALLOC_METADATA), (reflink, F.REFLINK), (validate, F.VALIDATE))
    with reporting("Failed to create vol from %s" % file):
        new = p.create_vol_xml_from(xml, source, flags)
    ctl.print_extra("Vol %s created from input vol %s\n" % (new.name, source.name))
    return True


@command("vol-clone", "Clone an existing volume within the parent pool.")
@_vol_option()
@data("newname", "clone name")
@_pool_opt()
@flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)")
@flag("reflink", "use btrfs COW lightweight copy")
@flag("print-xml", "print XML document rather than clone the volume")
def vol_clone(ctl, vol, newname, pool, prealloc_metadata, reflink, print_xml):
    from ..drivers.api import DriverError, VolCreateFlags as F

    source = lookup_volume(ctl, vol, pool)
    try:
        parent = source.lookup_pool()
    except DriverError:
        raise CommandError("failed to get parent pool") from None
    with reporting("Failed to get XML description of vol %s" % vol):
        xml = _renamed_volume_xml(source.get_xml_desc(0), newname)
    if print_xml:
        ctl.print(xml)
        return True
    flags = flag_bits((prealloc_metadata, F.PREALLOC_METADATA), (reflink, F.REFLINK))
    with reporting("Failed to clone vol from %s" % source.name):
        parent.create_vol_xml_from(xml, source, flags)
    ctl.print_extra("Vol %s cloned from %s\n" % (newname, source.name))
    return True


def _renamed_volume_xml(xml: str, newname: str) -> str:
    """virsh's vol-clone: the volume's XML with the new name, as libxml2 writes it back."""
    from lxml import etree

    doc = etree.fromstring(xml.encode())
    doc.find("name").text = newname
    return etree.tostring(doc, encoding="unicode")


@command("vol-delete", "Delete a given vol.")
@_vol_option()
@_pool_opt()
@flag("delete-snapshots", "delete snapshots associated with volume (must be supported by storage driver)")
@flag("force", "also when another volume is backed by it (pyvirsh; never for a running domain's image)")
def vol_delete(ctl, vol, pool, delete_snapshots, force):
    from ..drivers.api import VolDeleteFlags as F

    v = lookup_volume(ctl, vol, pool)
    with reporting("Failed to delete vol %s" % vol):
        v.delete(flag_bits((delete_snapshots, F.WITH_SNAPSHOTS), (force, F.FORCE)))
    ctl.print_extra("Vol %s deleted\n" % vol)
    return True


@command("vol-wipe", "Ensure data previously on a volume is not accessible to future reads")
@_vol_option()
@_pool_opt()
@string("algorithm", "perform selected wiping algorithm")
@flag("force", "also when another volume is backed by it (pyvirsh; never for a running domain's image)")
def vol_wipe(ctl, vol, pool, algorithm, force):
    from ..drivers.api import VOL_FORCE, VOL_WIPE_ALGORITHMS

    v = lookup_volume(ctl, vol, pool)
    if algorithm is not None and algorithm not in VOL_WIPE_ALGORITHMS:
        raise CommandError("Unsupported algorithm '%s'" % algorithm)
    with reporting("Failed to wipe vol %s" % vol):
        flags = VOL_FORCE if force else 0
        if algorithm is None:
            v.wipe(flags)               # virsh calls virStorageVolWipe without --algorithm
        else:
            v.wipe_pattern(VOL_WIPE_ALGORITHMS.index(algorithm), flags)
    ctl.print_extra("Vol %s wiped\n" % vol)
    return True


@command("vol-resize", "Resizes a storage volume. This is safe only for storage volumes not in use by an "
         "active guest.\nSee blockresize for live resizing.")
@_vol_option()
@data("capacity", "new capacity for the vol, as scaled integer (default bytes)")
@_pool_opt()
@flag("allocate", "allocate the new capacity, rather than leaving it sparse")
@flag("delta", "use capacity as a delta to current size, rather than the new size")
@flag("shrink", "allow the resize to shrink the volume")
@flag("force", "also when another volume is backed by it (pyvirsh; never for a running domain's image)")
def vol_resize(ctl, vol, capacity, pool, allocate, delta, shrink, force):
    from ..drivers.api import VolResizeFlags as F

    flags = flag_bits((allocate, F.ALLOCATE), (delta, F.DELTA), (shrink, F.SHRINK), (force, F.FORCE))
    v = lookup_volume(ctl, vol, pool)
    text = capacity.lstrip(" \t\n\v\f\r")
    if text.startswith("-"):
        if not shrink:
            raise CommandError("negative size requires --shrink")
        text = text[1:]
    size = _malformed(text)
    how = "by" if delta else "to"
    with reporting("Failed to change size of volume '%s' %s %s" % (v.name, how, text)):
        v.resize(size, flags)
    ctl.print_extra("Size of volume '%s' successfully changed %s %s\n" % (v.name, how, text))
    return True


@command("vol-dumpxml", "Output the vol information as an XML dump to stdout.")
@_vol_option()
@_pool_opt()
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def vol_dumpxml(ctl, vol, pool, xpath, wrap):
    from ..drivers.api import DriverError
    from .common import print_xml

    v = lookup_volume(ctl, vol, pool)
    try:
        text = v.get_xml_desc(0)
    except DriverError as err:
        raise CommandError(str(err)) from None
    print_xml(ctl, text, xpath, wrap)
    return True


def _one_value(ctl, call) -> bool:
    from ..drivers.api import DriverError

    try:
        ctl.print("%s\n" % call())
    except DriverError as err:
        raise CommandError(str(err)) from None
    return True


@command("vol-path")
@data("vol", "volume name or key")
@_pool_opt()
def vol_path(ctl, vol, pool):
    v = lookup_volume(ctl, vol, pool)
    return _one_value(ctl, v.get_path)


@command("vol-name")
@data("vol", "volume key or path")
def vol_name(ctl, vol):
    v = lookup_volume(ctl, vol, None, pool_option=None)
    return _one_value(ctl, lambda: v.name)


@command("vol-key")
@data("vol", "volume name or path")
@_pool_opt()
def vol_key(ctl, vol, pool):
    v = lookup_volume(ctl, vol, pool)
    return _one_value(ctl, lambda: v.key)


@command("vol-pool")
@data("vol", "volume key or path")
@flag("uuid", "return the pool uuid rather than pool name")
def vol_pool(ctl, vol, uuid):
    from ..drivers.api import DriverError

    v = lookup_volume(ctl, vol, None, pool_option=None)
    try:
        p = v.lookup_pool()
    except DriverError:
        raise CommandError("failed to get parent pool") from None
    ctl.print("%s\n" % (p.uuid if uuid else p.name))
    return True


@command("pool-edit", "Edit the XML configuration for a storage pool.")
@data("pool", "pool name or uuid", completer="pools")
def pool_edit(ctl, pool):
    from ..drivers.api import StorageXMLFlags
    from .editing import edit_document

    from ..drivers.api import DriverError, ErrorCode

    p = lookup_pool(ctl, pool)
    try:
        original = p.get_xml_desc(StorageXMLFlags.INACTIVE)
    except DriverError as err:
        # virsh asks for the inactive definition and, from a driver that has no such flag,
        # for the running one.
        if err.code is not ErrorCode.UNSUPPORTED_FLAGS:
            raise
        original = p.get_xml_desc(0)

    def apply(new_text):
        return ctl.conn.storage_pool_define_xml(new_text, 0)

    result = edit_document(ctl, original, apply)
    if result is None:
        ctl.print_extra("Pool %s XML configuration not changed.\n" % p.name)
    else:
        ctl.print_extra("Pool %s XML configuration edited.\n" % result.name)
    return True


@command("pool-capabilities", "Returns capabilities of storage pool support.")
def pool_capabilities(ctl):
    with reporting("failed to get storage pool capabilities"):
        text = ctl.conn.get_storage_pool_capabilities(0)
    ctl.print("%s\n" % text)
    return True


def _find_sources(ctl, pool_type: str, spec: str | None) -> bool:
    with reporting("Failed to find any %s pool sources" % pool_type):
        text = ctl.conn.find_storage_pool_sources(pool_type, spec, 0)
    ctl.print("%s\n" % text)
    return True


@command("find-storage-pool-sources", "Returns XML <sources> document.")
@data("type", "type of storage pool sources to discover")
@string("srcSpec", "optional file of source xml to query for pools")
def find_storage_pool_sources(ctl, type, srcSpec):
    from .common import read_xml_file

    return _find_sources(ctl, type, read_xml_file(srcSpec) if srcSpec is not None else None)


@command("find-storage-pool-sources-as", "Returns XML <sources> document.")
@data("type", "type of storage pool sources to find")
@string("host", "optional host to query")
@string("port", "optional port to query")
@string("initiator", "optional initiator IQN to use for query")
def find_storage_pool_sources_as(ctl, type, host, port, initiator):
    from ..drivers.xmlescape import escape

    spec = None
    if host is not None:            # virsh describes the source only when a host is given
        spec = "<source>\n  <host name='%s'" % escape(host)
        if port is not None:
            spec += " port='%s'" % escape(port)
        spec += "/>\n"
        if initiator is not None:
            spec += "  <initiator>\n    <iqn name='%s'/>\n  </initiator>\n" % escape(initiator)
        spec += "</source>\n"
    return _find_sources(ctl, type, spec)
