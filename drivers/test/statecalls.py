"""The test driver's save/restore, managed save, memory, vCPU, metadata, rename and autostart
calls, as libvirt 9.0's test driver makes them (checked against virsh by the differential tests).

Its save file is libvirt's test-driver format: "TestGuestMagic" and a NUL, the XML's length
as a native int, then the domain XML; there is no guest RAM to keep.
"""

from __future__ import annotations

import struct

from ..api import (DriverError, ErrorCode, ModificationImpact, MemoryFlags, Reason, SaveRestoreFlags, VcpuFlags,
                   XMLFlags, check_flags, check_save_flags, writes)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAGIC = b"TestGuestMagic\0"
_LENGTH = struct.Struct("=i")


def _invalid(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, message)


def _no_xml_change(xml) -> None:
    if xml is not None:
        raise DriverError(ErrorCode.ARGUMENT_UNSUPPORTED, "xml modification unsupported")


def _one_definition(flags: int) -> None:
    """libvirt's virDomainObjGetOneDef: live or config, not both."""
    if flags & ModificationImpact.LIVE and flags & ModificationImpact.CONFIG:
        raise DriverError(ErrorCode.RAW, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                          "are mutually exclusive")


def _read_image(path: str) -> bytes:
    """The XML of a test-driver save file, checked as libvirt's testDomainSaveImageOpen does."""
    try:
        f = open(path, "rb")    # noqa: SIM115  (closed by the with below; the open's error is its own)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot read domain image '%s': %s"
                          % (path, err.strerror)) from None
    with f:
        magic = f.read(len(MAGIC))
        if len(magic) != len(MAGIC):
            raise DriverError(ErrorCode.SYSTEM_ERROR, "incomplete save header in '%s'" % path)
        if magic != MAGIC:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "mismatched header magic")
        raw = f.read(_LENGTH.size)
        if len(raw) != _LENGTH.size:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to read metadata length in '%s'" % path)
        (length,) = _LENGTH.unpack(raw)
        if length < 1 or length > 8192:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "length of metadata out of range")
        data = f.read(length)
        if len(data) != length:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "incomplete metadata in '%s'" % path)
    return data


def _write_image(path: str, name: str, text: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(MAGIC + _LENGTH.pack(len(text)) + text)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "saving domain '%s' to '%s': open failed: %s"
                          % (name, path, err.strerror)) from None


class TestConnectionStateCalls:
    """restore, mixed into TestConnection."""

    @writes("virDomainRestoreFlags")
    def restore(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, 0, "testDomainRestoreFlags")
        _no_xml_change(xml)
        data = _read_image(path)
        definition = self._parse_definition(data.decode("utf-8", "replace"))  # type: ignore[attr-defined]
        obj = self._find_conflict(definition, allow_same=False)  # type: ignore[attr-defined]
        from .state import TestDomainObj
        if obj is None:
            obj = TestDomainObj(definition)
            obj.persistent = False
            self.state.domains.append(obj)  # type: ignore[attr-defined]
        else:
            if obj.persistent and obj.new_def is None:
                obj.new_def = obj.definition
            obj.definition = definition
        self.state.start(obj, Reason.RUNNING_RESTORED)  # type: ignore[attr-defined]

    def save_image_get_xml_desc(self, path: str, flags: int = 0) -> str:
        check_flags(flags, XMLFlags.SECURE, "testDomainSaveImageGetXMLDesc")
        text = _read_image(path).decode("utf-8", "replace")
        return self._parse_definition(text).to_xml()  # type: ignore[attr-defined]

    @writes("virDomainSaveImageDefineXML")
    def save_image_define_xml(self, path: str, xml: str, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, SaveRestoreFlags.RUNNING | SaveRestoreFlags.PAUSED, "testDomainSaveImageDefineXML")
        _read_image(path)
        definition = self._parse_definition(xml)  # type: ignore[attr-defined]
        _write_image(path, definition.name, definition.to_xml().encode())

    def autostart_run(self):
        results = []
        for obj in list(self.state.domains):  # type: ignore[attr-defined]
            if obj.autostart and not obj.active:
                self.state.start(obj, Reason.RUNNING_BOOTED)  # type: ignore[attr-defined]
                results.append((obj.name, None))
        return results


