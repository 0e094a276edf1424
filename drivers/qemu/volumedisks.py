"""<disk type='volume'><source pool='P' volume='V'/> at domain start.

The disk is resolved to the volume's file in the live definition (type='file',
as libvirt's dir pools translate it), so that the chain probe, the chain cache
and every block job see an ordinary file disk; the persistent definition keeps
naming the pool and the volume. The pool must be running - or marked
autostart, in which case it is started here: without a daemon that is what
autostart means (see pools.py).
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode


def resolve_volume_disks(conn, live) -> None:
    """Point each volume disk of the live definition at its volume's file."""
    for disk in live.disks():
        if disk.type != "volume":
            continue
        src = disk.source_element
        if src is None:
            continue
        pool_name, vol_name = src.get("pool"), src.get("volume")
        if not pool_name or not vol_name:
            raise DriverError(ErrorCode.XML_ERROR, "missing pool or volume for volume disk '%s'" % disk.target)
        mode = src.get("mode", "host")
        if mode != "host":
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "disk source mode '%s' of disk '%s' is not supported "
                              "(only 'host')" % (mode, disk.target))
        pool = conn.lookup_storage_pool_by_name(pool_name)
        if not pool.is_active():
            if not pool.get_autostart():
                raise DriverError(ErrorCode.OPERATION_INVALID, "storage pool '%s' containing volume '%s' "
                                  "referenced by disk '%s' is not active" % (pool_name, vol_name, disk.target))
            try:
                pool.create(0)
            except DriverError as err:
                if not pool.is_active():        # another process may have started it meanwhile
                    raise err from None
        path = pool.lookup_vol_by_name(vol_name).get_path()
        for attr in ("pool", "volume", "mode"):
            src.attrib.pop(attr, None)
        src.set("file", path)
        disk.el.set("type", "file")
