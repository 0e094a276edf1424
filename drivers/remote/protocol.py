"""pyvirsh's remote protocol: length-framed JSON over a byte stream (ssh's stdin/stdout).

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, one
object per frame. The near end opens with a hello and then sends one call per frame:

    {"v": 1, "hello": "pyvirsh", "readonly": false}          -> {"v": 1, "ok": true}     
    {"id": 7, "on": REF, "call": "get_info", "args": [...], "kwargs": {...}}
                                                             -> {"id": 7, "ret": VALUE}
                                                             or {"id": 7, "err": ERROR}

REF is null for the connection, or {"kind": KIND, "ref": R} for a handle named
the way libvirt names it: a domain {"uuid", "name"}, a snapshot {"name", "domain":
R}, a pool {"uuid", "name"}, a volume {"key", "name"}. VALUE is plain JSON, except
that what JSON cannot say is tagged with a "$" key: handles ({"$": "domain",
"ref": R}), records ({"$": "record", "type": "DomainInfo", "fields": {...}}), tuples and
dicts. ERROR is libvirt's error code name, its message and preamble, so the
near end raises the very DriverError a local run raises.

Nothing here runs code from the peer: values are data only, records come from
api.py's own Record classes, and methods from the table the server derives from
api.py.
"""

from __future__ import annotations

import json
import os
import struct

from .. import api
from ..api import DriverError, ErrorCode

VERSION = 1
# The warm far server's first line on its ssh session's stdout, then its socket's path
# (farserver.py writes it, sharedserver.py reads it).
ANNOUNCE = b"pyvirsh-serve 1 "
MAX_FRAME = 8 * 1024 * 1024     # a domain XML is kilobytes; volumes will stream in chunks
_HEADER = struct.Struct(">I")

# The handle kinds, with the api class whose declared methods a peer may call on them.
KINDS = {"connection": api.Connection, "domain": api.Domain, "snapshot": api.Snapshot,
         "pool": api.StoragePool, "vol": api.StorageVol}

# Declared calls that never cross: they are about the near end's own objects
# (closing, the URI it opened, completion views), hold lxml elements, or return a
# console stream, an event listener or image bytes, which frames of JSON cannot carry (a
# remote console, event listener or screenshot is "not supported").
LOCAL_ONLY = frozenset({"connection", "close", "get_uri", "completion_view", "get_definition",
                        "open_console", "domain_event_listener", "qemu_monitor_event_listener",
                        "network_event_listener", "screenshot"})

RECORDS = {cls.__name__: cls for cls in vars(api).values()
           if isinstance(cls, type) and issubclass(cls, api.Record) and cls is not api.Record}


class ProtocolError(Exception):
    """A peer broke the protocol: a bad frame, an unknown method, a wrong-typed value."""


def callable_methods(kind: str) -> frozenset:
    """The methods a peer may call on a handle of this kind: what api.py declares."""
    cls = KINDS[kind]
    return frozenset(name for name in dir(cls)
                     if not name.startswith("_") and callable(getattr(cls, name))
                     and name not in LOCAL_ONLY)


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------

def encode_frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_FRAME:
        raise ProtocolError("message of %d bytes exceeds the limit of %d bytes" % (len(body), MAX_FRAME))
    return _HEADER.pack(len(body)) + body


