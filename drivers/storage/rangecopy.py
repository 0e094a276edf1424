"""Byte ranges copied from one open file to another inside the kernel: what vol-upload and
vol-download move (voldir.transfer walks the data extents and calls this for each).

copy_file_range(2) first: file systems that copy by themselves share the extents (btrfs,
XFS) or copy on the server (NFS, CIFS), and the others (ext4, tmpfs...) splice in the
kernel. Between two file systems it is refused (EXDEV); splice(2) through a pipe of 1 MiB
(the most an unprivileged process may ask for) then does the same kernel copy, and reads
and writes are left for files that cannot be spliced. Measured on ext4 here, the 1 MiB
pipe is no faster than copy_file_range's own (64 KiB): 1 GiB in one process 361-389 ms of
CPU against 365-369, and slower in a fresh process (430-555 ms of splice calls against
315-387 of copy_file_range); so it is not chosen where copy_file_range works.
"""

from __future__ import annotations

import errno
import fcntl
import os

CHUNK = 1 << 20         # bytes per read and write, when the kernel copies nothing itself
_PIPE_SIZE = 1 << 20    # fs.pipe-max-size's default
_F_SETPIPE_SZ = 1031    # fcntl.F_SETPIPE_SZ (Python >= 3.10 on Linux), spelt out for older ones
# errnos that mean "not this way here", not a failure of the copy
_UNSUPPORTED = frozenset((errno.EINVAL, errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF))


class RangeCopier:
    """Copies ranges from src to dst (open file descriptors); close() when done."""

    def __init__(self, src: int, dst: int):
        self.src = src
        self.dst = dst
        self.ways = ["copy_file_range", "splice"]       # the ways left to try, best first
        self.pipe: tuple[int, int] | None = None
        self.pipe_size = 0

    def close(self) -> None:
        if self.pipe is not None:
            for end in self.pipe:
                os.close(end)
            self.pipe = None

    def copy(self, src_off: int, dst_off: int, length: int) -> int:
        """Copy length bytes (fewer if the source ends first); returns how many."""
        done = 0
        while self.ways and done < length:
            way = self.ways[0]
            try:
                if way == "splice":
                    done += self._splice(src_off + done, dst_off + done, length - done)
                else:
                    done += self._copy_file_range(src_off + done, dst_off + done, length - done)
                return done
            except _Partly as partly:
                done += partly.moved
                if partly.err.errno not in _UNSUPPORTED:
                    raise partly.err from None
                self.ways.pop(0)            # never tried again in this transfer
        return done + self._read_write(src_off + done, dst_off + done, length - done)

    def _copy_file_range(self, src_off: int, dst_off: int, length: int) -> int:
        done = 0
        while done < length:
            try:
                n = os.copy_file_range(self.src, self.dst, length - done, src_off + done, dst_off + done)
            except OSError as err:
                raise _Partly(done, err) from None
            if n == 0:
                break                       # the source ended early (it shrank meanwhile)
            done += n
        return done

    def _splice(self, src_off: int, dst_off: int, length: int) -> int:
        if self.pipe is None:
            try:
                self.pipe = os.pipe2(os.O_CLOEXEC)
            except OSError as err:
                raise _Partly(0, err) from None
            try:
                self.pipe_size = fcntl.fcntl(self.pipe[1], _F_SETPIPE_SZ, _PIPE_SIZE)
            except OSError:
                self.pipe_size = 1 << 16    # the default pipe: still a copy in the kernel
        read_end, write_end = self.pipe
        done = 0
        while done < length:
            try:
                n = os.splice(self.src, write_end, min(self.pipe_size, length - done), offset_src=src_off + done)
            except OSError as err:
                raise _Partly(done, err) from None
            if n == 0:
                break
            out = 0
            try:
                while out < n:
                    out += os.splice(read_end, self.dst, n - out, offset_dst=dst_off + done + out)
            except OSError as err:
                # the file cannot take spliced data: what the pipe holds goes by write
                rest = n - out
                while rest:
                    chunk = os.read(read_end, rest)
                    _write_all(self.dst, chunk, dst_off + done + n - rest)
                    rest -= len(chunk)
                raise _Partly(done + n, err) from None
            done += n
        return done

    def _read_write(self, src_off: int, dst_off: int, length: int) -> int:
        done = 0
        while done < length:
            chunk = os.pread(self.src, min(CHUNK, length - done), src_off + done)
            if not chunk:
                break
            _write_all(self.dst, chunk, dst_off + done)
            done += len(chunk)
        return done


class _Partly(Exception):
    """A way of copying stopped after moving some bytes (err says why)."""

    def __init__(self, moved: int, err: OSError):
        super().__init__(moved, err)
        self.moved = moved
        self.err = err


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    n = 0
    while n < len(data):
        n += os.pwrite(fd, view[n:], offset + n)
