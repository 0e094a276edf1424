"""The near end: a driver that implements drivers/api.py by forwarding each call to
`pyvirsh --driver-stdio URI` on the far host, reached through OpenSSH.

Commands do not know the difference: handles carry the names and uuids the far
end gave them, records come back as api.py's own records, and errors as the
DriverError the far driver raised, with libvirt's code and words.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from typing import TYPE_CHECKING, ClassVar

from .. import api
from ..api import DriverError, ErrorCode
from . import protocol
from .protocol import ProtocolError
from .controlpath import control_directory, control_options
from .uri import RemoteURI

if TYPE_CHECKING:
    import socket


class Channel:
    """The protocol over one byte stream: an ssh process's stdin/stdout (its stderr goes to a
    file so that ssh's own words can be told to the user when it fails), or a socket to a
    warm far server (sharedserver.py)."""

    def __init__(self, argv: list[str] | None = None, sock: socket.socket | None = None):
        self.errfile = None
        self.proc: subprocess.Popen | None = None
        self.sock = sock
        if argv is not None:
            self.errfile = tempfile.TemporaryFile()     # noqa: SIM115 - lives as long as the channel
            try:
                self.proc = _spawn_ignoring_sigint(argv, self.errfile)
            except OSError as err:
                self.errfile.close()
                raise DriverError(ErrorCode.SYSTEM_ERROR,
                                  "Cannot run %s: %s" % (argv[0], err.strerror)) from None
            self.wfd = self.proc.stdin.fileno()     # type: ignore[union-attr]
            self.reader = protocol.FrameReader(self.proc.stdout.fileno())     # type: ignore[union-attr]
        elif sock is not None:
            self.wfd = sock.fileno()
            self.reader = protocol.FrameReader(sock.fileno())
        self.open = True
        self.next_id = 0
        self.connected = False
        self.failure: DriverError | None = None

    def ssh_words(self) -> str:
        """What ssh (or the far shell) printed on stderr, without the trailing newline."""
        if self.errfile is None:
            return ""
        try:
            self.errfile.seek(0)
            return self.errfile.read(64 * 1024).decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")
        except (OSError, ValueError):
            return ""

    def lost(self, why: str | None = None) -> DriverError:
        """The error for a stream that ended or broke, worded as libvirt's remote driver; every
        later call on the channel fails with it too."""
        self.close()
        words = self.ssh_words()
        if why is not None:
            err = protocol.protocol_failure(ProtocolError(why))
        elif not self.connected:
            err = DriverError(ErrorCode.SYSTEM_ERROR,
                              "Cannot recv data: %s: Connection reset by peer" % (words or "ssh exited"))
        elif words:     # libvirt's virNetSocketReadWire: the words, then strerror(EIO)
            err = DriverError(ErrorCode.SYSTEM_ERROR,
                              "End of file while reading data: %s: Input/output error" % words)
        else:
            err = DriverError(ErrorCode.SYSTEM_ERROR, "End of file while reading data: Input/output error")
        self.failure = err
        return err

    def closed(self) -> DriverError:
        return self.failure or DriverError(ErrorCode.INTERNAL_ERROR, "client socket is closed")

    def send(self, message: dict) -> None:
        if not self.open:
            raise self.closed()
        try:
            frame = protocol.encode_frame(message)
        except ProtocolError as err:
            raise protocol.protocol_failure(err) from None
        try:
            view = memoryview(frame)
            while view:             # a raw pipe may take a large frame in parts
                view = view[os.write(self.wfd, view):]
        except OSError:
            raise self.lost() from None

    def receive(self) -> dict:
        if not self.open:
            raise self.closed()
        try:
            message = self.reader.read_frame()
        except ProtocolError as err:
            raise self.lost(str(err)) from None
        except OSError:
            raise self.lost() from None
        if message is None:
            raise self.lost()
        return message

    def hello(self, readonly: bool) -> None:
        self.send({"v": protocol.VERSION, "hello": "pyvirsh", "readonly": readonly})
        reply = self.receive()
        if "err" in reply:
            err = protocol.decode_error(reply["err"])
            self.close()
            raise err
        if reply.get("v") != protocol.VERSION or reply.get("ok") is not True:
            raise self.lost("the far end answered %.200r to the hello" % (reply,))
        self.connected = True

    def call(self, on, method: str, args: tuple, kwargs: dict, make_handle):
        if not self.open:
            raise self.closed()
        self.next_id += 1
        call_id = self.next_id
        try:
            message = {"id": call_id, "on": on, "call": method,
                       "args": [protocol.encode_value(a, _handle_ref) for a in args],
                       "kwargs": {k: protocol.encode_value(v, _handle_ref) for k, v in kwargs.items()}}
        except ProtocolError as err:        # an argument that cannot cross: nothing was sent
            raise protocol.protocol_failure(err) from None
        self.send(message)
        try:
            return self._answer(call_id, make_handle)
        except ProtocolError as err:        # a malformed error or value from the far end
            raise self.lost(str(err)) from None

    def _answer(self, call_id: int, make_handle):
        while True:
            reply = self.receive()
            reply_id = reply.get("id")
            if reply_id is None and "err" in reply:
                # The far end gave up on the stream; it ends the session after this.
                err = protocol.decode_error(reply["err"])
                self.close()
                raise err
            if not isinstance(reply_id, int) or reply_id > call_id:
                raise ProtocolError("reply to an unknown call %.50r" % (reply_id,))
            if reply_id < call_id:
                continue        # the answer to a call abandoned by Ctrl-C
            if "err" in reply:
                raise protocol.decode_error(reply["err"])
            if "ret" not in reply:
                raise ProtocolError("a reply with neither result nor error")
            return protocol.decode_value(reply["ret"], make_handle)

    def close(self) -> None:
        if not self.open:
            return
        self.open = False
        if self.sock is not None:
            self.sock.close()
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is None:
                continue
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _spawn_ignoring_sigint(argv: list[str], errfile) -> subprocess.Popen:
    """ssh with SIGINT ignored (ssh keeps an ignored SIGINT ignored): a Ctrl-C at the terminal
    reaches pyvirsh alone, which then aborts a --wait job over the still living connection.

    The disposition is inherited through exec; it is set around the spawn in the parent
    (only the main thread may) rather than in a preexec_fn."""
    def spawn():
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfile,
                                bufsize=0)
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:          # not the main thread (fan-out): no terminal Ctrl-C to shield from
        return spawn()
    try:
        return spawn()
    finally:
        signal.signal(signal.SIGINT, previous)



def _handle_ref(obj):
    """A near-end handle passed as an argument travels as its reference."""
    if isinstance(obj, RemoteHandle):
        return obj.kind, obj.ref
    return None


# --------------------------------------------------------------------------
# Handles: each declared call of api.py becomes a forwarder
# --------------------------------------------------------------------------

def _forwarder(name: str):
    def forward(self, *args, **kwargs):
        return self._conn._channel.call(self.target(), name, args, kwargs, self._conn.make_handle)
    forward.__name__ = name
    return forward


def _install_forwarders(cls, kind: str, keep: tuple = ()):
    for name in protocol.callable_methods(kind):
        if name not in keep:
            setattr(cls, name, _forwarder(name))
    return cls


class RemoteHandle:
    kind = ""

    def target(self):
        return {"kind": self.kind, "ref": self.ref}

    def connection(self):
        return self._conn


class RemoteDomain(RemoteHandle, api.Domain):
    kind = "domain"

    def __init__(self, conn, ref):
        self._conn = conn
        self.ref = ref
        self.name = ref["name"]
        self.uuid = ref["uuid"]

    def wait_block_job_event(self, disk: str, timeout: float) -> bool | None:
        """Forwarded: the far driver listens for QEMU's job events and its answer arrives the
        moment the job changes, so a --wait without --verbose waits in the same long slices
        over ssh as locally instead of polling across the connection. A failure here (the
        connection lost mid --wait) is left for the poll that follows, which reports it in
        virsh's words ('failed to query job for disk vda')."""
        try:
            listened = self._conn._channel.call(self.target(), "wait_block_job_event", (disk, timeout), {},
                                                self._conn.make_handle)
        except DriverError:
            return None
        return True if listened is True else None


