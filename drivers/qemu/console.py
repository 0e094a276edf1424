"""`console` on the QEMU driver: a running guest's serial console, one session at a time.

QEMU gives each <serial type='pty'> a pseudo-terminal, recorded in the live XML when the
domain starts (driver._record_chardevs). A session opens that pty's slave side itself: no
daemon relays the bytes, QEMU outlives the session, and the session lives exactly as long
as the pyvirsh that opened it. When QEMU exits (the guest powered off, another pyvirsh
destroyed it) the pty hangs up and the session ends.

Sessions exclude each other as libvirt's do: each holds an flock on a lock file per
device (DriverPaths.console_lock_file) and writes its pid there. A second session is
refused with libvirt's words. With --force it asks the holder to let go: SIGUSR1 to the
process /proc/locks shows holding that lock (so a stale pid in the file is never
signalled); the holder closes the pty, then drops the lock, and ends as a libvirt console
whose stream the daemon aborted ("stream had I/O failure"). A killed pyvirsh leaves
nothing to clean up: the kernel drops its lock. This is the exclusion --safe asks for,
and it is what libvirt's own guarantee amounts to: every console session goes through
it, while a process that opens the pty by hand (root can, under libvirt too) is not
kept out.

libvirt 9.0 (qemuDomainOpenConsole) connects only pty devices; so does pyvirsh.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import termios
import time

from ..api import ConsoleFlags, ConsoleStream, DriverError, ErrorCode, check_flags
from ..rawmode import raw_attributes

TAKEOVER_TIMEOUT = 10.0     # seconds a --force waits for the old session to let go
TAKEOVER_SIGNAL = signal.SIGUSR1

# The session this process holds, if any: what the takeover signal ends.
_current: QemuConsole | None = None
_handler_installed = False


def find_chardev(definition, dev_name: str | None):
    """(name for errors, serial element carrying the pty) as libvirt picks the device: by
    alias among consoles, serials, then parallels; without a name the first console, else
    the first serial. A console of target type serial is the serial on its port, whose
    alias is serialN while libvirt names the console itself consoleN."""
    devices = definition.devices
    serials = list(devices.iterfind("serial"))
    consoles = list(devices.iterfind("console"))
    parallels = list(devices.iterfind("parallel"))

    def behind(index: int, console):
        target = console.find("target")
        port = target.get("port", "0") if target is not None else "0"
        for serial in serials:
            serial_target = serial.find("target")
            if serial_target is not None and serial_target.get("port", "0") == port:
                return serial
        return serials[index] if index < len(serials) else console

    if dev_name is None:
        if consoles:
            return "console0", behind(0, consoles[0])
        if serials:
            return _alias(serials[0], "serial0"), serials[0]
        raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot find character device <null>")
    for i, console in enumerate(consoles):
        if dev_name == "console%d" % i:
            return dev_name, behind(i, console)
    for kind, elements in (("serial", serials), ("parallel", parallels)):
        for i, element in enumerate(elements):
            if dev_name == _alias(element, "%s%d" % (kind, i)):
                return dev_name, element
    raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot find character device %s" % dev_name)


def _alias(element, fallback: str) -> str:
    alias = element.find("alias")
    return alias.get("name") if alias is not None and alias.get("name") else fallback


def pty_path(name: str, chardev) -> str:
    if chardev.get("type", "pty") != "pty":
        raise DriverError(ErrorCode.INTERNAL_ERROR, "character device %s is not using a PTY" % name)
    source = chardev.find("source")
    path = source.get("path") if source is not None else None
    if not path:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "character device %s has no pty recorded" % name)
    return path


def open_console(dom, dev_name: str | None, flags: int) -> QemuConsole:
    check_flags(flags, ConsoleFlags.FORCE | ConsoleFlags.SAFE, "qemuDomainOpenConsole")
    status = dom._require_active()
    name, chardev = find_chardev(status.definition, dev_name)
    path = pty_path(name, chardev)
    # One lock per device: console0 and serial0 reach the same pty and exclude each other.
    index = list(status.definition.devices.iterfind(chardev.tag)).index(chardev)
    lock_fd = _take_lock(dom.paths.console_lock_file(dom.name, "%s%d" % (chardev.tag, index)),
                         bool(flags & ConsoleFlags.FORCE))
    try:
        pty = _open_pty(path)
    except BaseException:
        os.close(lock_fd)
        raise
    return QemuConsole(pty, lock_fd)


def _take_lock(path: str, force: bool) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_flock(fd):
            if not force:
                raise DriverError(ErrorCode.OPERATION_FAILED, "Active console session exists for this domain")
            holder = _lock_holder(fd)
            if holder is not None and holder != os.getpid():
                try:
                    os.kill(holder, TAKEOVER_SIGNAL)
                except ProcessLookupError:
                    pass        # gone meanwhile: its lock is gone with it
            deadline = time.monotonic() + TAKEOVER_TIMEOUT
            while not _try_flock(fd):
                if time.monotonic() >= deadline:
                    raise DriverError(ErrorCode.OPERATION_FAILED, "the console session of process %s did "
                                      "not end" % (holder if holder is not None else "unknown"))
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"%d\n" % os.getpid(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def _lock_holder(fd: int) -> int | None:
    """The pid holding an flock on this file, as the kernel lists it in /proc/locks."""
    st = os.fstat(fd)
    wanted = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        with open("/proc/locks") as f:
            lines = f.readlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END"; waiters have a "->" field.
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            try:
                pid = int(fields[4])
            except ValueError:
                continue
            if pid > 0:
                return pid
    return None


def _open_pty(path: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to open stream for '%s': %s"
                          % (path, err.strerror)) from None
    try:
        # The line discipline between QEMU and us must pass bytes as they are.
        termios.tcsetattr(fd, termios.TCSANOW, raw_attributes(termios.tcgetattr(fd)))
    except termios.error:
        pass            # not a terminal after all: the bytes still flow
    return fd


def _on_takeover(signum, frame) -> None:
    session = _current
    if session is not None:
        session.taken_over = True
        try:
            os.write(session.wake_w, b"!")
        except OSError:
            pass


def _install_handler() -> None:
    """Once per process and for good: a takeover signal that arrives just after a session
    ended finds no session and does nothing (instead of killing an interactive shell)."""
    global _handler_installed
    if _handler_installed:
        return
    try:
        signal.signal(TAKEOVER_SIGNAL, _on_takeover)
    except ValueError:
        return          # not the main thread: a --force elsewhere waits, then gives up
    _handler_installed = True


class QemuConsole(ConsoleStream):
    def __init__(self, pty: int, lock_fd: int):
        global _current
        self.pty = pty
        self.lock_fd = lock_fd
        self.taken_over = False
        self.gone = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        _current = self
        _install_handler()

    def fileno(self) -> int:
        return self.pty

    def event_fds(self) -> list[int]:
        return [self.wake_r]

    def recv(self, size: int) -> bytes | None:
        if self.taken_over:
            raise DriverError(ErrorCode.RAW, "stream had I/O failure")
        if self.gone:
            return b""
        try:
            return os.read(self.pty, size)
        except BlockingIOError:
            return None
        except OSError as err:
            if err.errno == errno.EIO:      # QEMU closed its side: the domain stopped
                self.gone = True
                return b""
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot read from console: %s" % err.strerror) from None

    def send(self, data: bytes) -> int:
        if self.gone or self.taken_over:
            return 0
        try:
            return os.write(self.pty, data)
        except BlockingIOError:
            return 0
        except OSError as err:
            if err.errno == errno.EIO:
                self.gone = True
                return 0
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot write to console: %s" % err.strerror) from None

    def close(self) -> None:
        """The pty first, then the lock: a session taking over never shares the device."""
        global _current
        if _current is self:
            _current = None
        for fd in (self.pty, self.lock_fd, self.wake_r, self.wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.pty = self.lock_fd = self.wake_r = self.wake_w = -1
