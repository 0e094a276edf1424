"""File-system helpers for driver state: atomic writes and lock files.

Every state file is replaced atomically (temporary file in the same
directory, fsync, rename, fsync of the directory), so a crash or a kill -9 at
any moment leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from .api import DriverError, ErrorCode


def ensure_dir(path: str, mode: int = 0o700) -> str:
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def atomic_write(path: str, text: str, mode: int = 0o600) -> None:
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, ".%s.tmp%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


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
        self.fd = None
        self.depth = 0

    def acquire(self) -> None:
        if self.depth:
            self.depth += 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
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
                    raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                                      "cannot acquire state change lock for %s (held by another "
                                      "pyvirsh process)" % self.what) from None
                time.sleep(0.02)
        self.fd = fd
        self.depth = 1

    def release(self) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if self.depth == 0:
            fd, self.fd = self.fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
