"""What QemuDomain's mixins (BlockJobs, Snapshots) build on, declared in one place.

driver.QemuDomain defines all of it; the declarations here let blockjobs.py and
snapshots.py be type-checked on their own without importing driver.py (which
imports them: a cycle). Nothing here runs but the attributes' plain defaults.
"""

from __future__ import annotations

from ..api import Domain

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from ..domxml import Disk, DomainDef
    from ..fsutil import FileLock
    from .paths import DriverPaths
    from .qmp import QMP
    from .status import Status, StatusHead

    class QemuConnectionParts(Protocol):
        """What a domain uses of connection.QemuConnection."""

        paths: DriverPaths
        passive: bool

        def domain_lock(self, name: str) -> FileLock: ...
        def driver_lock(self) -> FileLock: ...
        def sweep_dead_writers_temps(self) -> None: ...
        def load_status_head(self, name: str) -> StatusHead | None: ...
        def next_domain_id(self) -> int: ...
        def load_config(self, name: str) -> DomainDef | None: ...
        def load_status(self, name: str) -> Status | None: ...
        def parse_definition(self, xml: str) -> DomainDef: ...
        def set_shutoff_reason(self, name: str, reason: int) -> None: ...


class _Held:
    """The domain lock taken, the domain's files reloaded under it (refresh), and for
    LockedActive the domain required to run; the lock goes when the block ends."""

    def __init__(self, dom: QemuDomainBase, strict: bool | None):
        self.dom = dom
        self.strict = strict
        self.lock = dom.conn.domain_lock(dom.name)

    def _take(self) -> None:
        self.lock.acquire()
        try:
            self.dom.refresh(locked=True, strict=self.strict)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


class Locked(_Held):
    def __enter__(self) -> None:
        self._take()


class LockedActive(_Held):
    def __enter__(self) -> Status:
        self._take()
        try:
            return self.dom._require_active()
        except BaseException:
            self.lock.release()
            raise


class QemuDomainBase(Domain):
    conn: QemuConnectionParts
    config: DomainDef | None = None          # the persistent definition, if any
    status: Status | None = None             # the running domain's status, if it runs

    def locked(self, strict: bool | None = None) -> Locked:
        """`with dom.locked():` act on the domain as it is on disk, with nobody else acting.
        strict: see refresh (False lets a broken job not block the action)."""
        return Locked(self, strict)

    def locked_active(self, strict: bool | None = None) -> LockedActive:
        """`with dom.locked_active() as status:` the same, for a domain that must be running."""
        return LockedActive(self, strict)

    if TYPE_CHECKING:
        # Defined by driver.QemuDomain.
        @property
        def paths(self) -> DriverPaths: ...
        def refresh(self, locked: bool = False, must_exist: bool = True, strict: bool | None = None) -> None: ...
        def save_status(self) -> None: ...
        def qmp(self) -> QMP: ...
        def get_definition(self, inactive: bool = False) -> DomainDef: ...
        def point_config_disk(self, target: str, path: str, fmt: str, disk_type: str = "file") -> None: ...
        def _require_active(self) -> Status: ...
        def _stop_qemu(self, status: Status, graceful: bool = False) -> None: ...
        def _cleanup(self, reason: int) -> None: ...
        def quiesce(self) -> None: ...
        def thaw_recorded_freeze(self, quiet: bool = False) -> None: ...
        # Defined by snapshots.Snapshots, used by block jobs that merge a snapshot's images.
        def follow_merge(self, target: str, merged: list[tuple[str, str]], into: tuple[str, str],
                         deleted_snapshot: str | None = None) -> list[str]: ...
        def settle_intent(self, q: QMP) -> None: ...
        # Defined by hotplug.Hotplug.
        def settle_detaches(self, q: QMP) -> None: ...
        # Defined by blockjobs.BlockJobs.
        def _disk(self, path: str) -> Disk: ...
