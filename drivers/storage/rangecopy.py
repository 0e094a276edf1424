"""Byte ranges copied from one open file to another inside the kernel: what vol-upload and
vol-download move (voldir.transfer walks the data extents and calls this for each).

copy_file_range(2) first where the file system may copy by itself: sharing the extents
(btrfs, XFS) or copying on the server (NFS, CIFS). On the plain local ones (ext4, tmpfs...)
copy_file_range only splices in the kernel, through a pipe of 16 pages: every write into
the target is 64 KiB. splice(2) through a pipe of our own of 1 MiB (the most an unprivileged
process may ask for) does the same copy in writes of 1 MiB, which costs a little less.
Measured on ext4 with Linux 6.18, fresh processes, the two ways alternating, CPU time of the
copy: 256 MiB in 64 extents, median 62 ms against 67 (16 pairs, a quiet machine) and 1.6 ms
less per pair (40 pairs, later, every copy slower, ~99 ms; splice faster in 27); a dense
1 GiB 253 against 264 (6 pairs), 9.6 ms less per pair (16 pairs). An earlier measurement had
found the pipe no faster (1 GiB in one process: 361-389 ms against 365-369). Small, but never
a loss in these series: on those file systems splice goes first. Between two file systems
copy_file_range is refused (EXDEV) and splice does it; reads and writes are left for files
that cannot be spliced, and a target written in order (a pipe, a terminal) gets no offsets.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

CHUNK = 1 << 20         # bytes per read and write, when the kernel copies nothing itself
_PIPE_SIZE = 1 << 20    # fs.pipe-max-size's default
_F_SETPIPE_SZ = 1031    # fcntl.F_SETPIPE_SZ (Python >= 3.10 on Linux), spelt out for older ones
# errnos that mean "not this way here", not a failure of the copy
_UNSUPPORTED = frozenset((errno.EINVAL, errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF))
# file systems whose copy_file_range is the kernel's own splice (no copy_file_range or
# remap_file_range of theirs): splice through our larger pipe first there
SPLICE_FIRST = frozenset((b"ext2", b"ext3", b"ext4", b"tmpfs"))
_fs_types: dict[int, bytes | None] = {}     # st_dev -> its file system's type, per process


def fs_type(dev: int) -> bytes | None:
    """The type of the file system on device dev (an st_dev), as /proc/self/mountinfo names
    it (b"ext4"); None when no mount of it is listed there."""
    if dev not in _fs_types:
        found = None
        want = b"%d:%d" % (os.major(dev), os.minor(dev))
        try:
            with open("/proc/self/mountinfo", "rb") as f:
                for line in f:
                    fields = line.split(b" ", 3)
                    if len(fields) > 2 and fields[2] == want and b" - " in line:
                        # "... mount point, options [optional fields] - TYPE SOURCE ..."
                        found = line.split(b" - ", 1)[1].split(b" ", 1)[0]
                        break
        except OSError:
            pass
        _fs_types[dev] = found
    return _fs_types[dev]


def positioned(fd: int) -> bool:
    """Whether fd is written at offsets (a regular file, a block device), not in order (a pipe
    such as /dev/stdout, a terminal, /dev/null)."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISREG(mode) or stat.S_ISBLK(mode)


def _best_ways(src: int, dst: int) -> list[str]:
    """The ways to try, best first, for these two files."""
    if not positioned(dst):
        return ["splice"]           # copy_file_range takes regular files only
    try:
        types = {fs_type(os.fstat(src).st_dev), fs_type(os.fstat(dst).st_dev)}
    except OSError:
        types = {None}
    if types <= SPLICE_FIRST:
        return ["splice"]
    return ["copy_file_range", "splice"]


class RangeCopier:
    """Copies ranges from src to dst (open file descriptors); close() when done."""

    def __init__(self, src: int, dst: int):
        self.src = src
        self.dst = dst
        # a target written in order (a pipe...) takes each range where the last one ended:
        # the dst_off of copy() means nothing to it
        self.positioned = positioned(dst)
        self.ways = _best_ways(src, dst)        # the ways left to try, best first
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
                    out += os.splice(read_end, self.dst, n - out,
                                     offset_dst=dst_off + done + out if self.positioned else None)
            except OSError as err:
                # the file cannot take spliced data: what the pipe holds goes by write
                rest = n - out
                while rest:
                    chunk = os.read(read_end, rest)
                    _write_all(self.dst, chunk, dst_off + done + n - rest if self.positioned else None)
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
            _write_all(self.dst, chunk, dst_off + done if self.positioned else None)
            done += len(chunk)
        return done


class _Partly(Exception):
    """A way of copying stopped after moving some bytes (err says why)."""

    def __init__(self, moved: int, err: OSError):
        super().__init__(moved, err)
        self.moved = moved
        self.err = err


def _write_all(fd: int, data: bytes, offset: int | None) -> None:
    """All of data written at offset (None: where the target is, for one written in order)."""
    view = memoryview(data)
    n = 0
    while n < len(data):
        n += os.write(fd, view[n:]) if offset is None else os.pwrite(fd, view[n:], offset + n)
