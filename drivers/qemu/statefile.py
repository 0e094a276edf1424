"""One rule for the QEMU driver's state files (status, shut-off reason, id counter,
snapshot metadata, offline jobs): a missing file means "nothing recorded"; a file that
exists but cannot be read or understood is an error naming it and how to recover, never
read as empty (that would silently forget a running QEMU, a job or a snapshot)."""

from __future__ import annotations

from ..api import DriverError, ErrorCode
from ..fsutil import read_text


def corrupt_state_file(path: str, detail: str) -> DriverError:
    return DriverError(ErrorCode.INTERNAL_ERROR, "state file '%s' is unusable (%s); repair it, or move it aside "
                       "to recover (what it records is then forgotten)" % (path, detail))


def read_state(path: str) -> str | None:
    """The file's text, or None if there is no such file."""
    try:
        return read_text(path)
    except OSError as err:
        raise corrupt_state_file(path, err.strerror or str(err)) from None
    except UnicodeDecodeError:
        raise corrupt_state_file(path, "not UTF-8 text") from None


def parse_state(path: str):
    """The file's XML root element, or None if there is no such file."""
    text = read_state(path)
    if text is None:
        return None
    return parse_state_text(text, path)


def parse_state_text(text: str, path: str):
    """The XML root element of text read from the state file at path."""
    from ..xmlutil import parse_trusted
    try:
        return parse_trusted(text, path)
    except DriverError as err:
        raise corrupt_state_file(path, err.message) from None


def read_number(path: str) -> int | None:
    """A file holding one decimal number, or None if there is no such file."""
    text = read_state(path)
    if text is None:
        return None
    if not text.strip().isdigit():
        raise corrupt_state_file(path, "not a number: %r" % text[:40])
    return int(text)


def read_json(path: str):
    """A JSON document, or None if there is no such file."""
    text = read_state(path)
    if text is None:
        return None
    import json
    try:
        return json.loads(text)
    except ValueError as err:
        raise corrupt_state_file(path, "invalid JSON: %s" % err) from None
