"""The far end: `pyvirsh --driver-stdio URI` serves one driver connection over stdin/stdout.

ssh starts it on the far host for the length of one remote connection; it opens
URI with the local drivers there, answers the near end's calls (see protocol.py)
and ends when its input ends. It runs with the ssh login's rights and nothing
more, takes no shell strings, and answers anything malformed with an error
frame: never a traceback on the wire, never a hang waiting for bytes that are
not coming (a broken frame ends the session).

The far end keeps its drivers' own locks and reconcile rules: when the
connection drops in the middle of a call, the call's work (a QEMU block job)
carries on in QEMU and the next command, on any connection, reconciles it.
"""

from __future__ import annotations

import inspect
import os
import sys

from .. import api
from ..api import DriverError, ErrorCode
from . import protocol
from .protocol import ProtocolError

USAGE = "usage: pyvirsh --driver-stdio URI   (run by the near end of a DRIVER+ssh:// connection)\n"


class Dispatcher:
    """Turns request messages into calls on one open connection, and results into replies.

    Handles the near end has seen are kept by their reference, so a reference
    names the very handle object a local run would hold (a handle to an
    undefined domain fails as it fails locally); a reference the far end has
    not handed out is looked up by uuid, key or name."""

    def __init__(self, conn: api.Connection):
        self.conn = conn
        self.handles: dict = {}
        self.methods = {kind: protocol.callable_methods(kind) for kind in protocol.KINDS}

    # references <-> handles
    def _key(self, kind: str, ref) -> tuple:
        if kind == "domain":
            return ("domain", ref["uuid"])
        if kind == "snapshot":
            return ("snapshot", ref["domain"]["uuid"], ref["name"])
        if kind == "pool":
            return ("pool", ref["uuid"])
        return ("vol", ref["key"])

    def resolve(self, kind: str, ref):
        if kind == "connection":
            return self.conn
        key = self._key(kind, ref)
        handle = self.handles.get(key)
        if handle is None:
            if kind == "domain":
                handle = self.conn.lookup_domain_by_uuid(ref["uuid"])
            elif kind == "snapshot":
                handle = self.resolve("domain", ref["domain"]).snapshot_lookup_by_name(ref["name"])
            elif kind == "pool":
                handle = self.conn.lookup_storage_pool_by_uuid(ref["uuid"])
            else:
                handle = self.conn.lookup_storage_vol_by_key(ref["key"])
            self.handles[key] = handle
        return handle

    def reference(self, obj, domain_ref):
        """(kind, ref) of a handle the far end hands out; domain_ref is the domain of the call,
        which owns any snapshot the call returns."""
        if isinstance(obj, api.Domain):
            kind, ref = "domain", {"uuid": obj.uuid, "name": obj.name}
        elif isinstance(obj, api.Snapshot):
            if domain_ref is None:
                return None
            kind, ref = "snapshot", {"name": obj.name, "domain": domain_ref}
        elif isinstance(obj, api.StoragePool):
            kind, ref = "pool", {"uuid": obj.uuid, "name": obj.name}
        elif isinstance(obj, api.StorageVol):
            kind, ref = "vol", {"key": obj.key, "name": obj.name}
        else:
            return None
        self.handles.setdefault(self._key(kind, ref), obj)
        return kind, ref

    # one request
    def handle(self, message: dict) -> dict:
        call_id = message.get("id")
        if not isinstance(call_id, int) or isinstance(call_id, bool):
            return {"id": None, "err": protocol.encode_error(protocol.protocol_failure(
                ProtocolError("a call needs an integer id")))}
        try:
            return {"id": call_id, "ret": self._call(message)}
        except DriverError as err:
            return {"id": call_id, "err": protocol.encode_error(err)}
        except ProtocolError as err:
            return {"id": call_id, "err": protocol.encode_error(protocol.protocol_failure(err))}
        except Exception as err:       # noqa: BLE001 - a driver bug: the words a local run prints
            return {"id": call_id, "err": protocol.encode_error(
                DriverError(ErrorCode.INTERNAL_ERROR, "%s: %s" % (type(err).__name__, err)))}

    def _call(self, message: dict):
        on = message.get("on")
        if on is None:
            kind, ref = "connection", None
        elif isinstance(on, dict) and len(on) == 2 and on.get("kind") in protocol.KINDS:
            kind = on["kind"]
            ref = protocol.check_ref(kind, on.get("ref"))
        else:
            raise ProtocolError("malformed target %.200r" % (on,))
        method = message.get("call")
        if not isinstance(method, str) or method not in self.methods[kind]:
            raise ProtocolError("unknown method %.80r on a %s" % (method, kind))
        args, kwargs = message.get("args", []), message.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ProtocolError("args must be a list and kwargs an object")
        make = self._handle_argument
        args = [protocol.decode_value(a, make) for a in args]
        kwargs = {k: protocol.decode_value(v, make) for k, v in kwargs.items()}
        target = self.resolve(kind, ref)
        bound = getattr(target, method)
        try:
            inspect.signature(bound).bind(*args, **kwargs)
        except TypeError as err:
            raise ProtocolError("%s: %s" % (method, err)) from None
        result = bound(*args, **kwargs)
        domain_ref = ref if kind == "domain" else ref["domain"] if kind == "snapshot" and ref else None
        return protocol.encode_value(result, lambda obj: self.reference(obj, domain_ref))

    def _handle_argument(self, kind: str, ref):
        return self.resolve(kind, ref)


