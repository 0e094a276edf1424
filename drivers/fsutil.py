"""File-system helpers for driver state: atomic writes, lock files, and the
bounded reader every XML file goes through.

Every state file is replaced atomically (temporary file in the same
directory, fsync, rename, fsync of the directory), so a crash or a kill -9 at
any moment leaves either the old or the new file, never half of one. The
temporary file of a writer killed before its rename is removed by the next
writer in that directory.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from .api import DriverError, ErrorCode

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

# libvirt reads at most this much XML from a file (virsh's VSH_MAX_XML_FILE).
# The one limit for every XML document pyvirsh reads, from a file or not.
MAX_XML_BYTES = 10 * 1024 * 1024


class ReadError(Exception):
    """Why read_bounded failed.

    ``stage`` is 'open' or 'read' (with the errno), 'size' (more than the
    limit; errno EOVERFLOW, as virFileReadAll reports it) or 'type' (not a
    regular file where only one is accepted).
    """

    def __init__(self, path: str, stage: str, errnum: int = 0):
        super().__init__(path, stage, errnum)
        self.path = path
        self.stage = stage
        self.errno = errnum

    @property
    def strerror(self) -> str:
        if self.stage == "type":
            return "not a regular file"
        return os.strerror(self.errno)


def read_bounded(path: str, limit: int = MAX_XML_BYTES, regular_only: bool = False) -> bytes:
    """A whole file, at most ``limit`` bytes (libvirt's virFileReadAll).

    Opening never blocks: a FIFO without a writer is opened non-blocking, so it
    reads as empty instead of hanging. With ``regular_only`` anything but a
    regular file (FIFO, device, directory) is refused before a byte is read;
    otherwise a pipe or device is then read blocking, as virsh reads
    /dev/stdin, and the limit stops an endless one such as /dev/zero.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise ReadError(path, "open", err.errno or 0) from None
    try:
        try:
            st = os.fstat(fd)
        except OSError as err:
            raise ReadError(path, "read", err.errno or 0) from None
        if stat.S_ISREG(st.st_mode):
            if st.st_size > limit:
                raise ReadError(path, "size", errno.EOVERFLOW)
        elif regular_only:
            raise ReadError(path, "type")
        elif not stat.S_ISDIR(st.st_mode):
            os.set_blocking(fd, True)
        chunks = []
        size = 0
        while True:
            try:
                chunk = os.read(fd, min(65536, limit + 1 - size))
            except OSError as err:
                raise ReadError(path, "read", err.errno or 0) from None
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise ReadError(path, "size", errno.EOVERFLOW)
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def ensure_dir(path: str, mode: int = 0o700) -> str:
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def _temp_name(path: str, pid: int) -> str:
    return os.path.join(os.path.dirname(path), ".%s.tmp%d" % (os.path.basename(path), pid))


def remove_dead_writers_temps(directory: str) -> None:
    """Remove '.NAME.tmpPID' files whose writer no longer runs (killed before its rename).
    A live PID's file is left alone: it may be another writer at work right now."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith("."):
            continue
        head, sep, pid = entry.rpartition(".tmp")
        if not sep or not head or not pid.isdigit() or int(pid) == os.getpid():
            continue
        if os.path.exists("/proc/%s" % pid):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


def atomic_write(path: str, text: str, mode: int = 0o600, durable: bool = True) -> None:
    """Replace path with text in one rename. durable=False skips the fsyncs: for derived
    files that are checked when read and rebuilt or ignored when lost (a crash may leave
    them empty or torn)."""
    directory = os.path.dirname(path)
    tmp = _temp_name(path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if not durable:
        return
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    remove_dead_writers_temps(directory)


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class FileLock:
    """An exclusive flock on a lock file, taken with a timeout.

    flock locks belong to the open file description, so they are released when
    the holder exits or is killed: a crashed pyvirsh never leaves a stale lock.
    """

    def __init__(self, path: str, timeout: float, what: str):
        self.path = path
        self.timeout = timeout
        self.what = what
        self.fd: int | None = None
        self.depth = 0

    def acquire(self) -> None:
        if not self._take(self.timeout):
            raise DriverError(ErrorCode.OPERATION_TIMEOUT, "cannot acquire state change lock for %s (held by "
                              "another pyvirsh process)" % self.what)

    def try_acquire(self) -> bool:
        """Take the lock only if nobody else holds it (this process may, re-entrantly)."""
        return self._take(0.0)

    def _take(self, timeout: float) -> bool:
        if self.depth:
            self.depth += 1
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
        self.fd = fd
        self.depth = 1
        return True

    def release(self) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if self.depth == 0:
            fd, self.fd = self.fd, None
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
