"""setmem, setmaxmem, setvcpus, desc/metadata, domrename and autostart for the QEMU driver.

A change goes to the live definition (in the status file, with QEMU told where it must be:
the balloon for memory) and/or the persistent one (the config file), as libvirt's
--live/--config/--current pick them. Autostart without a daemon is a marker file per domain
(config/autostart/NAME); `pyvirsh autostart-run`, run by a boot unit, starts the marked ones.
"""

from __future__ import annotations

import os

from ..api import (DriverError, ErrorCode, MemoryFlags, ModificationImpact, VcpuFlags, check_flags, writes)
from ..fsutil import atomic_write, ensure_dir, remove
from .readview import save_config, view_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domxml import DomainDef


def _invalid(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, message)


class DomainConfig:
    """Mixed into QemuDomain."""

    if TYPE_CHECKING:
        from typing import Any

        from .paths import DriverPaths
        from .qmp import QMP
        from .status import Status
        conn: Any                   # connection.QemuConnection (connection.py imports this module)
        name: str
        status: Status | None
        config: DomainDef | None

        @property
        def paths(self) -> DriverPaths: ...
        def locked(self, strict: bool | None = None): ...
        def save_status(self) -> None: ...
        def qmp(self) -> QMP: ...
        def refresh(self, locked: bool = False, must_exist: bool = True, strict: bool | None = None) -> None: ...
        def snapshot_count(self) -> int: ...
        def has_managed_save(self) -> bool: ...

    def _defs(self, flags: int) -> tuple[DomainDef | None, DomainDef | None]:
        """libvirt's virDomainObjGetDefs under the lock: (live, persistent), either may be None."""
        live = bool(flags & ModificationImpact.LIVE)
        config = bool(flags & ModificationImpact.CONFIG)
        if not live and not config:
            live, config = self.status is not None, self.status is None
        if live and self.status is None:
            raise _invalid("domain is not running")
        if config and self.config is None:
            raise _invalid("transient domains do not have any persistent config")
        return (self.status.definition if live and self.status is not None else None), \
            (self.config if config else None)

    def _write_definitions(self, live: DomainDef | None, persistent: DomainDef | None) -> None:
        if live is not None:
            self.save_status()
        if persistent is not None:
            save_config(self.paths.config_file(self.name), persistent.to_xml())

    @writes("virDomainSetMemoryFlags")
    def set_memory_flags(self, memory_kib: int, flags: int = 0) -> None:
        from ..domainmeta import check_memory_nonzero, set_current_memory, set_max_memory
        check_memory_nonzero(memory_kib)
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | MemoryFlags.MAXIMUM,
                    "qemuDomainSetMemoryFlags")
        with self.locked():
            live, persistent = self._defs(flags)
            if flags & MemoryFlags.MAXIMUM:
                if live is not None:
                    raise _invalid("cannot resize the maximum memory on an active domain")
                assert persistent is not None
                set_max_memory(persistent, memory_kib)
                self._write_definitions(None, persistent)
                return
            for definition in (live, persistent):
                if definition is not None and memory_kib > definition.memory_kib:
                    raise DriverError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
            if live is not None:
                if live.root.find("devices/memballoon[@model='none']") is not None:
                    raise _invalid("Unable to change memory of active domain without the balloon device "
                                   "and guest OS balloon driver")
                with self.qmp() as q:
                    q.execute("balloon", {"value": memory_kib * 1024})
                set_current_memory(live, memory_kib)
            if persistent is not None:
                set_current_memory(persistent, memory_kib)
            self._write_definitions(live, persistent)

    @writes("virDomainSetVcpusFlags")
    def set_vcpus_flags(self, count: int, flags: int = 0) -> None:
        from ..domainmeta import set_vcpus
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | VcpuFlags.MAXIMUM |
                    VcpuFlags.GUEST | VcpuFlags.HOTPLUGGABLE, "qemuDomainSetVcpusFlags")
        if flags & VcpuFlags.GUEST:
            # libvirt's words for a domain without an agent channel; pyvirsh talks to no agent yet.
            raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured")
        with self.locked():
            live, persistent = self._defs(flags)
            if live is not None and flags & VcpuFlags.MAXIMUM:
                raise DriverError(ErrorCode.OPERATION_UNSUPPORTED,
                                  "maximum vcpu count of a live domain can't be modified")
            if live is not None:
                if count > live.max_vcpus:
                    raise DriverError(ErrorCode.INVALID_ARG, "requested vcpus is greater than max allowable "
                                      "vcpus for the live domain: %d > %d" % (count, live.max_vcpus))
                if count < live.vcpus:
                    # x86 CPU unplug needs the guest's ACPI cooperation, which pyvirsh cannot wait for.
                    raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "unplugging vCPUs of a running "
                                      "domain is not supported; use --config")
                if count > live.vcpus:
                    with self.qmp() as q:
                        _plug_vcpus(q, count - live.vcpus)
                    set_vcpus(live, count, False)
            if persistent is not None:
                if not flags & VcpuFlags.MAXIMUM and count > persistent.max_vcpus:
                    raise DriverError(ErrorCode.INVALID_ARG, "requested vcpus is greater than max allowable "
                                      "vcpus for the persistent domain: %d > %d" % (count, persistent.max_vcpus))
                set_vcpus(persistent, count, bool(flags & VcpuFlags.MAXIMUM))
            self._write_definitions(live, persistent)

    def get_metadata(self, kind: int, uri: str | None = None, flags: int = 0) -> str:
        from ..domainmeta import get_metadata
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "virDomainObjGetMetadata")
        if flags & ModificationImpact.LIVE and flags & ModificationImpact.CONFIG:
            raise DriverError(ErrorCode.RAW, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                              "are mutually exclusive")
        live, persistent = self._defs(flags)
        definition = live if live is not None else persistent
        assert definition is not None
        return get_metadata(definition, kind, uri)

    @writes("virDomainSetMetadata")
    def set_metadata(self, kind: int, metadata: str | None, key: str | None = None, uri: str | None = None,
                     flags: int = 0) -> None:
        from ..domainmeta import set_metadata
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "virDomainObjSetMetadata")
        with self.locked():
            live, persistent = self._defs(flags)
            for definition in (live, persistent):
                if definition is not None:
                    set_metadata(definition, kind, metadata, key, uri)
            self._write_definitions(live, persistent)

    @writes("virDomainRename")
    def rename(self, new_name: str, flags: int = 0) -> None:
        check_flags(flags, 0, "qemuDomainRename")
        if "/" in new_name:
            raise DriverError(ErrorCode.XML_ERROR, "name %s cannot contain '/'" % new_name)
        self.conn.check_domain_name(new_name)
        with self.conn.driver_lock(), self.locked():
            if self.status is not None:
                raise _invalid("cannot rename active domain")
            if self.config is None:
                raise _invalid("cannot rename a transient domain")
            if self.snapshot_count():
                raise _invalid("cannot rename domain with snapshots")
            if self.has_managed_save():
                raise _invalid("domain with a managed saved state can't be renamed")
            if new_name == self.name:
                raise _invalid("Can't rename domain to itself")
            if new_name in self.conn.list_domain_names():
                raise _invalid("domain with name '%s' already exists" % new_name)
            old = self.name
            definition = self.config.copy()
            definition.name = new_name
            save_config(self.paths.config_file(new_name), definition.to_xml())
            if os.path.exists(self.paths.autostart_file(old)):
                self._mark_autostart(new_name, True)
            for path in (self.paths.autostart_file(old), self.paths.shutoff_file(old),
                         self.paths.start_plan_file(old),
                         self.paths.config_file(old), view_path(self.paths.config_file(old))):
                remove(path)
        self.name = new_name
        self.refresh()
        from . import events            # libvirt 9.0: the old name goes, then the new one comes
        uuid = self.config.uuid if self.config is not None else None
        events.record(self, events.UNDEFINED, events.UNDEFINED_RENAMED, name=old, uuid=uuid)
        events.record(self, events.DEFINED, events.DEFINED_RENAMED, uuid=uuid)

    def get_autostart(self) -> bool:
        return os.path.exists(self.paths.autostart_file(self.name))

    @writes("virDomainSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        with self.locked():
            if self.config is None:
                raise _invalid("cannot set autostart for transient domain")
            self._mark_autostart(self.name, autostart)

    def _mark_autostart(self, name: str, autostart: bool) -> None:
        if autostart:
            ensure_dir(self.paths.autostart_dir)
            atomic_write(self.paths.autostart_file(name), "")
        else:
            remove(self.paths.autostart_file(name))


def _plug_vcpus(q, how_many: int) -> None:
    """device_add the next free CPU slots QEMU offers (-smp N,maxcpus=M left them), lowest first.

    A restore later starts QEMU with them as boot CPUs (-smp from the live XML); QEMU migrates
    CPUs by index, so the guest's state fits."""
    free = [c for c in q.execute("query-hotpluggable-cpus") if "qom-path" not in c]
    free.sort(key=lambda c: tuple(c["props"].get(k, 0) for k in ("node-id", "socket-id", "die-id", "core-id",
                                                                  "thread-id")))
    used = {c.get("qom-path", "").rsplit("/", 1)[-1] for c in q.execute("query-hotpluggable-cpus")}
    for slot in free[:how_many]:
        index = next(i for i in range(1, 4096) if "vcpu%d" % i not in used)
        used.add("vcpu%d" % index)
        q.execute("device_add", {"driver": slot["type"], "id": "vcpu%d" % index, **slot["props"]})


class Autostart:
    """Mixed into QemuConnection: what a boot unit runs (`pyvirsh -c URI autostart-run`)."""

    if TYPE_CHECKING:
        from .paths import DriverPaths
        paths: DriverPaths

        def lookup_domain_by_name(self, name: str): ...

    def autostart_run(self) -> list[tuple[str, str | None]]:
        try:
            names = sorted(os.listdir(self.paths.autostart_dir))
        except OSError:
            names = []
        results: list[tuple[str, str | None]] = []
        for name in names:
            if name.startswith("."):
                continue
            try:
                dom = self.lookup_domain_by_name(name)
                if dom.is_active():
                    continue
                dom.create(0)           # a managed save is restored, as libvirtd's autostart does
            except DriverError as err:
                results.append((name, str(err)))
                continue
            results.append((name, None))
        return results