class RemoteSnapshot(RemoteHandle, api.Snapshot):
    kind = "snapshot"

    def __init__(self, conn, ref):
        self._conn = conn
        self.ref = ref
        self.name = ref["name"]


class RemoteStoragePool(RemoteHandle, api.StoragePool):
    kind = "pool"

    def __init__(self, conn, ref):
        self._conn = conn
        self.ref = ref
        self.name = ref["name"]
        self.uuid = ref["uuid"]


class RemoteStorageVol(RemoteHandle, api.StorageVol):
    kind = "vol"

    def __init__(self, conn, ref):
        self._conn = conn
        self.ref = ref
        self.name = ref["name"]
        self.key = ref["key"]


class RemoteConnection(api.Connection):
    """A connection whose driver runs on the far host."""

    _HANDLES: ClassVar[dict] = {"domain": RemoteDomain, "snapshot": RemoteSnapshot, "pool": RemoteStoragePool,
                "vol": RemoteStorageVol}

    def __init__(self, uri: str, readonly: bool, channel: Channel):
        self.uri = uri
        self.readonly = readonly
        self._conn = self
        self._channel = channel

    def target(self):
        return None

    def make_handle(self, kind: str, ref):
        return self._HANDLES[kind](self, ref)

    def close(self) -> None:
        self._channel.close()


_install_forwarders(RemoteConnection, "connection")
_install_forwarders(RemoteDomain, "domain", keep=("wait_block_job_event",))
_install_forwarders(RemoteSnapshot, "snapshot")
_install_forwarders(RemoteStoragePool, "pool")
_install_forwarders(RemoteStorageVol, "vol")


def _hello(sock: socket.socket, readonly: bool) -> Channel | None:
    """A channel over a socket to the warm far server; None when the stream broke first (no
    far server behind the master's forwarding), the far driver's error when it answered one."""
    channel = Channel(sock=sock)
    try:
        channel.hello(readonly)
    except DriverError:
        if channel.failure is None:
            raise       # the far driver's own answer (a URI it cannot open): the user's error
        return None
    return channel


def open_remote(uri: str, scheme: str, authority: str, path: str, params: dict,
                readonly: bool = False) -> RemoteConnection:
    """Open DRIVER+ssh://[user@]host[:port]/PATH[?params] (split by drivers.split_uri) through OpenSSH."""
    remote = RemoteURI.parse(uri, scheme, authority, path, params)
    control = control_options()
    if control:
        # A warm far server through the shared connection (sharedserver.py), else ssh's stdio.
        from .sharedserver import open_shared
        shared = open_shared(remote, control, control_directory(control), lambda sock: _hello(sock, readonly))
        if shared is not None:
            return RemoteConnection(uri, readonly, shared)
    channel = Channel(remote.ssh_argv(control))
    try:
        channel.hello(readonly)
    except BaseException:
        channel.close()
        raise
    return RemoteConnection(uri, readonly, channel)
