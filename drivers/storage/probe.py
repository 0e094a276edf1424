"""pyvirsh's own disk-image header prober.

Reads just enough of an image to learn what libvirt learns from it: the format
(by magic, only when a caller explicitly asks), the virtual size, the backing
file name exactly as stored, the backing format the header records (if any),
a qcow2 external data file, the cluster size and whether it is encrypted.

Every parser validates offsets and lengths before use: a corrupt, truncated or
hostile header gives a :class:`DriverError` with a clear message, never an
IndexError, struct.error or UnicodeDecodeError.

Importing this module costs almost nothing (os and struct only).  If the
environment variable ``PYVIRSH_PROBE_AUDIT`` names a file, every path the
prober opens is appended to it as one line, so that tests running pyvirsh in
another process can prove which images were (or were not) opened.
"""

from __future__ import annotations

import os
import stat as _stat
import struct

from ..api import DriverError, ErrorCode, os_reason
# the format names live in imageformats.py; importers of probe.FORMATS find them here too
from .imageformats import BACKING_FORMATS, FORMATS  # noqa: F401

AUDIT_ENV = "PYVIRSH_PROBE_AUDIT"

FIRST_READ = 4096             # one read covers header, extensions and backing name of real images
MAX_BACKING_NAME = 1023       # qcow/qcow2 limit (QEMU and libvirt)
MAX_QED_BACKING_NAME = 4095   # QED stores up to PATH_MAX - 1
MAX_DESCRIPTOR = 64 * 1024    # a VMDK text descriptor is a few hundred bytes
MAX_VIRTUAL_SIZE = (1 << 63) - 1   # anything above cannot be an off_t

QCOW2_EXT_END = 0
QCOW2_EXT_BACKING_FORMAT = 0xE2792ACA
QCOW2_EXT_DATA_FILE = 0x44415441
QCOW2_INCOMPAT_DIRTY = 1 << 0
QCOW2_INCOMPAT_CORRUPT = 1 << 1
QCOW2_INCOMPAT_DATA_FILE = 1 << 2
QCOW2_INCOMPAT_KNOWN = 0x1F    # dirty, corrupt, data file, compression type, extended L2
QCOW2_COMPAT_LAZY_REFCOUNTS = 1 << 0
QCOW2_AUTOCLEAR_DATA_FILE_RAW = 1 << 1

QED_F_BACKING_FILE = 0x01
QED_F_NEED_CHECK = 0x02
QED_F_BACKING_FORMAT_NO_PROBE = 0x04
QED_F_KNOWN = 0x07

# magic, version, backing offset, backing size, cluster_bits (qcow2) or mtime (qcow), size
_QCOWX = struct.Struct(">4sIQIIQ")
_QCOW2_CRYPT = struct.Struct(">I")        # at 32
_QCOW2_V3 = struct.Struct(">QQQII")       # at 72: incompat, compat, autoclear, refcount_order, header_length
_QCOW1_REST = struct.Struct(">BBHI")      # at 32: cluster_bits, l2_bits, padding, crypt_method
_EXT = struct.Struct(">II")
_QED = struct.Struct("<4sIIIQQQQQII")      # 64 bytes
_VMDK = struct.Struct("<4sIIQQQQ")         # magic, version, flags, capacity, grain, desc offset, desc size
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_LE32 = struct.Struct("<I")
_LE64 = struct.Struct("<Q")


