"""The choice of a graphics port (autoport) made once per port across processes.

libvirt's daemon hands each port out once. pyvirsh has no daemon: two processes starting
domains side by side (a script starting several at once, two connections, two test workers)
would each find 5900 free before either QEMU had bound it, and the second QEMU would fail
with "Address already in use". So the port is chosen under a lock of the user's, held until
the QEMU given it greets on its monitor: QEMU binds its VNC or SPICE port while it sets up
the machine, before its monitor answers. A killed holder's lock goes with it (flock).
"""

from __future__ import annotations

import os
import stat

from ..fsutil import FileLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

CLAIM_TIMEOUT = 60.0        # another start holds the lock for one QEMU start-up at most


def _lock_path() -> str | None:
    """/run for root; else the user's runtime directory, or a file of the user's own in /tmp
    (None when that name is someone else's: the claim is then skipped, never trusted)."""
    uid = os.geteuid()
    if uid == 0:
        return "/run/pyvirsh-graphics-ports.lock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "pyvirsh-graphics-ports.lock")
    path = "/tmp/pyvirsh-graphics-ports-%d.lock" % uid
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    return path if stat.S_ISREG(st.st_mode) and st.st_uid == uid else None


class PortClaim:
    """Held from the port's choice until QEMU has bound it; release() may be called early
    and again."""

    def __init__(self, lock: FileLock | None):
        self.lock = lock

    def __enter__(self) -> Self:
        if self.lock is not None:
            self.lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def claim_for(root) -> PortClaim:
    """A claim for a domain whose graphics pick their port (autoport='yes'); an empty one
    for the others."""
    if not any(g.get("autoport") == "yes" for g in root.iterfind("devices/graphics")):
        return PortClaim(None)
    path = _lock_path()
    return PortClaim(FileLock(path, CLAIM_TIMEOUT, "graphics ports") if path is not None else None)
