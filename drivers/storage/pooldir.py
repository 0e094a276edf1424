"""The `dir` pool backend: a directory of image files (libvirt's fs backend, dir type).

Pool-level work only: build (mkdir), the check a start makes, delete (rmdir)
and the sizes a refresh measures. The volumes are in volumes.py.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode, StoragePoolBuildFlags, os_reason
from .pooldef import PoolDef, measured_perms

DEFAULT_DIR_MODE = 0o711    # libvirt's VIR_STORAGE_DEFAULT_POOL_PERM_MODE


def _system(what: str, err: OSError) -> DriverError:
    return DriverError(ErrorCode.SYSTEM_ERROR, "%s: %s" % (what, os_reason(err)))


def check_build_flags(pool: PoolDef, flags: int) -> None:
    F = StoragePoolBuildFlags
    if flags & F.OVERWRITE and flags & F.NO_OVERWRITE:
        raise DriverError(ErrorCode.RAW, "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and "
                          "'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive")
    if flags & (F.OVERWRITE | F.NO_OVERWRITE):
        # libvirt's words: a dir pool has no source device to format.
        raise DriverError(ErrorCode.OPERATION_INVALID, "No source device specified when formatting pool '%s'"
                          % pool.name)


def build(pool: PoolDef, flags: int) -> None:
    """Make the target directory (and its parents) with the definition's permissions,
    as libvirt's virStorageBackendFileSystemBuild; an existing directory is kept."""
    check_build_flags(pool, flags)
    path = pool.target_dir
    perms = pool.target_perms
    mode = perms.mode if perms.mode is not None else DEFAULT_DIR_MODE
    parent = os.path.dirname(path)
    try:
        if parent:
            os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise _system("cannot create path '%s'" % parent, err) from None
    try:
        os.mkdir(path, mode)
        os.chmod(path, mode)        # mkdir's mode passes through the umask
    except FileExistsError:
        if not os.path.isdir(path):
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot create path '%s': File exists" % path) from None
    except OSError as err:
        raise _system("cannot create path '%s'" % path, err) from None
    if perms.owner != -1 or perms.group != -1:
        try:
            os.chown(path, perms.owner, perms.group)
        except OSError as err:
            raise _system("cannot chown '%s' to (%d, %d)" % (path, perms.owner, perms.group), err) from None


def check_target(pool: PoolDef) -> None:
    """What a start or refresh needs: the target is an openable directory."""
    try:
        os.close(os.open(pool.target_dir, os.O_RDONLY | os.O_DIRECTORY))
    except OSError as err:
        raise _system("cannot open directory '%s'" % pool.target_dir, err) from None


def measure(pool: PoolDef) -> None:
    """A refresh's sizes and permissions, libvirt's way (available counts f_bfree)."""
    try:
        sb = os.statvfs(pool.target_dir)
        pool.target_perms = measured_perms(pool.target_dir)
    except OSError as err:
        raise _system("cannot statvfs path '%s'" % pool.target_dir, err) from None
    pool.capacity = sb.f_frsize * sb.f_blocks
    pool.available = sb.f_frsize * sb.f_bfree
    pool.allocation = pool.capacity - pool.available


def delete(pool: PoolDef) -> None:
    """Remove the (empty) target directory, as libvirt's pool-delete for dir pools."""
    try:
        os.rmdir(pool.target_dir)
    except OSError as err:
        raise _system("failed to remove pool '%s'" % pool.target_dir, err) from None
