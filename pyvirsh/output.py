"""Everything pyvirsh prints goes through here: virsh's tables, key/value blocks,
extra (quiet-able) messages and errors.

Plain output is byte-identical to virsh 9.0: stdout carries data, stderr carries
'error: ...' lines and job progress, and stdout is flushed before stderr is
written so that '2>&1' interleaves like virsh.
"""

from __future__ import annotations

import os
import sys

# Colours for state words in tables and domstate (only on a terminal, see Output.colour).
# ANSI SGR parameters: fixed codes need no rich Console (tens of ms to build).
GREEN, YELLOW, CYAN, BOLD_RED = "32", "33", "36", "1;31"
STATE_STYLES = {"running": GREEN, "paused": YELLOW, "crashed": BOLD_RED, "in shutdown": YELLOW,
                "pmsuspended": CYAN, "disk-snapshot": CYAN}


class Output:
    """Where a session writes; quiet mode drops what virsh sends through vshPrintExtra.

    Plain text is the default and is byte-identical to virsh. On a terminal,
    unless NO_COLOR is set or --no-color given, rich adds colour (and progress
    bars); --json replaces the data output of the commands that support it with
    JSON documents, and errors with JSON on stderr.
    """

    def __init__(self, stdout=None, stderr=None, quiet: bool = False):
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.quiet = quiet
        self.json = False
        self.colour_allowed = True
        self.json_errors: list[str] = []

    def _tty(self, stream) -> bool:
        if not self.colour_allowed or self.json or os.environ.get("NO_COLOR"):
            return False
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def colour(self) -> bool:
        return self._tty(self.stdout)

    @property
    def colour_stderr(self) -> bool:
        return self._tty(self.stderr)

    def print(self, text: str) -> None:
        self.stdout.write(text)

    def print_extra(self, text: str) -> None:
        # --json keeps stdout for the JSON documents: the chatter virsh prints goes, as with -q.
        if not self.quiet and not self.json:
            self.stdout.write(text)

    def error(self, message: str) -> None:
        if self.json:
            self.json_errors.append(message)
            return
        self.stdout.flush()
        if self.colour_stderr:
            self.stderr.write("%s %s\n" % (self.styled("error:", BOLD_RED, force=True), message))
        else:
            self.stderr.write("error: %s\n" % message)
        self.stderr.flush()

    def emit_json(self, document) -> None:
        import json
        self.stdout.write(json.dumps(document, indent=2) + "\n")

    def flush_json_errors(self) -> None:
        """In --json mode a failed command's error lines become one JSON document on stderr."""
        if not self.json_errors:
            return
        import json
        self.stdout.flush()
        self.stderr.write(json.dumps({"error": {"messages": self.json_errors}}) + "\n")
        self.stderr.flush()
        self.json_errors = []

    def styled(self, text: str, sgr: str | None, force: bool = False) -> str:
        """Text wrapped in an SGR colour code when colour is on (widths are computed before)."""
        if not sgr or not (self.colour or force):
            return text
        return "\x1b[%sm%s\x1b[0m" % (sgr, text)

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


def state_styler(out: Output, column: int):
    """A table styler colouring the state column, or None when colour is off."""
    if not out.colour:
        return None
    return lambda i, text: out.styled(text, STATE_STYLES.get(text)) if i == column else text


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
    import unicodedata      # a C extension to load: only for text beyond ASCII

    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def format_table(header: list[str], rows: list[list[str]], quiet: bool = False, styler=None) -> str:
    """One leading space per cell, three-space gaps, the last column unpadded.

    With quiet set there is no header and no dashed line, and widths come from
    the data rows only. styler(column, text) may wrap a data cell in colour
    codes; padding is computed from the plain text.
    """
    rows = [[_safe_cell(str(c)) for c in row] for row in rows]
    lines_src = rows if quiet else [header] + rows
    ncols = len(header)
    widths = [0] * ncols
    for row in lines_src:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    out = []

    def render(row, style):
        parts = []
        for i, cell in enumerate(row):
            parts.append(" " + (styler(i, cell) if style else cell))
            if i < ncols - 1:
                parts.append(" " * (widths[i] - display_width(cell) + 2))
        return "".join(parts) + "\n"

    if not quiet:
        out.append(render(header, False))
        out.append("-" * sum(w + 3 for w in widths) + "\n")
    out.extend(render(row, styler is not None) for row in rows)
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
    for unit in _UNITS[:-1]:
        if v < 1024:
            return v, unit
        v /= 1024
    return v, _UNITS[-1]
