"""Option values as virsh reads them: integers, scaled sizes, timeouts, bandwidths.

Each reader raises CommandError with virsh's exact words, so commands simply
call ``values.integer('start', text)`` and let the error propagate.
"""

from __future__ import annotations

from .errors import CommandError

INT_MAX = 2**31 - 1
ULLONG_MAX = 2**64 - 1
_DIGITS = frozenset("0123456789")

# The readers below are written out rather than as regular expressions: `re` is a few
# milliseconds of every one-shot command's start, and these are the only patterns it runs.


def _leading_number(text: str) -> tuple[str, str] | None:
    """Leading whitespace skipped, an optional sign and ASCII digits; (number, rest) or None."""
    body = text.lstrip()            # str.isspace() characters: what the pattern's \s matched
    start = 1 if body[:1] in ("+", "-") else 0
    end = start
    while end < len(body) and body[end] in _DIGITS:
        end += 1
    if end == start:
        return None
    return body[:end], body[end:]


def to_int(text: str, lo: int, hi: int) -> int | None:
    """strtol-like parse of a whole string, or None (virStrToLong_*)."""
    if text is None:
        return None
    parts = _leading_number(text)
    if parts is None or parts[1]:
        return None
    value = int(parts[0])
    if lo <= value <= hi:
        return value
    return None


def integer(name: str, text: str | None, lo: int = -2**31, hi: int = INT_MAX) -> int | None:
    """A plain number option; None when the option was not given."""
    if text is None:
        return None
    value = to_int(text, lo, hi)
    if value is None:
        raise CommandError("Numeric value '%s' for <%s> option is malformed or out of range"
                           % (text, name))
    return value


def scale_suffix(suffix: str, default_scale: int) -> int:
    """Bytes per unit for a virsh size suffix (virScaleInteger); raises ValueError."""
    if not suffix:
        return default_scale
    low = suffix.lower()
    if low in ("b", "byte", "bytes"):
        return 1
    if len(suffix) == 1 or low[1:] == "ib":
        base = 1024
    elif len(suffix) == 2 and low[1] == "b":
        base = 1000
    else:
        raise ValueError("unknown suffix '%s'" % suffix)
    exponent = "kmgtpe".find(low[0]) + 1
    if exponent == 0:
        raise ValueError("unknown suffix '%s'" % suffix)
    return base ** exponent


def scaled(name: str, text: str | None, default_scale: int = 1, limit: int = ULLONG_MAX) -> int | None:
    """A size with an optional unit suffix (b, KiB, MB, G, ...)."""
    if text is None:
        return None
    parts = _leading_number(text)
    message = "Scaled numeric value '%s' for <%s> option is malformed or out of range" % (text, name)
    if parts is None or int(parts[0]) < 0:
        raise CommandError(message)
    number, suffix = int(parts[0]), parts[1]
    try:
        scale = scale_suffix(suffix, default_scale)
    except ValueError as err:
        raise CommandError(message, "invalid argument: %s" % err) from None
    if number and number > limit // scale:
        raise CommandError(message, "numerical overflow: value too large: %d%s" % (number, suffix))
    return number * scale


def timeout_ms(text: str | None) -> int | None:
    """--timeout seconds as milliseconds; 0 and negative values are refused."""
    if text is None:
        return None
    value = to_int(text, 1, INT_MAX // 1000)
    if value is None:
        raise CommandError("Numeric value '%s' for <timeout> option is malformed or out of range" % text)
    return value * 1000


def bandwidth(text: str | None, in_bytes: bool) -> int:
    """Block-job bandwidth: MiB/s (bytes/s with --bytes); a suffix means bytes."""
    if text is None:
        return 0
    plain = to_int(text, -2**63, ULLONG_MAX)
    if plain is not None:
        return plain % 2**64      # virsh wraps negative values into the unsigned type
    parts = _leading_number(text)
    try:
        if parts is None or int(parts[0]) < 0:
            raise ValueError
        value = int(parts[0]) * scale_suffix(parts[1], 1)
        if value > ULLONG_MAX:
            raise ValueError
    except ValueError:
        raise CommandError("Scaled numeric value '%s' for <--bandwidth> option is malformed "
                           "or out of range" % text) from None
    return value if in_bytes else value >> 20
