"""Identifiers and numbers as libvirt reads them: UUIDs, disk names, unsigned decimals.

Plain string work with no lxml: a lookup by UUID on test:///default, or a
node file's numbers, must not load the XML stack.
"""

from __future__ import annotations

import os

_DISK_PREFIXES = ("fd", "hd", "vd", "sd", "xvd", "ubd")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_uint(text: str | None, maximum: int = 2**64 - 1) -> int | None:
    """An unsigned decimal: ASCII digits only (not '²' or '١', which str.isdigit
    accepts), at most ``maximum``; None for anything else. No whitespace is
    skipped: callers strip where libvirt does."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):    # also keeps int() under its digit limit
        return None
    value = int(digits)
    return value if value <= maximum else None


def parse_uuid(text: str) -> str | None:
    """libvirt's virUUIDParse: 32 hex digits, with '-' and spaces allowed between; canonical form."""
    digits = []
    for ch in text.strip():
        if ch in "- ":
            continue
        if ch not in _HEX_DIGITS:
            return None
        digits.append(ch.lower())
    if len(digits) != 32:
        return None
    h = "".join(digits)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def new_uuid() -> str:
    """A random (version 4) UUID; os.urandom directly, because the uuid module
    drags platform and friends into every command's start-up."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40      # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80      # RFC 4122 variant
    h = raw.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def disk_name_to_index(name: str) -> int:
    """libvirt's virDiskNameToIndex: 'vda' -> 0, 'hdc' -> 2, 'sdaa' -> 26; -1 if unknown."""
    for prefix in sorted(_DISK_PREFIXES, key=len, reverse=True):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            break
    else:
        return -1
    index = 0
    count = 0
    for ch in rest:
        if not ("a" <= ch <= "z"):
            break
        index = (index + (1 if count else 0)) * 26 + (ord(ch) - ord("a"))
        count += 1
    if count == 0 or (rest[count:] and parse_uint(rest[count:]) is None):
        return -1
    return index
