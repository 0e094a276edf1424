"""Keycodes for send-key: the names virsh accepts and libvirt's translation between codesets.

virsh reads a keycode as a number (0 to 0xffff, C's base prefixes) or a name of the codeset's
name table (linux, os_x and win32 have one). The one table behind both is libvirt 9.0's,
generated into keycodetable.py (tests/gen_keycode_table.py; libvirt builds it from
keycodemapdb's keymaps.csv): a row per key, its number in every codeset. Translating is
libvirt's virKeycodeValueTranslate: the first row (in Linux keycode order) whose number in
the source codeset is the key gives the number in the target codeset, so a key with no number
there translates to 0 (os_x: 0xff), as with libvirt. QEMU's send-key takes qnum numbers;
the QEMU driver translates every other codeset to them and passes qnum keys on as given.
"""

from __future__ import annotations

from .keycodetable import NAMES, ROWS

# codeset names as virsh takes them (libvirt's virKeycodeSet order: the index is the number)
CODESETS = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum")
LINUX, XT, ATSET1, QNUM = 0, 1, 2, 9
ALIASES = {"rfb": "qnum"}       # the codeset's name before libvirt 4.2


def codeset_number(name: str) -> int | None:
    """The codeset a --codeset word names, or None (virsh: "unknown codeset")."""
    name = ALIASES.get(name, name)
    return CODESETS.index(name) if name in CODESETS else None


def keycode_from_name(codeset: int, name: str) -> int | None:
    """A key name of the codeset's name table (virKeycodeValueFromString), or None."""
    return NAMES.get(codeset, {}).get(name)


def translate(source: int, target: int, code: int) -> int | None:
    """The key `code` of codeset `source` in codeset `target`, or None when no key has it."""
    for row in ROWS:
        if row[source] == code:
            return row[target]
    return None


def to_qnum(codeset: int, code: int) -> int | None:
    """The key as QEMU's send-key number, or None when it cannot be translated
    (libvirt's qemuDomainSendKey: qnum keys go to QEMU as given)."""
    return code if codeset == QNUM else translate(codeset, QNUM, code)
