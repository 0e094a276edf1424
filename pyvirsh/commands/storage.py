"""Storage Pool and Storage Volume basics: pool-list, pool-info, vol-create-as,
vol-list, vol-info (the test driver's in-memory pools)."""

from __future__ import annotations

from ..declare import command, data, flag, string
from ..errors import CommandError
from ..output import format_kv, format_table, pretty_size
from .. import values
from .common import reporting

POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
              "sheepdog", "gluster", "zfs", "vstorage")

VOL_CREATE_PREALLOC_METADATA = 1 << 0     # VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA


def _size(value: int) -> str:
    return "%.2f %s" % pretty_size(value)


def lookup_pool(ctl, name: str):
    with reporting("failed to get pool '%s'" % name):
        return ctl.conn.lookup_storage_pool(name)


def lookup_volume(ctl, name: str, pool_name):
    pool = lookup_pool(ctl, pool_name) if pool_name else None
    hint = "" if pool_name else ", specifying --pool might help"
    with reporting("failed to get vol '%s'%s" % (name, hint)):
        return ctl.conn.lookup_storage_volume(name, pool)


@command("pool-info", "Returns basic information about the storage pool.")
@data("pool", "pool name or uuid")
@flag("bytes", "Return pool info in bytes")
def pool_info(ctl, pool, bytes):
    p = lookup_pool(ctl, pool)
    fmt = (lambda v: "%d" % v) if bytes else _size
    ctl.print(format_kv([
        ("Name:", p["name"]), ("UUID:", p["uuid"]),
        ("State:", "running" if p["active"] else "inactive"),
        ("Persistent:", "yes" if p["persistent"] else "no"),
        ("Autostart:", "yes" if p["autostart"] else "no"),
        ("Capacity:", fmt(p["capacity"])), ("Allocation:", fmt(p["allocation"])),
        ("Available:", fmt(p["available"])),
    ]))
    return True


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
    types = None
    if type is not None:
        types = type.split(",")
        for t in types:
            if t not in POOL_TYPES:
                raise CommandError("Invalid pool type '%s'" % t)
    want_active, want_inactive = (True, True) if all else (inactive is False, inactive)
    pools = []
    for p in ctl.conn.list_all_storage_pools():
        if not ((p["active"] and want_active) or (not p["active"] and want_inactive)):
            continue
        if persistent != transient and p["persistent"] != persistent:
            continue
        if autostart != no_autostart and p["autostart"] != autostart:
            continue
        if types is not None and p["type"] not in types:
            continue
        pools.append(p)
    pools.sort(key=lambda p: p["name"].lower())
    if uuid or name:
        lines = []
        for p in pools:
            fields = ([p["uuid"]] if uuid else []) + (["%-20s" % p["name"]] if name else [])
            lines.append(" ".join(fields) + "\n")
        ctl.print("".join(lines))
        return True
    if details:
        rows = [[p["name"], "running" if p["active"] else "inactive", "yes" if p["autostart"] else "no",
                 "yes" if p["persistent"] else "no", _size(p["capacity"]), _size(p["allocation"]),
                 _size(p["available"])] for p in pools]
        header = ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"]
    else:
        rows = [[p["name"], "active" if p["active"] else "inactive", "yes" if p["autostart"] else "no"]
                for p in pools]
        header = ["Name", "State", "Autostart"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


def _malformed(text):
    try:
        return values.scaled("capacity", text, 1)
    except CommandError:
        raise CommandError("Malformed size %s" % text) from None


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
    from ..drivers.xmlescape import escape

    p = lookup_pool(ctl, pool)
    cap = _malformed(capacity)
    alloc = _malformed(allocation) if allocation is not None else None
    xml = "<volume>\n  <name>%s</name>\n  <capacity>%d</capacity>\n" % (escape(name), cap)
    if alloc is not None:
        xml += "  <allocation>%d</allocation>\n" % alloc
    if format:
        xml += "  <target>\n    <format type='%s'/>\n  </target>\n" % escape(format)
    backing = None
    if backing_vol:
        backing = (lookup_volume(ctl, backing_vol, pool)["path"], backing_vol_format)
        xml += "  <backingStore>\n    <path>%s</path>\n" % escape(backing[0])
        if backing_vol_format:
            xml += "    <format type='%s'/>\n" % escape(backing_vol_format)
        xml += "  </backingStore>\n"
    xml += "</volume>\n"
    if print_xml:
        ctl.print(xml)
        return True
    flags = VOL_CREATE_PREALLOC_METADATA if prealloc_metadata else 0
    with reporting("Failed to create vol %s" % name):
        ctl.conn.create_storage_volume(p, name, cap, alloc, format, backing, flags)
    ctl.print_extra("Vol %s created\n" % name)
    return True


@command("vol-list", "Returns list of vols by pool.")
@data("pool", "pool name or uuid")
@flag("details", "display extended details for volumes")
def vol_list(ctl, pool, details):
    p = lookup_pool(ctl, pool)
    vols = sorted(p["volumes"], key=lambda v: v["name"].lower())
    if details:
        rows = [[v["name"], v["path"], v["type"], _size(v["capacity"]), _size(v["allocation"])] for v in vols]
        header = ["Name", "Path", "Type", "Capacity", "Allocation"]
    else:
        rows = [[v["name"], v["path"]] for v in vols]
        header = ["Name", "Path"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


@command("vol-info", "Returns basic information about the storage vol.")
@data("vol", "vol name, key or path")
@string("pool", "pool name or uuid")
@flag("bytes", "sizes are represented in bytes rather than pretty units")
@flag("physical", "return the physical size of the volume in allocation field")
def vol_info(ctl, vol, pool, bytes, physical):
    v = lookup_volume(ctl, vol, pool)
    if physical:
        ctl.print(format_kv([("Name:", v["name"])]))
        raise CommandError("this function is not supported by the connection driver: "
                           "virStorageVolGetInfoFlags")
    fmt = (lambda n: "%d bytes" % n) if bytes else _size
    ctl.print(format_kv([("Name:", v["name"]), ("Type:", v["type"]), ("Capacity:", fmt(v["capacity"])),
                         ("Allocation:", fmt(v["allocation"]))]))
    return True
