"""save, restore and managed save for the QEMU driver: the guest's RAM to a file and back.

Saving pauses the guest (as libvirt does), writes libvirt's save-image header (saveimage.py)
into a temporary file beside the target, hands QEMU that file with `getfd` and migrates to it
(`migrate fd:NAME`), marks the header complete, renames the file into place and only then stops
QEMU. The status records the intent first (<intent op='save'>), so a pyvirsh killed at any step
leaves the domain running (the temporary file goes, the guest resumes if it ran) or saved (the
file is in place; QEMU is stopped by the next command): never lost.

Restoring starts QEMU with `-incoming defer` and feeds it the stream with `getfd` +
`migrate-incoming fd:NAME`, the file positioned after the header. A managed save is a save image
at state/save/NAME.save that `start` restores and removes once the guest has its RAM back.
"""

from __future__ import annotations

import os
import time

from ..api import (DomainState, DriverError, ErrorCode, Reason, SaveRestoreFlags, XMLFlags, check_flags,
                   check_save_flags, writes)
from ..fsutil import ensure_dir, remove
from .saveimage import MAGIC, PARTIAL, SaveImage, read_image, rewrite_header

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domxml import DomainDef
    from .qmp import QMP

MIGRATE_TIMEOUT = 600.0
_FD_NAME = "pyvirsh-state"
F = SaveRestoreFlags


def wanted_running(flags: int, was_running: bool) -> bool:
    if flags & F.RUNNING:
        return True
    if flags & F.PAUSED:
        return False
    return was_running


def _wait_migration(q: QMP) -> None:
    """Poll query-migrate until QEMU says the stream is complete; its error if it failed."""
    deadline = time.monotonic() + MIGRATE_TIMEOUT
    while True:
        info = q.execute("query-migrate")
        state = info.get("status") if isinstance(info, dict) else None
        if state == "completed":
            return
        if state in ("failed", "cancelled"):
            raise DriverError(ErrorCode.OPERATION_FAILED, "migration out job: %s"
                              % (info.get("error-desc") or state))
        if time.monotonic() > deadline:
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, "saving the domain's memory took too long")
        time.sleep(0.02)


def load_incoming(q: QMP, path: str, offset: int) -> None:
    """Feed a QEMU started with `-incoming defer` the stream of a save image."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        q.execute("getfd", {"fdname": _FD_NAME}, fd=fd)
    finally:
        os.close(fd)        # QEMU holds its own copy now
    q.execute("migrate-incoming", {"uri": "fd:" + _FD_NAME})
    deadline = time.monotonic() + MIGRATE_TIMEOUT
    while True:
        state = q.execute("query-status").get("status")
        if state != "inmigrate":
            break
        if time.monotonic() > deadline:
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, "restoring the domain's memory took too long")
        time.sleep(0.02)
    info = q.execute("query-migrate")
    if info.get("status") not in ("completed", None):
        raise DriverError(ErrorCode.OPERATION_FAILED, "load of migration failed: %s"
                          % (info.get("error-desc") or info.get("status")))
    if state not in ("paused", "prelaunch", "postmigrate", "finish-migrate", "running"):
        raise DriverError(ErrorCode.OPERATION_FAILED, "load of migration failed: guest is %s" % state)


def image_definition(conn, image: SaveImage, xml: str | None) -> DomainDef:
    """The definition a restore starts: the image's, or a replacement for the same domain."""
    if xml is None:
        return conn.parse_definition(image.xml)
    replacement = conn.parse_definition(xml)
    check_same_domain(image.xml, replacement)
    return replacement


def check_same_domain(saved_xml: str, replacement: DomainDef) -> None:
    """libvirt's first ABI-stability checks: the replacement XML describes the same domain.

    The saved XML is only read for its name and uuid: an image virsh wrote may hold elements
    pyvirsh would refuse to run, which a replacement XML is the way around."""
    from ..ids import parse_uuid
    from ..xmlutil import parse
    root = parse(saved_xml, "domain_definition", "domain")
    name, uuid = root.findtext("name") or "", parse_uuid(root.findtext("uuid") or "")
    if replacement.uuid != uuid:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "Target domain uuid %s does not match source %s"
                          % (replacement.uuid, uuid))
    if replacement.name != name:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "Target domain name '%s' does not match source '%s'"
                          % (replacement.name, name))


def _create_failed(path: str, err: OSError) -> DriverError:
    return DriverError(ErrorCode.SYSTEM_ERROR, "Failed to create file '%s': %s" % (path, err.strerror))


