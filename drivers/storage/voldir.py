"""Volumes of a `dir` pool: the image files in its directory.

Read with pyvirsh's own prober (probe.py), the way libvirt's dir pools read
them: a volume's format is probed from its magic (it is the pool's file, not a
guest's disk yet), its capacity is its header's virtual size. A backing file's
format comes from the header that names it; when the header records none, the
backing file is probed only if it has no backing file of its own - the rule a
domain start applies (chain.py) - and is otherwise shown without a format.

Changes go through the file system only: a new volume's file is created with
O_EXCL before anything is written to it (two concurrent creates of one name:
one wins, the other fails and touches nothing), and removed again when the
creation fails half way.
"""

from __future__ import annotations

import errno
import os
import stat as _stat

from ..api import DriverError, ErrorCode, os_reason
from .imageformats import FORMATS
from .rangecopy import RangeCopier

# The prober, qemu-img and the volume XML are imported where used: vol-upload, vol-download
# and the lookups need none of them. The type checker reads any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .probe import ImageHeader
    from .voldef import VolumeDef

# Formats pyvirsh creates: raw itself, the others with qemu-img.
CREATABLE = ("raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "qcow")
COPY_CHUNK = 1 << 20


def _system(what: str, err: OSError) -> DriverError:
    return DriverError(ErrorCode.SYSTEM_ERROR, "%s: %s" % (what, os_reason(err)))


TEMP_PREFIX = ".pyvirsh-"      # pyvirsh's own temporary files in a pool: never volumes


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def list_names(directory: str) -> list[str]:
    """The pool's volumes: its regular files and directories (as libvirt lists them),
    pyvirsh's temporaries left out."""
    try:
        entries = list(os.scandir(directory))
    except OSError as err:
        raise _system("cannot open directory '%s'" % directory, err) from None
    names = []
    for entry in entries:
        if is_temporary(entry.name):
            continue
        try:
            if entry.is_file() or entry.is_dir():
                names.append(entry.name)
        except OSError:
            continue
    return names


def check_name(name: str) -> None:
    if "/" in name:
        raise DriverError(ErrorCode.OPERATION_INVALID, "volume name '%s' cannot contain '/'" % name)
    if name in ("", ".", "..") or is_temporary(name) or "\0" in name:
        raise DriverError(ErrorCode.OPERATION_INVALID, "volume name '%s' is not usable as a file name in a dir "
                          "pool" % name)


class VolumeFacts:
    """What one volume file is: format, capacity and the header behind them."""

    def __init__(self, path: str, st, fmt: str, header: ImageHeader | None):
        self.path = path
        self.st = st
        self.format = fmt
        self.header = header

    @property
    def is_dir(self) -> bool:
        return _stat.S_ISDIR(self.st.st_mode)

    @property
    def capacity(self) -> int:
        if self.is_dir:
            return 0                # libvirt's figures for a directory volume
        if self.header is not None and self.header.virtual_size is not None:
            return self.header.virtual_size
        return self.st.st_size

    @property
    def allocation(self) -> int:
        return 0 if self.is_dir else self.st.st_blocks * 512

    def refuse_dir(self) -> None:
        """libvirt's words for a change that needs a file (wipe, resize)."""
        if self.is_dir:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "Failed to open storage volume with path '%s': Is a "
                              "directory" % self.path)

    def backing_path(self) -> str | None:
        name = self.header.backing_name if self.header is not None else None
        if not name:
            return None
        return name if os.path.isabs(name) else os.path.join(os.path.dirname(self.path), name)

    def backing(self):
        """(path, format or None, stat or None) of the backing file, None without one."""
        path = self.backing_path()
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return (path, self.header.backing_format, None)
        fmt = self.header.backing_format
        if fmt is None:
            from . import probe

            # Not recorded: probe only an image that names no backing file of its own.
            try:
                guessed = probe.detect_format(path)
                if probe.read_header(path, guessed).backing_name is None:
                    fmt = guessed
            except DriverError:
                fmt = None
        return (path, fmt, st)

    def to_xml(self, name: str) -> str:
        from .voldef import volume_xml

        return volume_xml(name, self.path, self.format, self.capacity, self.allocation, self.st, self.backing())


def describe(path: str) -> VolumeFacts:
    """Stat and probe one volume file (one open: a pool of a thousand volumes is listed often)."""
    from . import probe

    if os.path.isdir(path):
        try:
            return VolumeFacts(path, os.stat(path), "dir", None)
        except OSError as err:
            raise _system("cannot stat file '%s'" % path, err) from None
    try:
        fd = probe.open_image(path)
    except OSError as err:
        raise _system("cannot open file '%s'" % path, err) from None
    try:
        st = os.fstat(fd)
        try:
            first = os.pread(fd, probe.FIRST_READ, 0)
            fmt = probe.detect_from_fd(fd, path, first)
            header = probe.header_from_fd(fd, path, fmt, st, first)
        except (DriverError, OSError):
            fmt, header = "raw", None       # an unreadable or damaged header: the bytes as they are
    finally:
        os.close(fd)
    return VolumeFacts(path, st, fmt, header)


