"""The `fs` pool backend: a file system on a block device or an image file, mounted on
the pool's target while the pool runs (libvirt's fs backend). Root only: it mounts.

Volumes are the files of the mounted directory, as in a dir pool (voldir.py).
The commands are libvirt's: mount -o nodev,nosuid,noexec -t FORMAT DEVICE TARGET,
umount TARGET, mkfs -t FORMAT DEVICE; their failures are reported as libvirt
reports a child process's.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode, StoragePoolBuildFlags
from . import pooldir
from .pooldef import PoolDef


def _run(argv: list[str]) -> None:
    import subprocess       # here: every QEMU command imports this module, few run mkfs or mount
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
                              check=False)
    except FileNotFoundError:
        raise DriverError(ErrorCode.OPERATION_FAILED, "cannot run %s: install util-linux and e2fsprogs"
                          % argv[0]) from None
    if proc.returncode != 0:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Child process (%s) unexpected exit status %d: %s"
                          % (" ".join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()))


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise DriverError(ErrorCode.OPERATION_DENIED, "%s an fs pool needs root (it mounts a file system)" % what)


def device(pool: PoolDef) -> str:
    return pool.devices[0]


def fs_format(pool: PoolDef) -> str:
    return pool.source_format or "auto"


def is_mounted(pool: PoolDef) -> bool:
    """Whether the pool's target is a mount point now (libvirt's virStorageBackendFileSystemIsMounted)."""
    target = os.path.realpath(pool.target_dir)
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 1 and fields[1].replace("\\040", " ") == target:
                    return True
    except OSError:
        pass
    return False


def probed_fs(path: str) -> str | None:
    """The file system type on a device or image, None when blkid finds none."""
    import subprocess
    proc = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", path], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    value = proc.stdout.strip()
    return value or None


def build(pool: PoolDef, flags: int) -> None:
    """The target directory; with --overwrite or --no-overwrite also the file system."""
    F = StoragePoolBuildFlags
    if flags & F.OVERWRITE and flags & F.NO_OVERWRITE:
        pooldir.check_build_flags(pool, flags)          # libvirt's words for both flags
    pooldir.build(pool, 0)
    if not flags & (F.OVERWRITE | F.NO_OVERWRITE):
        return
    _require_root("building")
    dev = device(pool)
    if flags & F.NO_OVERWRITE:
        found = probed_fs(dev)
        if found is not None:
            raise DriverError(ErrorCode.STORAGE_POOL_BUILT, "Device '%s' already formatted using '%s'"
                              % (dev, found))
    fmt = fs_format(pool)
    argv = ["mkfs", "-t", fmt]
    if fmt.startswith("ext"):
        argv.append("-F")           # an image file, or a device with an old file system: no question asked
    _run(argv + [dev])


def start(pool: PoolDef) -> None:
    """Mount the file system on the target, unless it is mounted there already."""
    _require_root("starting")
    if is_mounted(pool):
        return
    _run(["mount", "-o", "nodev,nosuid,noexec", "-t", fs_format(pool), device(pool), pool.target_dir])


def stop(pool: PoolDef) -> None:
    if is_mounted(pool):
        _run(["umount", pool.target_dir])
