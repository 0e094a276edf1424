"""XML escaping for text and single- or double-quoted attributes (& < > ' ").

Kept apart from xmlutil, which loads lxml: a command that only builds a small
document from strings (echo --xml, blockcopy, snapshot-create-as,
vol-create-as) needs no XML library for that.
"""

from __future__ import annotations


def escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))