class SaveImages:
    """The connection's calls on save image files (mixed into QemuConnection)."""

    @writes("virDomainRestoreFlags")
    def restore(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, F.BYPASS_CACHE | F.RUNNING | F.PAUSED, "qemuDomainRestoreFlags")
        path = os.path.abspath(path)
        image = read_image(path)
        definition = image_definition(self, image, xml)
        with self.driver_lock():  # type: ignore[attr-defined]
            self._check_unique(definition, allow_running=False)  # type: ignore[attr-defined]
        dom = self.domain_handle(definition.name)  # type: ignore[attr-defined]
        with self.domain_lock(definition.name):  # type: ignore[attr-defined]
            dom.refresh(locked=True, must_exist=False)
            if dom.is_active():
                raise DriverError(ErrorCode.OPERATION_INVALID, "domain '%s' is already active" % dom.name)
            dom.launch(definition, not wanted_running(flags, image.was_running),
                       incoming=(path, image.stream_offset))
        if flags & F.BYPASS_CACHE:
            drop_cached_file(path)

    def save_image_get_xml_desc(self, path: str, flags: int = 0) -> str:
        check_flags(flags, XMLFlags.SECURE, "qemuDomainSaveImageGetXMLDesc")
        image = read_image(os.path.abspath(path))
        # Shown as the image holds it (a virsh image may use elements pyvirsh refuses to run),
        # after the hardened parse every document from outside gets.
        from ..xmlutil import parse
        parse(image.xml, "domain_definition", "domain")
        return image.xml if image.xml.endswith("\n") else image.xml + "\n"

    @writes("virDomainSaveImageDefineXML")
    def save_image_define_xml(self, path: str, xml: str, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, F.RUNNING | F.PAUSED, "qemuDomainSaveImageDefineXML")
        define_in_image(self, os.path.abspath(path), xml, flags)


def define_in_image(conn, path: str, xml: str, flags: int) -> None:
    """Replace the XML kept in a save image, in place (it must fit in the image's padding)."""
    image = read_image(path)
    replacement = conn.parse_definition(xml)
    check_same_domain(image.xml, replacement)
    image.xml = replacement.to_xml()
    image.was_running = wanted_running(flags, image.was_running)
    try:
        rewrite_header(path, image)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "failed to write header to domain save file '%s': %s"
                          % (path, err.strerror)) from None