# ---------------------------------------------------------------------------
# Creating
# ---------------------------------------------------------------------------

def _reserve(path: str, mode: int) -> int:
    """The new volume's file, created exclusively: the only way a create claims a name."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise DriverError(ErrorCode.RAW, "storage volume '%s' exists already" % os.path.basename(path)) from None
    except OSError as err:
        raise _system("cannot create volume '%s'" % path, err) from None


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS[1:]:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "unknown volume format type %s" % fmt)
    if fmt not in CREATABLE:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "pyvirsh cannot create volumes of format '%s' (it creates "
                          "%s)" % (fmt, ", ".join(CREATABLE)))


def _preallocate(fd: int, path: str, offset: int, length: int) -> None:
    if length <= 0:
        return
    try:
        os.posix_fallocate(fd, offset, length)
    except OSError as err:
        raise _system("cannot allocate %d bytes in volume '%s'" % (length, path), err) from None


def create(path: str, vdef: VolumeDef, prealloc_metadata: bool) -> None:
    """A new volume file at path from its definition (backing already checked by the caller)."""
    from .qemuimg import qemu_img
    from .voldef import MAX_SIZE

    fmt = vdef.format or "raw"
    _check_format(fmt)
    if vdef.capacity > MAX_SIZE:
        raise DriverError(ErrorCode.INVALID_ARG, "volume capacity %d is too large" % vdef.capacity)
    if fmt == "raw" and vdef.backing_path is not None:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "backing storage not supported for raw volumes")
    if prealloc_metadata and fmt != "qcow2":
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "metadata preallocation only available with qcow2")
    fd = _reserve(path, vdef.mode if vdef.mode is not None else 0o600)
    try:
        if fmt == "raw":
            allocation = vdef.capacity if vdef.allocation is None else min(vdef.allocation, vdef.capacity)
            _preallocate(fd, path, 0, allocation)
            try:
                os.ftruncate(fd, vdef.capacity)
            except OSError as err:
                raise _system("cannot extend file '%s'" % path, err) from None
        else:
            os.close(fd)
            fd = -1
            qemu_img(*_create_args(path, fmt, vdef, prealloc_metadata))
    except BaseException:
        if fd >= 0:
            os.close(fd)
            fd = -1
        _unlink_quietly(path)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _create_args(path: str, fmt: str, vdef: VolumeDef, prealloc_metadata: bool) -> list[str]:
    args = ["create", "-q", "-f", fmt]
    if vdef.backing_path is not None:
        args += ["-b", vdef.backing_path, "-F", vdef.backing_format or "raw"]
    options = []
    if fmt == "qcow2":
        # libvirt 9.0 makes qcow2 v2 (compat 0.10) unless the XML asks for another.
        options.append("compat=%s" % (vdef.compat or "0.10"))
        if vdef.lazy_refcounts:
            options.append("lazy_refcounts=on")
        if prealloc_metadata:
            # libvirt's rule: metadata only when less than the capacity is to be allocated
            allocation = vdef.capacity if vdef.allocation is None else vdef.allocation
            options.append("preallocation=%s" % ("metadata" if allocation < vdef.capacity else "falloc"))
    if options:
        args += ["-o", ",".join(options)]
    # qemu-img takes the size in KiB, rounded up, as libvirt passes it.
    return args + [path, "%dK" % -(-vdef.capacity // 1024)]


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def copy_from(path: str, vdef: VolumeDef, source: VolumeFacts, prealloc_metadata: bool) -> None:
    """A new volume holding the guest-visible data of source (vol-clone, vol-create-from):
    qemu-img convert, which reads the whole chain and writes holes as holes."""
    from .qemuimg import qemu_img

    fmt = vdef.format or source.format
    _check_format(fmt)
    fd = _reserve(path, vdef.mode if vdef.mode is not None else 0o600)
    os.close(fd)
    try:
        args = ["convert", "-q", "-f", source.format, "-O", fmt]
        if fmt == "qcow2":
            options = ["compat=%s" % (vdef.compat or "0.10")]
            if prealloc_metadata:
                options.append("preallocation=metadata")
            args += ["-o", ",".join(options)]
        qemu_img(*args, source.path, path)
        if vdef.capacity > source.capacity:
            qemu_img("resize", "-q", "-f", fmt, path, str(vdef.capacity))
    except BaseException:
        _unlink_quietly(path)
        raise


# ---------------------------------------------------------------------------
# Deleting, wiping, resizing
# ---------------------------------------------------------------------------

def delete(path: str) -> None:
    if os.path.isdir(path):
        try:
            os.rmdir(path)
        except OSError as err:
            raise _system("cannot remove directory '%s'" % path, err) from None
        return
    try:
        os.unlink(path)
    except OSError as err:
        raise _system("cannot unlink file '%s'" % path, err) from None


def wipe_zero(facts: VolumeFacts) -> None:
    """--algorithm zero. A raw volume reads as zeros and keeps its size (its blocks are
    released). Any other format is made again, empty, with its format, capacity and
    backing file: the data is gone and the image stays usable (libvirt overwrites the
    header too, leaving a raw file of zeros)."""
    facts.refuse_dir()
    path = facts.path
    if facts.format == "raw":
        try:
            with open(path, "r+b") as f:
                f.truncate(0)
                f.truncate(facts.st.st_size)
                os.fsync(f.fileno())
        except OSError as err:
            raise _system("cannot wipe volume '%s'" % path, err) from None
        return
    from .qemuimg import qemu_img
    from .voldef import VolumeDef

    vdef = VolumeDef(os.path.basename(path), facts.capacity, None, facts.format)
    backing = facts.backing()
    if backing is not None and facts.header is not None:     # a backing file is named by a header
        vdef.backing_path = facts.header.backing_name
        vdef.backing_format = backing[1]
    if facts.header is not None and facts.header.compat:
        vdef.compat = facts.header.compat
    tmp = os.path.join(os.path.dirname(path), "%s%s.wipe%d" % (TEMP_PREFIX, os.path.basename(path), os.getpid()))
    _unlink_quietly(tmp)
    args = _create_args(tmp, facts.format, vdef, False)
    if vdef.backing_path is not None:
        args.insert(1, "-u")         # the backing file is named as it was, not opened
    qemu_img(*args)
    try:
        os.chmod(tmp, facts.st.st_mode & 0o777)
        os.replace(tmp, path)
    except OSError as err:
        _unlink_quietly(tmp)
        raise _system("cannot wipe volume '%s'" % path, err) from None


def resize(facts: VolumeFacts, capacity: int, allocate: bool, shrink: bool) -> None:
    """libvirt's storageVolResize checks, then the resize itself."""
    from .qemuimg import qemu_img
    from .voldef import MAX_SIZE

    if capacity > MAX_SIZE:
        raise DriverError(ErrorCode.INVALID_ARG, "volume capacity %d is too large" % capacity)
    if capacity < facts.capacity and not shrink:
        raise DriverError(ErrorCode.INVALID_ARG, "Can't shrink capacity below current capacity unless shrink "
                          "flag explicitly specified")
    if capacity < facts.allocation and shrink and facts.format == "raw":
        raise DriverError(ErrorCode.INVALID_ARG, "can't shrink capacity below existing allocation")
    path = facts.path
    if facts.format == "raw":
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as err:
            raise _system("cannot open volume '%s'" % path, err) from None
        try:
            if allocate and capacity > facts.capacity:
                _preallocate(fd, path, facts.capacity, capacity - facts.capacity)
            os.ftruncate(fd, capacity)
        except OSError as err:
            raise _system("cannot resize volume '%s'" % path, err) from None
        finally:
            os.close(fd)
        return
    if allocate:
        raise DriverError(ErrorCode.OPERATION_UNSUPPORTED, "preallocate is only supported for raw type volume")
    args = ["resize", "-q", "-f", facts.format]
    if capacity < facts.capacity:
        args.append("--shrink")
    qemu_img(*args, path, str(capacity))


