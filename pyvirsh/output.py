"""Everything pyvirsh prints goes through here: virsh's tables, key/value blocks,
extra (quiet-able) messages and errors.

Plain output is byte-identical to virsh 9.0: stdout carries data, stderr carries
'error: ...' lines and job progress, and stdout is flushed before stderr is
written so that '2>&1' interleaves like virsh.
"""

from __future__ import annotations

import sys
import unicodedata


class Output:
    """Where a session writes; quiet mode drops what virsh sends through vshPrintExtra."""

    def __init__(self, stdout=None, stderr=None, quiet: bool = False):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet

    def print(self, text: str) -> None:
        self.stdout.write(text)

    def print_extra(self, text: str) -> None:
        if not self.quiet:
            self.stdout.write(text)

    def error(self, message: str) -> None:
        self.stdout.flush()
        self.stderr.write("error: %s\n" % message)
        self.stderr.flush()

    def progress(self, text: str) -> None:
        """Job progress goes to stderr, unaffected by -q (virsh uses fprintf(stderr))."""
        self.stdout.flush()
        self.stderr.write(text)
        self.stderr.flush()

    def flush(self) -> None:
        try:
            self.stdout.flush()
            self.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


# --------------------------------------------------------------------------
# Tables (virsh's vshTable)
# --------------------------------------------------------------------------

def _safe_cell(text: str) -> str:
    """Show control characters as \\xNN, as vshTableSafeEncode does."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.extend("\\x%02x" % b for b in ch.encode("utf-8"))
    return "".join(out)


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def format_table(header: list[str], rows: list[list[str]], quiet: bool = False) -> str:
    """One leading space per cell, three-space gaps, the last column unpadded.

    With quiet set there is no header and no dashed line, and widths come from
    the data rows only.
    """
    rows = [[_safe_cell(str(c)) for c in row] for row in rows]
    lines_src = rows if quiet else [header] + rows
    ncols = len(header)
    widths = [0] * ncols
    for row in lines_src:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    out = []

    def render(row):
        parts = []
        for i, cell in enumerate(row):
            parts.append(" " + cell)
            if i < ncols - 1:
                parts.append(" " * (widths[i] - display_width(cell) + 2))
        return "".join(parts) + "\n"

    if not quiet:
        out.append(render(header))
        out.append("-" * sum(w + 3 for w in widths) + "\n")
    out.extend(render(row) for row in rows)
    return "".join(out)


def format_kv(pairs, width: int = 15) -> str:
    """virsh's '%-15s %s' blocks (nodeinfo uses width 20)."""
    return "".join("%-*s %s\n" % (width, key, value) for key, value in pairs)


# --------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def pretty_size(value: int) -> tuple[float, str]:
    """virsh's vshPrettyCapacity: the largest unit that keeps the number >= 1."""
    v = float(value)
    for unit in _UNITS:
        if v < 1024 or unit == _UNITS[-1]:
            return v, unit
        v /= 1024
    return v, _UNITS[-1]