class SaveState:
    """The domain's calls (mixed into QemuDomain): save, managed save, and settling a killed save."""

    if TYPE_CHECKING:
        from typing import Any

        from .paths import DriverPaths
        from .status import Status
        conn: Any                   # connection.QemuConnection (connection.py imports this module)
        name: str
        status: Status | None
        config: DomainDef | None

        @property
        def paths(self) -> DriverPaths: ...
        def locked(self, strict: bool | None = None): ...
        def locked_active(self, strict: bool | None = None): ...
        def save_status(self) -> None: ...
        def qmp(self) -> QMP: ...
        def _stop_qemu(self, status: Status, graceful: bool = False) -> None: ...
        def _cleanup(self, reason: int) -> None: ...

    @writes("virDomainSaveFlags")
    def save(self, path: str, xml: str | None = None, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, F.BYPASS_CACHE | F.RUNNING | F.PAUSED, "qemuDomainSaveFlags")
        with self.locked_active():
            self._save_to(os.path.abspath(path), xml, flags)

    @writes("virDomainManagedSave")
    def managed_save(self, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, F.BYPASS_CACHE | F.RUNNING | F.PAUSED, "qemuDomainManagedSave")
        with self.locked_active():
            if self.config is None:
                raise DriverError(ErrorCode.OPERATION_INVALID, "cannot do managed save for transient domain")
            ensure_dir(self.paths.save_dir)
            self._save_to(self.paths.managed_save_file(self.name), None, flags)

    def has_managed_save(self) -> bool:
        return os.path.exists(self.paths.managed_save_file(self.name))

    @writes("virDomainManagedSaveRemove")
    def managed_save_remove(self, flags: int = 0) -> None:
        check_flags(flags, 0, "qemuDomainManagedSaveRemove")
        with self.locked():
            remove(self.paths.managed_save_file(self.name))

    def _managed_image_path(self) -> str:
        path = self.paths.managed_save_file(self.name)
        if not os.path.exists(path):
            raise DriverError(ErrorCode.NO_DOMAIN, "domain does not have managed save image")
        return path

    def managed_save_get_xml_desc(self, flags: int = 0) -> str:
        check_flags(flags, XMLFlags.SECURE, "qemuDomainManagedSaveGetXMLDesc")
        return self.conn.save_image_get_xml_desc(self._managed_image_path())

    @writes("virDomainManagedSaveDefineXML")
    def managed_save_define_xml(self, xml: str, flags: int = 0) -> None:
        check_save_flags(flags)
        check_flags(flags, F.RUNNING | F.PAUSED, "qemuDomainManagedSaveDefineXML")
        with self.locked():
            define_in_image(self.conn, self._managed_image_path(), xml, flags)

    # ------------------------------------------------------------------

    def _save_to(self, target: str, xml: str | None, flags: int) -> None:
        """The save itself; the domain lock is held and the domain runs."""
        from lxml import etree

        status = self.status
        assert status is not None
        if status.jobs:
            # QEMU would migrate the disks' state mid-job; libvirt refuses the same way.
            raise DriverError(ErrorCode.OPERATION_INVALID, "domain has active block job")
        if xml is not None:
            replacement = self.conn.parse_definition(xml)
            check_same_domain(status.definition.to_xml(), replacement)
            saved_xml = replacement.to_xml()
        else:
            saved_xml = status.definition.to_xml()
        was_running = status.state == DomainState.RUNNING
        image = SaveImage(saved_xml, wanted_running(flags, was_running))
        temp = os.path.join(os.path.dirname(target), ".%s.pyvirsh-save%d" % (os.path.basename(target), os.getpid()))
        # The intent before anything changes, the temporary file included: the next command
        # settles a killed save.
        status.intent = etree.Element("intent", op="save", path=target, temp=temp,
                                      running="1" if was_running else "0")
        if os.path.exists(target):
            # the file an earlier save left there is not this save's result
            status.intent.set("replaces", _identity(target))
        self.save_status()
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as err:
            status.intent = None            # nothing was done yet
            self.save_status()
            raise _create_failed(target, err) from None
        try:
            with self.qmp() as q:
                if was_running:
                    q.execute("stop")
                    status.state, status.reason = DomainState.PAUSED, Reason.PAUSED_SAVING
                    self.save_status()
                os.pwrite(fd, image.header(PARTIAL), 0)
                os.lseek(fd, image.stream_offset, os.SEEK_SET)
                q.execute("getfd", {"fdname": _FD_NAME}, fd=fd)
                q.execute("migrate", {"uri": "fd:" + _FD_NAME})
                _wait_migration(q)
            os.fsync(fd)
            os.pwrite(fd, MAGIC, 0)
            os.fsync(fd)
            if flags & F.BYPASS_CACHE:
                _drop_cached(fd)
        except BaseException:
            os.close(fd)
            self._undo_save(temp, was_running)
            raise
        os.close(fd)
        os.replace(temp, target)        # the commit point: from here the domain is saved
        self._stop_qemu(status)
        self._cleanup(Reason.SHUTOFF_SAVED)

    def _undo_save(self, temp: str, was_running: bool) -> None:
        """The save did not complete: no file, the guest as it was."""
        remove(temp)
        status = self.status
        if status is None:
            return
        try:
            with self.qmp() as q:
                try:
                    q.execute("migrate_cancel")
                except DriverError:
                    pass
                if was_running:
                    q.execute("cont")
                    status.state, status.reason = DomainState.RUNNING, Reason.RUNNING_SAVE_CANCELED
        finally:
            status.intent = None
            self.save_status()

    def settle_save_intent(self, q: QMP) -> None:
        """A save was killed: finish it if the file was renamed into place, else undo it."""
        status = self.status
        assert status is not None and status.intent is not None
        intent = status.intent
        temp, target = intent.get("temp"), intent.get("path")
        if (not os.path.exists(temp) and os.path.exists(target) and _complete(target)
                and _identity(target) != intent.get("replaces")):
            self._stop_qemu(status)
            self._cleanup(Reason.SHUTOFF_SAVED)
            return
        remove(temp)
        try:
            q.execute("migrate_cancel")
        except DriverError:
            pass
        if intent.get("running") == "1":
            q.execute("cont")
            status.state, status.reason = DomainState.RUNNING, Reason.RUNNING_SAVE_CANCELED
        status.intent = None
        self.save_status()

    def restore_managed_save(self, paused_flag: bool, bypass_cache: bool = False) -> bool:
        """start: restore the managed save image if there is one (lock held); False if none."""
        path = self.paths.managed_save_file(self.name)
        if not os.path.exists(path):
            return False
        image = read_image(path)
        definition = self.conn.parse_definition(image.xml)
        running = image.was_running and not paused_flag
        self.launch(definition, not running, incoming=(path, image.stream_offset))  # type: ignore[attr-defined]
        if bypass_cache:
            drop_cached_file(path)
        remove(path)
        return True


def _drop_cached(fd: int) -> None:
    """--bypass-cache: libvirt writes through O_DIRECT; pyvirsh lets QEMU write through the page
    cache and then drops the image's pages from it (they are on disk after the fsync)."""
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def drop_cached_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        _drop_cached(fd)
    finally:
        os.close(fd)


def _complete(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _identity(path: str) -> str:
    """Which file is at PATH (device and inode): a rename into place gives it a new one."""
    st = os.stat(path)
    return "%d:%d" % (st.st_dev, st.st_ino)