class ImageHeader:
    """What one image's header says (see module docstring)."""

    __slots__ = ("format", "virtual_size", "backing_name", "backing_format", "data_file",
                 "cluster_size", "encrypted", "encryption", "compat", "version", "dirty",
                 "data_file_raw", "lazy_refcounts")

    def __init__(self, format, virtual_size=None, backing_name=None, backing_format=None,
                 data_file=None, cluster_size=None, encrypted=False, encryption=None,
                 compat=None, version=None, dirty=False, data_file_raw=False,
                 lazy_refcounts=False):
        self.format = format
        self.virtual_size = virtual_size
        self.backing_name = backing_name
        self.backing_format = backing_format
        self.data_file = data_file
        self.cluster_size = cluster_size
        self.encrypted = encrypted
        self.encryption = encryption          # None, "aes" (legacy qcow) or "luks"
        self.compat = compat                  # qcow2 only: "0.10" (v2) or "1.1" (v3)
        self.version = version
        self.dirty = dirty
        self.data_file_raw = data_file_raw
        self.lazy_refcounts = lazy_refcounts

    def __repr__(self):
        return "ImageHeader(%s)" % ", ".join(
            "%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


# ---------------------------------------------------------------------------
# Opening, with the audit hook
# ---------------------------------------------------------------------------

def open_image(path: str) -> int:
    """Open *path* read-only for probing and return the fd (raises OSError).

    O_NONBLOCK keeps a hostile backing name pointing at a FIFO from hanging us;
    the caller must fstat and refuse anything but a file, block device or dir.
    """
    audit = os.environ.get(AUDIT_ENV)
    if audit:
        _audit(audit, path)
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)


def _audit(log: str, path: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, os.fsencode(path) + b"\n")   # one write per line: atomic in append mode
    finally:
        os.close(fd)


def _bad(path, fmt, detail) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                       "invalid %s header in image '%s': %s" % (fmt, path, detail))


def _pread(fd, path, n, offset) -> bytes:
    if offset + n > MAX_VIRTUAL_SIZE:
        return b""               # no file is that large; callers report "beyond the end"
    try:
        return os.pread(fd, n, offset)
    except OSError as e:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot read header of '%s': %s"
                          % (path, os.strerror(e.errno) if e.errno else e)) from None


def _read_exact(fd, path, fmt, offset, n, what) -> bytes:
    data = _pread(fd, path, n, offset)
    if len(data) != n:
        raise _bad(path, fmt, "%s at offset %d (%d bytes) lies beyond the end of the file"
                   % (what, offset, n))
    return data


def _bytes_at(fd, path, fmt, buf, offset, n, what) -> bytes:
    """n bytes at offset: from buf (the first bytes already read) if it holds them, else read."""
    if offset + n <= len(buf):
        return buf[offset:offset + n]
    return _read_exact(fd, path, fmt, offset, n, what)


def _text(raw: bytes, path, fmt, what) -> str:
    """A name stored in a header: strict UTF-8, no NUL, not empty."""
    if b"\0" in raw:
        raise _bad(path, fmt, "%s contains a NUL byte" % what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(path, fmt, "%s is not valid UTF-8" % what) from None


def _device_size(fd, st) -> int:
    if _stat.S_ISBLK(st.st_mode):
        return os.lseek(fd, 0, os.SEEK_END)
    return st.st_size


# ---------------------------------------------------------------------------
# Magic probing
# ---------------------------------------------------------------------------

def _stat_image(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as e:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Cannot access storage file '%s': %s"
                          % (path, os_reason(e))) from None


def _open_image_checked(path: str) -> int:
    """open_image with libvirt's error words for a file that cannot be opened."""
    try:
        return open_image(path)
    except OSError as e:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot open file '%s': %s"
                          % (path, os_reason(e))) from None


def detect_format(path: str) -> str:
    """Guess *path*'s format from its magic, as libvirt does ("raw" if nothing matches).

    Never trust the answer for an image a guest could have written: that is the
    whole point of libvirt's probing rules (see chain.py).
    """
    if _stat.S_ISDIR(_stat_image(path).st_mode):
        return "dir"
    fd = _open_image_checked(path)
    try:
        return detect_from_fd(fd, path, _pread(fd, path, FIRST_READ, 0))
    finally:
        os.close(fd)


