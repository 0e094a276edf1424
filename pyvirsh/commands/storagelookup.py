"""How a storage command finds the pool and the volume it names, as virsh does, and the
options that name them: shared by the pool and volume commands (storage.py) and the
volume streams (volstream.py), which import this rather than each other."""

from __future__ import annotations

from ..declare import data, string
from ..errors import CommandError
from .common import reporting


def vol_option(help_text: str = "vol name, key or path"):
    return data("vol", help_text)


def pool_option():
    return string("pool", "pool name or uuid", completer="pools")


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


def lookup_volume(ctl, name: str, pool_name, pool_option: str | None = "pool"):
    """virsh's volume lookup: by name in the given pool, then by key, then by path
    (pool_option: the command's option naming the pool, which the failure suggests)."""
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
        hint = "" if pool is not None or not pool_option else ", specifying --%s might help" % pool_option
        raise CommandError("failed to get vol '%s'%s" % (name, hint), str(last))
    if pool is not None:
        try:
            holder = vol.lookup_pool()
        except DriverError:
            holder = None
        if holder is not None and holder.name != pool.name:
            raise CommandError("Requested volume '%s' is not in pool '%s'" % (name, pool.name))
    return vol