# ---------------------------------------------------------------------------
# Upload and download: the volume file's bytes, as libvirt streams them
# ---------------------------------------------------------------------------

def _data_extents(fd: int, start: int, end: int):
    """(offset, length) of the data regions of [start, end), holes skipped (SEEK_DATA/SEEK_HOLE)."""
    pos = start
    while pos < end:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:
                return
            yield (pos, end - pos)      # no hole support: everything is data
            return
        if data >= end:
            return
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        yield (data, hole - data)
        pos = hole


_PUNCH_HOLE = 0x02 | 0x01      # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
_ZERO_RANGE = 0x10             # FALLOC_FL_ZERO_RANGE: allocated blocks that read as zeros
_libc = None


def _fallocate(fd: int, mode: int, offset: int, length: int) -> bool:
    """fallocate(2) with a mode (os has only posix_fallocate). The C library is the one this
    process already runs on: ctypes.util.find_library would spawn ldconfig for its name."""
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return _libc.fallocate(fd, mode, offset, length) == 0


def _zero(fd: int, offset: int, length: int, sparse: bool, data_end: int) -> None:
    """Make [offset, offset+length) of fd read as zeros: a hole with sparse, allocated
    blocks without it (written zeros where the file system cannot do either). Past
    data_end (the target's size before the transfer) it holds no blocks yet: a hole
    there needs nothing at all."""
    if length <= 0:
        return
    if sparse:
        within = min(offset + length, data_end) - offset
        if within > 0 and not _fallocate(fd, _PUNCH_HOLE, offset, within):
            _write_zeros(fd, offset, within)
        return
    if offset >= data_end:
        try:
            os.posix_fallocate(fd, offset, length)
            return
        except OSError:
            pass
    elif _fallocate(fd, _ZERO_RANGE, offset, length):
        return
    _write_zeros(fd, offset, length)