def detect_from_fd(fd: int, path: str, buf: bytes) -> str:
    """Magic probe on an open image whose first bytes are *buf*.

    Walks libvirt's format table in order; a matching magic with an unknown
    version does not count (libvirt then falls back to raw, with a warning).
    """
    # iso comes first in libvirt's table, and its magic is at 32769.
    if _pread(fd, path, 5, 32769) == b"CD001":
        return "iso"
    if buf[:8] == b"conectix" and len(buf) >= 16 and _BE32.unpack_from(buf, 12)[0] == 0x10000:
        return "vpc"
    if len(buf) >= 72 and buf[64:68] == b"\x7f\x10\xda\xbe" and _LE32.unpack_from(buf, 68)[0] == 0x00010001:
        return "vdi"
    if buf[:16] == b"WithouFreSpacExt":
        return "ploop"
    magic = buf[:4]
    if len(buf) >= 8:
        version = _BE32.unpack_from(buf, 4)[0]
        if magic == b"OOOM" and version == 2:
            return "cow"
        if magic == b"QFI\xfb" and version in (1, 2, 3):
            return "qcow" if version == 1 else "qcow2"
        if magic == b"KDMV" and _LE32.unpack_from(buf, 4)[0] in (1, 2, 3):
            return "vmdk"
    if magic == b"QED\0":
        return "qed"
    return "raw"


# ---------------------------------------------------------------------------
# Header parsing
# ---------------------------------------------------------------------------

def read_header(path: str, fmt: str) -> ImageHeader:
    """Open *path* and parse its header as format *fmt* (a name from FORMATS)."""
    if fmt == "dir":
        return header_from_fd(-1, path, fmt, _stat_image(path))
    fd = _open_image_checked(path)
    try:
        return header_from_fd(fd, path, fmt, os.fstat(fd))
    finally:
        os.close(fd)


def header_from_fd(fd: int, path: str, fmt: str, st, buf: bytes | None = None) -> ImageHeader:
    """Parse the header of an already opened image (*st* = its fstat, *buf* = first bytes if read)."""
    if fmt == "dir":
        return ImageHeader("dir")
    if _stat.S_ISDIR(st.st_mode):
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                          "'%s' is a directory, not a %s image" % (path, fmt))
    parser = _PARSERS.get(fmt)
    if parser is None:
        if fmt not in FORMATS or fmt == "none":
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "unknown storage format '%s' for image '%s'" % (fmt, path))
        # raw, iso, bochs, cloop, dmg, fat, vhd: no backing file, size of the file or device
        return ImageHeader(fmt, virtual_size=_device_size(fd, st))
    if buf is None:
        buf = _pread(fd, path, FIRST_READ, 0)
    return parser(fd, path, buf, st)


