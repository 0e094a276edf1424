"""Whether a new pool definition may join a connection's pools: libvirt's
virStoragePoolObjIsDuplicate (same name, other UUID; same UUID, other name) and
virStoragePoolObjSourceFindDuplicate (two pools on one target or device), one rule
for every driver."""

from __future__ import annotations

from ..api import DriverError, ErrorCode

# The type checker reads any name TYPE_CHECKING as true; Python skips the block: collections.abc
# would cost every pool and volume command its import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .pooldef import PoolDef


def check_new_pool(pool: PoolDef, existing: Sequence[tuple[PoolDef, bool]], *, creating: bool) -> int | None:
    """The index in *existing* ((current definition, active) pairs) of the pool the new
    definition replaces (same name and UUID), or None for a new pool; raises libvirt's error
    when it clashes with one. *creating*: a transient pool is being started from it."""
    replaced = None
    for index, (current, active) in enumerate(existing):
        if current.name == pool.name:
            if current.uuid != pool.uuid:
                raise DriverError(ErrorCode.OPERATION_FAILED, "pool '%s' already exists with uuid %s"
                                  % (current.name, current.uuid))
            if creating and active:
                raise DriverError(ErrorCode.OPERATION_INVALID, "pool is already active as '%s'" % current.name)
            replaced = index
        elif current.uuid == pool.uuid:
            raise DriverError(ErrorCode.OPERATION_FAILED, "pool '%s' is already defined with uuid %s"
                              % (current.name, current.uuid))
        elif current.type == pool.type and (
                (pool.target_path is not None and current.target_path == pool.target_path)
                or (pool.type == "fs" and current.devices == pool.devices)):
            raise DriverError(ErrorCode.OPERATION_FAILED, "Storage source conflict with pool: '%s'" % current.name)
    return replaced
