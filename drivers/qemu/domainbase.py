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
    from .status import Status

    class QemuConnectionParts(Protocol):
        """What a domain uses of driver.QemuConnection."""

        paths: DriverPaths
        passive: bool

        def domain_lock(self, name: str) -> FileLock: ...
        def load_config(self, name: str) -> DomainDef | None: ...
        def load_status(self, name: str) -> Status | None: ...
        def parse_definition(self, xml: str) -> DomainDef: ...
        def set_shutoff_reason(self, name: str, reason: int) -> None: ...


class QemuDomainBase(Domain):
    conn: QemuConnectionParts
    config: DomainDef | None = None          # the persistent definition, if any
    status: Status | None = None             # the running domain's status, if it runs

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
        # Defined by snapshots.Snapshots, used by block jobs that merge a snapshot's images.
        def follow_merge(self, target: str, merged: list[tuple[str, str]], into: tuple[str, str],
                         deleted_snapshot: str | None = None) -> list[str]: ...
        def settle_intent(self, q: QMP) -> None: ...
        # Defined by blockjobs.BlockJobs.
        def _disk(self, path: str) -> Disk: ...