def _qcow2(fd, path, buf, st) -> ImageHeader:
    fmt = "qcow2"
    if len(buf) < 72:
        raise _bad(path, fmt, "the file is truncated (%d bytes, a header needs at least 72)" % len(buf))
    magic, version, bofs, bsize, cbits, size = _QCOWX.unpack_from(buf, 0)
    if magic != b"QFI\xfb":
        raise _bad(path, fmt, "no qcow2 magic")
    if version not in (2, 3):
        raise _bad(path, fmt, "unsupported qcow2 version %d" % version)
    if not 9 <= cbits <= 21:
        raise _bad(path, fmt, "unsupported cluster size 2^%d" % cbits)
    csize = 1 << cbits
    if size > MAX_VIRTUAL_SIZE:
        raise _bad(path, fmt, "absurd virtual size %d" % size)
    crypt = _QCOW2_CRYPT.unpack_from(buf, 32)[0]
    if crypt > 2:
        raise _bad(path, fmt, "unknown encryption method %d" % crypt)
    incompat = compat = autoclear = 0
    if version == 2:
        hlen = 72
    else:
        if len(buf) < 104:
            raise _bad(path, fmt, "the file is truncated (%d bytes, a v3 header needs at least 104)"
                       % len(buf))
        incompat, compat, autoclear, _order, hlen = _QCOW2_V3.unpack_from(buf, 72)
        if hlen < 104 or hlen % 8:
            raise _bad(path, fmt, "header length %d is invalid" % hlen)
        if hlen > csize:
            raise _bad(path, fmt, "header length %d exceeds the cluster size %d" % (hlen, csize))
        unknown = incompat & ~QCOW2_INCOMPAT_KNOWN
        if unknown:
            bits = ", ".join(str(b) for b in range(64) if unknown >> b & 1)
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "qcow2 image '%s' uses unknown incompatible features (bits %s, mask 0x%x)"
                              % (path, bits, unknown))
        if incompat & QCOW2_INCOMPAT_CORRUPT:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "qcow2 image '%s' is marked corrupt; check and repair it with "
                              "'qemu-img check -r all' before use" % path)

    # The extensions run from the end of the header to the backing file name
    # (or to the end of the first cluster when there is none).
    if bofs:
        if bofs > csize:
            raise _bad(path, fmt, "backing file name offset %d lies beyond the first cluster (%d bytes)"
                       % (bofs, csize))
        if bofs < hlen:
            raise _bad(path, fmt, "backing file name offset %d lies inside the header (%d bytes)"
                       % (bofs, hlen))
        if bsize > MAX_BACKING_NAME:
            raise _bad(path, fmt, "backing file name length %d exceeds %d bytes"
                       % (bsize, MAX_BACKING_NAME))
        ext_end = bofs
    else:
        bsize = 0
        ext_end = csize

    backing_format = data_file = None
    off = hlen
    while off < ext_end:
        if off + 8 > ext_end:
            raise _bad(path, fmt, "header extension at offset %d runs past the extension area "
                       "ending at %d" % (off, ext_end))
        if off + 8 > len(buf):
            buf = _grow(fd, path, fmt, buf, off + 8, ext_end, "header extension", off)
        etype, elen = _EXT.unpack_from(buf, off)
        if etype == QCOW2_EXT_END:
            break
        start = off + 8
        if elen > ext_end - start:
            raise _bad(path, fmt, "header extension 0x%08x at offset %d (%d bytes) runs past the "
                       "extension area ending at %d" % (etype, off, elen, ext_end))
        if etype == QCOW2_EXT_BACKING_FORMAT or etype == QCOW2_EXT_DATA_FILE:
            if start + elen > len(buf):
                buf = _grow(fd, path, fmt, buf, start + elen, ext_end, "header extension", off)
            raw = buf[start:start + elen]
            if etype == QCOW2_EXT_BACKING_FORMAT:
                if elen >= 16:
                    raise _bad(path, fmt, "backing format extension is %d bytes long" % elen)
                backing_format = _text(raw, path, fmt, "the recorded backing format") or None
            else:
                data_file = _text(raw, path, fmt, "the external data file name") or None
        off = start + ((elen + 7) & ~7)

    backing_name = None
    if bsize:
        raw = _bytes_at(fd, path, fmt, buf, bofs, bsize, "backing file name")
        backing_name = _text(raw, path, fmt, "the backing file name")

    if incompat & QCOW2_INCOMPAT_DATA_FILE:
        if data_file is None:
            raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                              "qcow2 image '%s' uses an external data file but does not record its name"
                              % path)
    else:
        data_file = None     # the extension means nothing without the feature bit
    return ImageHeader(
        fmt, virtual_size=size, backing_name=backing_name,
        backing_format=backing_format if backing_name is not None else None,
        data_file=data_file, cluster_size=csize, encrypted=crypt != 0,
        encryption=(None, "aes", "luks")[crypt], compat="0.10" if version == 2 else "1.1",
        version=version, dirty=bool(incompat & QCOW2_INCOMPAT_DIRTY),
        data_file_raw=bool(autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) and data_file is not None,
        lazy_refcounts=bool(compat & QCOW2_COMPAT_LAZY_REFCOUNTS))


def _grow(fd, path, fmt, buf, need, limit, what, at) -> bytes:
    """Read more of the header so that buf covers [0, need); never past *limit*."""
    want = min(max(need, len(buf) * 2), limit)
    more = _pread(fd, path, want - len(buf), len(buf))
    buf = buf + more
    if len(buf) < need:
        raise _bad(path, fmt, "%s at offset %d lies beyond the end of the file" % (what, at))
    return buf