def transfer(src_path: str, dst_fd: int, src_offset: int, dst_offset: int, length: int | None,
             sparse: bool) -> int:
    """The bytes of src from src_offset (length of them, or to its end) written at dst_offset
    of dst_fd; returns how many. Holes of the source are never read: with sparse they become
    holes of the target, without it allocated zeros. The target only grows, never shrinks.
    A target written in order (a pipe such as /dev/stdout, a terminal) gets every byte from
    src_offset on, the holes as the zeros they read as.

    Where the target already holds blocks, a hole is punched per hole of the source: that
    costs less than emptying the target first as cp's O_TRUNC does (measured, 1 GiB of which
    256 MiB data: 0.5 s against 1.1-2.0 s after a dense write, the same on a fresh volume)."""
    fd = os.open(src_path, os.O_RDONLY | os.O_CLOEXEC)
    copier = None
    try:
        mode = os.fstat(fd).st_mode
        if not (_stat.S_ISREG(mode) or _stat.S_ISBLK(mode)):
            # a pipe (/dev/stdin), a terminal, a character device: no size to stat, so read to
            # its end, as virsh's stream does
            return _stream(fd, dst_fd, src_offset, dst_offset, length)
        copier = RangeCopier(fd, dst_fd)
        size = os.lseek(fd, 0, os.SEEK_END)         # a block device's st_size is 0
        end = size if length is None else min(size, src_offset + length)
        total = max(end - src_offset, 0)
        if not copier.positioned:
            # a pipe (/dev/stdout), a terminal: no holes there, the holes go as the zeros
            # they read as, everything in order (cp does the same)
            copier.copy(src_offset, 0, total)
            return total
        data_end = os.fstat(dst_fd).st_size
        pos = src_offset
        for offset, count in list(_data_extents(fd, src_offset, end)) + [(end, 0)]:
            if offset > pos:
                _zero(dst_fd, dst_offset + pos - src_offset, offset - pos, sparse, data_end)
            if count:
                copier.copy(offset, dst_offset + offset - src_offset, count)
            pos = offset + count
        if total and os.fstat(dst_fd).st_size < dst_offset + total:
            os.ftruncate(dst_fd, dst_offset + total)
        return total
    finally:
        if copier is not None:
            copier.close()
        os.close(fd)


def _stream(src: int, dst: int, src_offset: int, dst_offset: int, length: int | None) -> int:
    """A source read in order (src_offset bytes skipped) written at dst_offset of dst, or in
    order where dst has no positions; more than length bytes is libvirt's full stream."""
    from .rangecopy import positioned
    at = dst_offset if positioned(dst) else None
    skip, total = src_offset, 0
    while True:
        chunk = os.read(src, COPY_CHUNK)
        if not chunk:
            return total
        if skip:
            dropped = min(skip, len(chunk))
            chunk, skip = chunk[dropped:], skip - dropped
        if length is not None and total + len(chunk) > length:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot write to stream: No space left on device")
        view = memoryview(chunk)
        while view:
            done = os.write(dst, view) if at is None else os.pwrite(dst, view, at + total)
            view, total = view[done:], total + done


def _write_zeros(fd: int, offset: int, length: int) -> None:
    zeros = bytes(min(COPY_CHUNK, length))
    done = 0
    while done < length:
        done += os.pwrite(fd, zeros[:min(len(zeros), length - done)], offset + done)


def is_volume(path: str) -> bool:
    """A regular file or a directory: what a dir pool counts as a volume."""
    try:
        mode = os.stat(path).st_mode
        return (_stat.S_ISREG(mode) or _stat.S_ISDIR(mode)) and not is_temporary(os.path.basename(path))
    except OSError:
        return False
