"""qemu-monitor-event's --regex filter, compiled and matched as libvirt does it: by GLib's
GRegex (PCRE2 underneath) with G_REGEX_OPTIMIZE, plus G_REGEX_CASELESS for --no-case
(libvirt 9.0's virDomainQemuMonitorEventStateRegisterID). Using GLib itself gives both the
same pattern language (PCRE, not Python's re) and a bad pattern's error in GLib's words,
e.g. "Error while compiling regular expression ‘(’ at char 1: missing terminating )".

GLib is loaded through ctypes from the library every libvirt-capable host has; where it is
missing, Python's re stands in and its error is put in the same sentence.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_G_REGEX_CASELESS = 1 << 0
_G_REGEX_OPTIMIZE = 1 << 13


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


_glib: ctypes.CDLL | None | bool = False      # False: not looked for yet


def _load_glib() -> ctypes.CDLL | None:
    global _glib
    if _glib is False:
        try:
            lib = ctypes.CDLL("libglib-2.0.so.0")
        except OSError:
            _glib = None
        else:
            lib.g_regex_new.restype = ctypes.c_void_p
            lib.g_regex_new.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                        ctypes.POINTER(ctypes.POINTER(_GError))]
            lib.g_regex_match.restype = ctypes.c_int
            lib.g_regex_match.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
            lib.g_error_free.argtypes = [ctypes.POINTER(_GError)]
            _glib = lib
    return _glib or None


class RegexError(ValueError):
    """A pattern GRegex refuses; the message is GLib's."""


def compile_filter(pattern: str, caseless: bool) -> Callable[[str], bool]:
    """A matcher for event names (a search, as g_regex_match: anywhere in the name)."""
    glib = _load_glib()
    if glib is None:
        return _compile_with_re(pattern, caseless)
    error = ctypes.POINTER(_GError)()
    flags = _G_REGEX_OPTIMIZE | (_G_REGEX_CASELESS if caseless else 0)
    regex = glib.g_regex_new(pattern.encode(), flags, 0, ctypes.byref(error))
    if not regex:
        message = error.contents.message.decode(errors="replace") if error else "unknown error"
        if error:
            glib.g_error_free(error)
        raise RegexError(message)
    # the compiled GRegex lives as long as the listener: one per command, never freed early

    def matches(name: str) -> bool:
        return bool(glib.g_regex_match(regex, name.encode(), 0, None))
    return matches


def _compile_with_re(pattern: str, caseless: bool) -> Callable[[str], bool]:
    import re
    try:
        compiled = re.compile(pattern, re.IGNORECASE if caseless else 0)
    except re.error as err:
        raise RegexError("Error while compiling regular expression \u2018%s\u2019 at char %d: %s"
                         % (pattern, err.pos or 0, err.msg)) from None
    return lambda name: compiled.search(name) is not None