def _qcow1(fd, path, buf, st) -> ImageHeader:
    fmt = "qcow"
    if len(buf) < 48:
        raise _bad(path, fmt, "the file is truncated (%d bytes, a header needs 48)" % len(buf))
    magic, version, bofs, bsize, _mtime, size = _QCOWX.unpack_from(buf, 0)
    if magic != b"QFI\xfb" or version != 1:
        raise _bad(path, fmt, "no qcow version 1 magic")
    cbits, l2bits, _pad, crypt = _QCOW1_REST.unpack_from(buf, 32)
    if not 9 <= cbits <= 16 or not 6 <= l2bits <= 16:
        raise _bad(path, fmt, "unsupported cluster size 2^%d" % cbits)
    if size > MAX_VIRTUAL_SIZE:
        raise _bad(path, fmt, "absurd virtual size %d" % size)
    backing_name = None
    if bofs and bsize:
        if bsize > MAX_BACKING_NAME:
            raise _bad(path, fmt, "backing file name length %d exceeds %d bytes"
                       % (bsize, MAX_BACKING_NAME))
        if bofs < 48:
            raise _bad(path, fmt, "backing file name offset %d lies inside the header" % bofs)
        raw = _bytes_at(fd, path, fmt, buf, bofs, bsize, "backing file name")
        backing_name = _text(raw, path, fmt, "the backing file name")
    return ImageHeader(fmt, virtual_size=size, backing_name=backing_name,
                       cluster_size=1 << cbits, encrypted=crypt != 0,
                       encryption="aes" if crypt else None, version=1)


def _cow(fd, path, buf, st) -> ImageHeader:
    fmt = "cow"
    if len(buf) < 1044:
        raise _bad(path, fmt, "the file is truncated (%d bytes, a header needs 1044)" % len(buf))
    if buf[:4] != b"OOOM" or _BE32.unpack_from(buf, 4)[0] != 2:
        raise _bad(path, fmt, "no cow version 2 magic")
    raw = buf[8:8 + 1024].split(b"\0", 1)[0]   # NUL-terminated within 1024 bytes
    size = _BE64.unpack_from(buf, 1036)[0]
    if size > MAX_VIRTUAL_SIZE:
        raise _bad(path, fmt, "absurd virtual size %d" % size)
    return ImageHeader(fmt, virtual_size=size,
                       backing_name=_text(raw, path, fmt, "the backing file name") if raw else None,
                       version=2)


def _qed(fd, path, buf, st) -> ImageHeader:
    fmt = "qed"
    if len(buf) < 64:
        raise _bad(path, fmt, "the file is truncated (%d bytes, a header needs 64)" % len(buf))
    (magic, csize, table_size, hclusters, features, _compat, _autoclear, _l1, size,
     bofs, bsize) = _QED.unpack_from(buf, 0)
    if magic != b"QED\0":
        raise _bad(path, fmt, "no QED magic")
    if csize < 4096 or csize > (64 << 20) or csize & (csize - 1):
        raise _bad(path, fmt, "invalid cluster size %d" % csize)
    if not 1 <= table_size <= 16 or table_size & (table_size - 1):
        raise _bad(path, fmt, "invalid table size %d" % table_size)
    unknown = features & ~QED_F_KNOWN
    if unknown:
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                          "QED image '%s' uses unknown features (mask 0x%x)" % (path, unknown))
    if size > MAX_VIRTUAL_SIZE:
        raise _bad(path, fmt, "absurd virtual size %d" % size)
    backing_name = backing_format = None
    if features & QED_F_BACKING_FILE and bsize:
        if bsize > MAX_QED_BACKING_NAME:
            raise _bad(path, fmt, "backing file name length %d exceeds %d bytes"
                       % (bsize, MAX_QED_BACKING_NAME))
        if bofs < 64 or bofs + bsize > hclusters * csize:
            raise _bad(path, fmt, "backing file name at offset %d (%d bytes) lies outside the header"
                       % (bofs, bsize))
        raw = _bytes_at(fd, path, fmt, buf, bofs, bsize, "backing file name")
        backing_name = _text(raw, path, fmt, "the backing file name")
        if features & QED_F_BACKING_FORMAT_NO_PROBE:
            backing_format = "raw"
    return ImageHeader(fmt, virtual_size=size, backing_name=backing_name,
                       backing_format=backing_format, cluster_size=csize,
                       dirty=bool(features & QED_F_NEED_CHECK))