def read_exact(stream, size: int) -> bytes | None:
    """size bytes, or None at a clean end of stream before the first byte."""
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            if got == 0:
                return None
            raise ProtocolError("truncated frame: stream ended after %d of %d bytes" % (got, size))
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream) -> dict | None:
    """The next message, None at the end of the stream; ProtocolError for anything malformed.

    The length is checked before anything is read into memory, so a hostile peer
    cannot make the reader allocate more than MAX_FRAME."""
    header = read_exact(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError("frame of %d bytes exceeds the limit of %d bytes" % (size, MAX_FRAME))
    body = read_exact(stream, size) if size else b""
    if body is None:
        raise ProtocolError("truncated frame: stream ended after 0 of %d bytes" % size)
    return parse_body(body)


class FrameReader:
    """read_frame over a file descriptor, keeping what it has read in its own buffer: a
    KeyboardInterrupt (Ctrl-C during --wait) between two reads loses no byte, so the
    stream stays in step and the next call reads the frame it was in the middle of."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()

    def _fill(self, size: int) -> bool:
        """At least size bytes buffered; False at the end of the stream."""
        while len(self.buffer) < size:
            chunk = os.read(self.fd, max(65536, size - len(self.buffer)))
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def read_frame(self) -> dict | None:
        if not self._fill(_HEADER.size):
            if self.buffer:
                raise ProtocolError("truncated frame: stream ended after %d of %d bytes"
                                    % (len(self.buffer), _HEADER.size))
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            raise ProtocolError("frame of %d bytes exceeds the limit of %d bytes" % (size, MAX_FRAME))
        if not self._fill(_HEADER.size + size):
            raise ProtocolError("truncated frame: stream ended after %d of %d bytes"
                                % (len(self.buffer) - _HEADER.size, size))
        body = bytes(self.buffer[_HEADER.size:_HEADER.size + size])
        del self.buffer[:_HEADER.size + size]
        return parse_body(body)


def parse_body(body: bytes) -> dict:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError("frame is not UTF-8 JSON: %s" % err) from None
    if not isinstance(message, dict):
        raise ProtocolError("frame holds a JSON %s, not an object" % type(message).__name__)
    return message


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def encode_error(err: DriverError) -> dict:
    return {"code": err.code.name, "message": err.message, "preamble": err.preamble}


def decode_error(data) -> DriverError:
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        raise ProtocolError("malformed error: %.200r" % (data,))
    code = getattr(ErrorCode, str(data.get("code")), None)
    if not isinstance(code, type(ErrorCode.RAW)):
        code = ErrorCode.INTERNAL_ERROR
    preamble = data.get("preamble") or ""
    return DriverError(code, data["message"], preamble if isinstance(preamble, str) else "")


def protocol_failure(err: ProtocolError) -> DriverError:
    """What a user sees when the peer broke the protocol."""
    return DriverError(ErrorCode.INTERNAL_ERROR, "remote protocol: %s" % err)


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------

def encode_value(value, handle_ref):
    """JSON-ready data for a value an API call takes or returns.

    handle_ref(obj) gives (kind, ref) for a handle; each end knows its own handles."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode_value(v, handle_ref) for v in value]
    if isinstance(value, tuple):
        return {"$": "tuple", "items": [encode_value(v, handle_ref) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ProtocolError("dict keys must be strings")
        return {"$": "dict", "items": {k: encode_value(v, handle_ref) for k, v in value.items()}}
    if isinstance(value, api.Record):
        return {"$": "record", "type": type(value).__name__,
                "fields": encode_value(value.to_dict(), handle_ref)}
    kind_ref = handle_ref(value)
    if kind_ref is None:
        raise ProtocolError("a %s cannot cross the connection" % type(value).__name__)
    kind, ref = kind_ref
    return {"$": kind, "ref": ref}


def decode_value(data, make_handle, depth: int = 0):
    """The value encode_value made; make_handle(kind, ref) rebuilds a handle.

    Anything else than what encode_value makes is a ProtocolError."""
    if depth > 64:
        raise ProtocolError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(v, make_handle, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise ProtocolError("unexpected value %.200r" % (data,))
    tag = data.get("$")
    if tag == "tuple" and isinstance(data.get("items"), list):
        return tuple(decode_value(v, make_handle, depth + 1) for v in data["items"])
    if tag == "dict" and isinstance(data.get("items"), dict):
        return {k: decode_value(v, make_handle, depth + 1) for k, v in data["items"].items()}
    if tag == "record":
        cls = RECORDS.get(str(data.get("type")))
        fields = data.get("fields")
        if cls is None or not isinstance(fields, dict) or fields.get("$") != "dict":
            raise ProtocolError("unknown or malformed record %.200r" % (data.get("type"),))
        items = decode_value(fields, make_handle, depth + 1)
        try:
            return cls.from_dict(_plain_records(items, cls))
        except (TypeError, ValueError) as err:
            raise ProtocolError("malformed %s: %s" % (cls.__name__, err)) from None
    if tag in KINDS and tag != "connection" and "ref" in data:
        return make_handle(tag, check_ref(tag, data["ref"]))
    raise ProtocolError("unexpected value %.200r" % (data,))


def _plain_records(items: dict, cls) -> dict:
    """from_dict rebuilds nested records from dicts: turn decoded nested records back into dicts."""
    out = {}
    for key, value in items.items():
        if key in cls._ITEMS and isinstance(value, list):
            value = [v if isinstance(v, dict) else _as_dict(v) for v in value]
        out[key] = value
    return out


def _as_dict(value):
    if isinstance(value, api.Record):
        return value.to_dict()
    raise ProtocolError("a record list holds %s" % type(value).__name__)


def _str(value, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError("%s must be a string" % what)
    return value


def check_ref(kind: str, ref):
    """A handle reference of this kind, checked for shape; ProtocolError otherwise."""
    if kind == "connection":
        if ref is not None:
            raise ProtocolError("the connection's reference is null")
        return None
    if not isinstance(ref, dict):
        raise ProtocolError("a %s reference must be an object" % kind)
    if kind == "domain":
        return {"uuid": _str(ref.get("uuid"), "domain uuid"), "name": _str(ref.get("name"), "domain name")}
    if kind == "snapshot":
        return {"name": _str(ref.get("name"), "snapshot name"),
                "domain": check_ref("domain", ref.get("domain"))}
    if kind == "pool":
        return {"uuid": _str(ref.get("uuid"), "pool uuid"), "name": _str(ref.get("name"), "pool name")}
    if kind == "vol":
        return {"key": _str(ref.get("key"), "volume key"), "name": _str(ref.get("name"), "volume name")}
    raise ProtocolError("unknown handle kind %.50r" % (kind,))