def serve(uri: str, rfile, wfile) -> int:
    """Serve one connection until the input ends; the exit status of --driver-stdio."""

    def send(message: dict) -> None:
        try:
            frame = protocol.encode_frame(message)
        except ProtocolError as err:
            frame = protocol.encode_frame({"id": message.get("id"),
                                           "err": protocol.encode_error(protocol.protocol_failure(err))})
        wfile.write(frame)
        wfile.flush()

    def fail(err: DriverError, status: int = 1) -> int:
        send({"id": None, "v": protocol.VERSION, "err": protocol.encode_error(err)})
        return status

    try:
        hello = protocol.read_frame(rfile)
        if hello is None:
            return 0
        if hello.get("hello") != "pyvirsh" or hello.get("v") != protocol.VERSION:
            return fail(protocol.protocol_failure(ProtocolError(
                "expected a version %d hello, got %.200r" % (protocol.VERSION, hello))))
        readonly = hello.get("readonly", False)
        if not isinstance(readonly, bool):
            return fail(protocol.protocol_failure(ProtocolError("readonly must be true or false")))
        from .. import open_connection
        try:
            conn = open_connection(uri, readonly=readonly)
        except DriverError as err:
            return fail(err)
        try:
            send({"v": protocol.VERSION, "ok": True})
            dispatcher = Dispatcher(conn)
            while True:
                message = protocol.read_frame(rfile)
                if message is None:
                    return 0
                send(dispatcher.handle(message))
        finally:
            conn.close()
    except ProtocolError as err:
        # The stream's framing is lost: say why once and end the session.
        try:
            return fail(protocol.protocol_failure(err))
        except OSError:
            return 1
    except OSError:
        return 1        # the near end went away (EPIPE): nothing left to tell


def main(argv: list[str]) -> int:
    """`pyvirsh --driver-stdio URI`: the protocol on fds 0 and 1.

    The protocol's streams are moved to private descriptors first and 0, 1, 2
    pointed at /dev/null: a stray print cannot corrupt a frame, and processes the
    drivers start (QEMU) do not hold ssh's pipes open after the session ends."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(USAGE)
        return 1
    rfile = os.fdopen(os.dup(0), "rb", buffering=0)
    wfile = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    with rfile, wfile:
        return serve(argv[0], rfile, wfile)
