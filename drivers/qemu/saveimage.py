"""Save images in libvirt's QEMU format, so virsh and pyvirsh read each other's headers.

    offset 0   magic       16 bytes: "LibvirtQemudSave" ("LibvirtQemudPart" while being written)
    offset 16  version     uint32, 2
               data_len    uint32: XML (NUL-terminated) + cookie + padding
               was_running uint32: 1 when the guest runs after a restore
               compressed  uint32: 0 (raw); pyvirsh writes and reads raw images only
               cookie      uint32: offset of a save cookie inside data, 0 for none
               unused      14 x uint32, zero
    offset 92  the domain XML, NUL, 64 KiB of zeros (room for save-image-define to grow it)
    then       QEMU's migration stream, as `migrate` wrote it

The integers are little-endian on x86 (libvirt writes host order and byte-swaps a header
whose version reads too large). What follows the header is QEMU's own stream; an image
restores in another tool only where both build the same QEMU machine from the XML.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

MAGIC = b"LibvirtQemudSave"
PARTIAL = b"LibvirtQemudPart"
VERSION = 2
# The magic, then 19 uint32 (5 fields, 14 unused), read and written with int.from_bytes and
# to_bytes: struct is a C extension to load, and savestate.py (which imports this) is part of
# every QEMU connection, a storage command's too.
_UINT32S = 19
HEADER_SIZE = 16 + 4 * _UINT32S     # 92
PADDING = 64 * 1024


def _uint32s(raw: bytes, order: Literal["little", "big"]) -> list[int]:
    return [int.from_bytes(raw[at:at + 4], order) for at in range(16, HEADER_SIZE, 4)]


class SaveImage:
    """A save image's header and XML; stream_offset is where QEMU's stream starts."""

    def __init__(self, xml: str, was_running: bool, data_len: int = 0, cookie: str | None = None):
        self.xml = xml
        self.was_running = was_running
        self.data_len = data_len
        self.cookie = cookie

    @property
    def stream_offset(self) -> int:
        return HEADER_SIZE + self.data_len

    def header(self, magic: bytes) -> bytes:
        xml = self.xml.encode() + b"\0"
        cookie = self.cookie.encode() + b"\0" if self.cookie else b""
        if not self.data_len:
            self.data_len = len(xml) + len(cookie) + PADDING
        elif len(xml) + len(cookie) > self.data_len:
            raise DriverError(ErrorCode.OPERATION_FAILED, "new xml too large to fit in file")
        body = xml + cookie
        fields = (VERSION, self.data_len, int(self.was_running), 0, len(xml) if cookie else 0) + (0,) * 14
        return (magic + b"".join(n.to_bytes(4, "little") for n in fields)
                + body + bytes(self.data_len - len(body)))


def _fail(message: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_FAILED, message)


def read_image(path: str) -> SaveImage:
    """The header and XML of a save image, checked as libvirt checks them."""
    try:
        with open(path, "rb") as f:
            return read_from(f)
    except OSError as err:
        raise DriverError(ErrorCode.SYSTEM_ERROR, "Failed to open file '%s': %s" % (path, err.strerror)) from None


def read_from(f) -> SaveImage:
    raw = f.read(HEADER_SIZE)
    if len(raw) != HEADER_SIZE:
        raise _fail("failed to read qemu header")
    magic = raw[:16]
    version, data_len, was_running, compressed, cookie_at, *_ = _uint32s(raw, "little")
    if magic != MAGIC:
        raise _fail("save image is incomplete" if magic == PARTIAL else "image magic is incorrect")
    if version > VERSION:
        version, data_len, was_running, compressed, cookie_at, *_ = _uint32s(raw, "big")
    if version > VERSION:
        raise _fail("image version is not supported (%d > %d)" % (version, VERSION))
    if compressed != 0:
        # libvirt pipes gzip/xz/... images through a decompressor; pyvirsh does not.
        raise DriverError(ErrorCode.CONFIG_UNSUPPORTED, "compressed save image (format %d) is not supported"
                          % compressed)
    if data_len <= 0 or data_len > 64 * 1024 * 1024:
        raise _fail("invalid header data length: %d" % data_len)
    data = f.read(data_len)
    if len(data) != data_len:
        raise _fail("failed to read domain XML")
    xml_len = cookie_at or data_len
    xml = data[:xml_len].split(b"\0", 1)[0].decode("utf-8", "replace")
    cookie = data[xml_len:].split(b"\0", 1)[0].decode("utf-8", "replace") if cookie_at else None
    return SaveImage(xml, bool(was_running), data_len, cookie)


def rewrite_header(path: str, image: SaveImage) -> None:
    """save-image-define: the new XML written in place, within the image's data_len.

    The header is one write of at most data_len + 96 bytes at offset 0 (the QEMU stream
    behind it is never touched); a pyvirsh killed mid-write leaves the magic as written last."""
    block = image.header(PARTIAL)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, block, 0)
        os.fsync(fd)
        os.pwrite(fd, MAGIC, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
