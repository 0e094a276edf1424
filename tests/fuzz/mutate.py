"""A small deterministic mutation engine for the fuzz targets (no coverage feedback: the
long run uses atheris for that). Byte mutations aim at binary headers (fields set to
boundary values, truncations, splices); text mutations aim at XML (values and texts
replaced by hostile strings, elements dropped or repeated, entity and DTD preambles)."""

from __future__ import annotations

import random
import re
import struct

INTERESTING_INTS = (0, 1, 2, 7, 8, 9, 16, 48, 72, 104, 112, 255, 256, 511, 512, 4095, 4096, 65535, 65536,
                    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 - 1)

HOSTILE_STRINGS = (
    "", " ", "/", "..", "../../../etc/passwd", "a/b", "/etc/shadow", "/dev/zero", "/proc/self/mem",
    "x\ny", "\t", "é中文🙂", "\u202e", "\ufeff", "A" * 70000, "-1", "0", "18446744073709551616",
    "99999999999999999999999", "0x10", "1e9", "yes", "no", "on", "nbd://h/x", "file:/etc/passwd",
    "${HOME}", "%s%n%x", "'\"", "&amp;", "&lt;x/&gt;", "&#x10FFFF;", "<![CDATA[x]]>", "<x/>",
    "qemu:///system", "vda", "hda", "sda", "00000000-0000-0000-0000-000000000000", "pc-q35-7.2",
)

PREAMBLES = (
    '<?xml version="1.0"?>\n',
    '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n',
    '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n',
    '<!DOCTYPE d SYSTEM "http://127.0.0.1:1/x.dtd">\n',
    '<?xml-stylesheet href="file:///etc/passwd"?>\n',
    '<?xml version="1.0" encoding="UTF-16"?>\n',
)

_VALUE = re.compile(r"""(=\s*)(['"])(.*?)\2""", re.DOTALL)
_TEXT = re.compile(r">([^<>]*)<")
_ELEMENT = re.compile(r"<([A-Za-z_][\w.-]*)\b[^<>]*?(/>|>[^<>]*</\1>)")


class Mutator:
    def __init__(self, seed: int, corpus: list[bytes]):
        self.rnd = random.Random(seed)
        self.corpus = [c for c in corpus if c] or [b"\0"]

    # --- binary ----------------------------------------------------------

    def bytes_(self, data: bytes | None = None) -> bytes:
        rnd = self.rnd
        buf = bytearray(data if data is not None else rnd.choice(self.corpus))
        for _ in range(rnd.choice((1, 1, 2, 3, 5, 8))):
            op = rnd.randrange(9)
            span = min(len(buf), 1024) or 1
            pos = rnd.randrange(span) if rnd.random() < 0.8 else rnd.randrange(len(buf) or 1)
            if op == 0 and buf:
                buf[pos % len(buf)] ^= 1 << rnd.randrange(8)
            elif op == 1 and buf:
                buf[pos % len(buf)] = rnd.choice((0, 1, 0x7F, 0x80, 0xFF, rnd.randrange(256)))
            elif op in (2, 3):
                width, endian = rnd.choice((2, 4, 8)), rnd.choice("<>")
                value = rnd.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
                packed = struct.pack(endian + {2: "H", 4: "I", 8: "Q"}[width], value)
                at = pos - pos % width
                buf[at:at + width] = packed
            elif op == 4:
                del buf[rnd.choice((0, 4, 8, 48, 72, 104, 512, pos)):]
            elif op == 5 and buf:
                end = min(len(buf), pos + rnd.randrange(1, 64))
                del buf[pos:end]
            elif op == 6:
                buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 32)))
            elif op == 7:
                other = rnd.choice(self.corpus)
                cut = rnd.randrange(len(other) or 1)
                buf[pos:] = other[cut:cut + rnd.randrange(1, 2048)]
            else:
                name = rnd.choice((b"/etc/passwd", b"base.img", b"../x", b"/dev/zero", b"json:{}",
                                   b"nbd://127.0.0.1", b"\0", b"a" * 1100, b"image"))
                buf[pos:pos + len(name)] = name
        return bytes(buf)

    # --- XML -------------------------------------------------------------

    def text(self, data: bytes | None = None) -> bytes:
        rnd = self.rnd
        doc = (data if data is not None else rnd.choice(self.corpus)).decode("utf-8", "replace")
        for _ in range(rnd.choice((1, 1, 2, 3))):
            op = rnd.randrange(8)
            if op in (0, 1):
                doc = _replace_one(rnd, _VALUE, doc, lambda m: m.group(1) + m.group(2)
                                   + _quoted(rnd.choice(HOSTILE_STRINGS), m.group(2)) + m.group(2))
            elif op in (2, 3):
                doc = _replace_one(rnd, _TEXT, doc, lambda m: ">" + _escaped(rnd.choice(HOSTILE_STRINGS)) + "<")
            elif op == 4:
                doc = _replace_one(rnd, _ELEMENT, doc, lambda m: "")
            elif op == 5:
                doc = _replace_one(rnd, _ELEMENT, doc, lambda m: m.group(0) * rnd.choice((2, 3, 50)))
            elif op == 6:
                doc = rnd.choice(PREAMBLES) + doc
            else:
                return self.bytes_(doc.encode())
        return doc.encode("utf-8", "surrogatepass")


def _replace_one(rnd, pattern, doc: str, make) -> str:
    matches = list(pattern.finditer(doc))
    if not matches:
        return doc
    m = rnd.choice(matches)
    return doc[:m.start()] + make(m) + doc[m.end():]


def _escaped(value: str) -> str:
    # Entity-looking strings stay raw so the parser sees them; others are escaped for text.
    if value.startswith(("&", "<")):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;")


def _quoted(value: str, quote: str) -> str:
    return _escaped(value).replace(quote, "&apos;" if quote == "'" else "&quot;")