class TestDomainStateCalls:
    """The domain's calls, mixed into TestDomain (self._live() is the domain's object)."""

    if TYPE_CHECKING:
        conn: Any                   # driver.TestConnection (imported by driver.py: no cycle)
        name: str

        def _live(self) -> Any: ...

    def _defs(self, obj, flags: int):
        """libvirt's virDomainObjGetDefs: (live definition or None, persistent one or None)."""
        live = bool(flags & ModificationImpact.LIVE)
        config = bool(flags & ModificationImpact.CONFIG)
        if not live and not config:
            live, config = obj.active, not obj.active
        if live and not obj.active:
            raise _invalid("domain is not running")
        if config and not obj.persistent:
            raise _invalid("transient domains do not have any persistent config")
        obj._facts = None           # the definition changes: dominfo must read it again
        if live and obj.persistent and obj.new_def is None:
            # libvirt's test driver keeps the persistent definition apart from the start on;
            # pyvirsh's splits them when the live one first changes.
            obj.new_def = obj.definition.copy()
        persistent = None
        if config:
            if obj.active:
                if obj.new_def is None:
                    obj.new_def = obj.definition.copy()
                persistent = obj.new_def
            else:
                persistent = obj.definition
        return (obj.definition if live else None), persistent

    # save, restore, managed save -----------------------------------------

    @writes("virDomainSaveFlags")
    def save(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        check_save_flags(flags)
        obj = self._live()
        check_flags(flags, 0, "testDomainSaveFlags")
        _no_xml_change(xml)
        if not obj.active:
            raise _invalid("domain is not running")
        _write_image(path, obj.name, obj.definition.to_xml(obj.id).encode())
        self.conn.state.stop(obj, Reason.SHUTOFF_SAVED)

    @writes("virDomainManagedSave")
    def managed_save(self, flags: int = 0) -> None:
        check_save_flags(flags)
        obj = self._live()
        check_flags(flags, SaveRestoreFlags.BYPASS_CACHE | SaveRestoreFlags.RUNNING | SaveRestoreFlags.PAUSED,
                    "testDomainManagedSave")
        if not obj.active:
            raise _invalid("domain is not running")
        if not obj.persistent:
            raise _invalid("cannot do managed save for transient domain")
        self.conn.state.stop(obj, Reason.SHUTOFF_SAVED)
        obj.managed_save = True

    @writes("virDomainManagedSaveRemove")
    def managed_save_remove(self, flags: int = 0) -> None:
        obj = self._live()
        check_flags(flags, 0, "testDomainManagedSaveRemove")
        obj.managed_save = False

    # memory and vCPUs ------------------------------------------------------

    @writes("virDomainSetMemoryFlags")
    def set_memory_flags(self, memory_kib: int, flags: int = 0) -> None:
        from ..domainmeta import check_memory_nonzero, set_current_memory, set_max_memory
        check_memory_nonzero(memory_kib)
        obj = self._live()
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | MemoryFlags.MAXIMUM,
                    "testDomainSetMemoryFlags")
        _one_definition(flags)
        live, persistent = self._defs(obj, flags)
        if flags & MemoryFlags.MAXIMUM:
            if live is not None:
                raise _invalid("cannot resize the maximum memory on an active domain")
            set_max_memory(persistent, memory_kib)
            return
        for definition in (live, persistent):
            if definition is not None and memory_kib > definition.memory_kib:
                raise DriverError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
        for definition in (live, persistent):
            if definition is not None:
                set_current_memory(definition, memory_kib)

    @writes("virDomainSetVcpusFlags")
    def set_vcpus_flags(self, count: int, flags: int = 0) -> None:
        from ..domainmeta import set_vcpus
        obj = self._live()
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG | VcpuFlags.MAXIMUM,
                    "testDomainSetVcpusFlags")
        live, persistent = self._defs(obj, flags)
        if live is not None:        # --maximum changes only the persistent definition's limit
            set_vcpus(live, count, False)
        if persistent is not None:
            set_vcpus(persistent, count, bool(flags & VcpuFlags.MAXIMUM))

    # metadata, rename, autostart -------------------------------------------

    def get_metadata(self, kind: int, uri: str | None = None, flags: int = 0) -> str:
        from ..domainmeta import get_metadata
        obj = self._live()
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "virDomainObjGetMetadata")
        _one_definition(flags)
        facts = obj._facts
        live, persistent = self._defs(obj, flags)
        obj._facts = facts          # reading changes nothing
        return get_metadata(live if live is not None else persistent, kind, uri)

    @writes("virDomainSetMetadata")
    def set_metadata(self, kind: int, metadata: str | None, key: str | None = None, uri: str | None = None,
                     flags: int = 0) -> None:
        from ..domainmeta import set_metadata
        obj = self._live()
        check_flags(flags, ModificationImpact.LIVE | ModificationImpact.CONFIG, "virDomainObjSetMetadata")
        live, persistent = self._defs(obj, flags)
        for definition in (live, persistent):
            if definition is not None:
                set_metadata(definition, kind, metadata, key, uri)

    @writes("virDomainRename")
    def rename(self, new_name: str, flags: int = 0) -> None:
        obj = self._live()
        check_flags(flags, 0, "testDomainRename")
        if obj.active:
            raise _invalid("cannot rename active domain")
        if not obj.persistent:
            raise _invalid("cannot rename a transient domain")
        if obj.snapshot_count():
            raise _invalid("cannot rename domain with snapshots")
        if "/" in new_name:
            raise DriverError(ErrorCode.XML_ERROR, "name %s cannot contain '/'" % new_name)
        if new_name == obj.name:
            raise _invalid("Can't rename domain to itself")
        for other in self.conn.state.domains:
            if other.name == new_name:
                raise _invalid("domain with name '%s' already exists" % new_name)
        definition = obj.definition.copy()
        definition.name = new_name
        obj.definition = definition
        self.name = new_name

    @writes("virDomainSetAutostart")
    def set_autostart(self, autostart: bool) -> None:
        self._live().autostart = bool(autostart)
