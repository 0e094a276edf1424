"""virConnectListAllStoragePools' filter flags, shared by every driver with pools."""

from __future__ import annotations

from ..api import POOL_TYPE_FLAGS, StoragePoolListFlags

ALL_POOL_TYPE_FLAGS = sum(POOL_TYPE_FLAGS.values())
# Every filter bit the call accepts (check_flags' allowed set).
ALL_POOL_LIST_FLAGS = ALL_POOL_TYPE_FLAGS | sum(v for k, v in vars(StoragePoolListFlags).items()
                                                if k.isupper())


def pool_matches(flags: int, active: bool, persistent: bool, autostart: bool, pool_type: str) -> bool:
    """libvirt's virStoragePoolObjMatch: of each pair of bits, one alone filters, none or both do not."""
    F = StoragePoolListFlags

    def pair(yes: int, no: int, value: bool) -> bool:
        if bool(flags & yes) == bool(flags & no):
            return True
        return value if flags & yes else not value

    types = flags & ALL_POOL_TYPE_FLAGS
    return (pair(F.ACTIVE, F.INACTIVE, active) and pair(F.PERSISTENT, F.TRANSIENT, persistent)
            and pair(F.AUTOSTART, F.NO_AUTOSTART, autostart)
            and (not types or bool(POOL_TYPE_FLAGS.get(pool_type, 0) & types)))