def _vmdk(fd, path, buf, st) -> ImageHeader:
    fmt = "vmdk"
    if buf[:4] == b"KDMV":
        if len(buf) < 44:
            raise _bad(path, fmt, "the file is truncated (%d bytes)" % len(buf))
        _m, version, _flags, capacity, grain, dofs, dsize = _VMDK.unpack_from(buf, 0)
        if version not in (1, 2, 3):
            raise _bad(path, fmt, "unsupported VMDK version %d" % version)
        if capacity > MAX_VIRTUAL_SIZE // 512:
            raise _bad(path, fmt, "absurd capacity %d sectors" % capacity)
        if grain == 0 or grain > (1 << 24):
            raise _bad(path, fmt, "invalid grain size %d" % grain)
        desc = b""
        if dofs and dsize:
            if dsize * 512 > MAX_DESCRIPTOR or dofs > (1 << 40):
                raise _bad(path, fmt, "embedded descriptor at sector %d (%d sectors) is out of range"
                           % (dofs, dsize))
            start, n = dofs * 512, dsize * 512
            if start + n <= len(buf):
                desc = buf[start:start + n]
            else:
                desc = _pread(fd, path, n, start)
                if not desc:
                    raise _bad(path, fmt, "embedded descriptor at offset %d lies beyond the end "
                               "of the file" % start)
        hint = _vmdk_parent(desc, path)
        return ImageHeader(fmt, virtual_size=capacity * 512, backing_name=hint,
                           cluster_size=grain * 512, version=version)
    if not buf.startswith(b"# Disk DescriptorFile"):
        raise _bad(path, fmt, "neither a sparse VMDK (KDMV) nor a VMDK text descriptor")
    if st.st_size > MAX_DESCRIPTOR:
        raise _bad(path, fmt, "text descriptor is %d bytes long" % st.st_size)
    desc = buf if len(buf) >= st.st_size else _pread(fd, path, MAX_DESCRIPTOR, 0)
    sectors = 0
    for line in desc.split(b"\n"):
        words = line.split()
        if len(words) >= 3 and words[0] in (b"RW", b"RDONLY", b"NOACCESS"):
            if not words[1].isdigit() or len(words[1]) > 18:
                raise _bad(path, fmt, "invalid extent line %r" % line.decode("latin-1"))
            sectors += int(words[1])
    if sectors > MAX_VIRTUAL_SIZE // 512:
        raise _bad(path, fmt, "absurd capacity %d sectors" % sectors)
    return ImageHeader(fmt, virtual_size=sectors * 512, backing_name=_vmdk_parent(desc, path))


def _vmdk_parent(desc: bytes, path) -> str | None:
    desc = desc.split(b"\0", 1)[0]
    key = b'parentFileNameHint="'
    i = desc.find(key)
    if i < 0:
        return None
    i += len(key)
    j = desc.find(b'"', i)
    if j < 0:
        raise _bad(path, "vmdk", "unterminated parentFileNameHint in the descriptor")
    if j - i > MAX_QED_BACKING_NAME:
        raise _bad(path, "vmdk", "parentFileNameHint is %d bytes long" % (j - i))
    return _text(desc[i:j], path, "vmdk", "parentFileNameHint") or None


def _sized(offset, mult, fmt_):
    def parse(fd, path, buf, st):
        if len(buf) < offset + 8:
            raise _bad(path, fmt_, "the file is truncated (%d bytes)" % len(buf))
        if fmt_ == "vpc":
            size = _BE64.unpack_from(buf, offset)[0]
        else:
            size = _LE64.unpack_from(buf, offset)[0]
        if size > MAX_VIRTUAL_SIZE // mult:
            raise _bad(path, fmt_, "absurd virtual size %d" % size)
        return ImageHeader(fmt_, virtual_size=size * mult)
    return parse


_PARSERS = {
    "qcow2": _qcow2,
    "qcow": _qcow1,
    "cow": _cow,
    "qed": _qed,
    "vmdk": _vmdk,
    "vpc": _sized(40, 1, "vpc"),      # big-endian "original size" of the footer copy
    "vdi": _sized(368, 1, "vdi"),
    "ploop": _sized(36, 512, "ploop"),
}
