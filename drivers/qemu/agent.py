"""The QEMU guest agent's wire protocol, one connection per command.

QEMU serves the agent channel (<channel type='unix'> named org.qemu.guest_agent.0) as a
UNIX socket server; qemu-ga in the guest reads the other end of the virtio-serial port.
Without a daemon there is nobody to keep a connection open between pyvirsh commands, so
each command connects, synchronizes, runs its agent command and disconnects.

Synchronizing matters because the stream outlives every client: a reply to a command
whose client gave up (a timeout, a killed pyvirsh) may still arrive, and it must never
be read as the answer to the next client's command. So every connection first sends the
0xFF byte (qemu-ga resets its JSON parser on it, dropping half a command a previous client
left behind) and guest-sync-delimited with a random id; qemu-ga answers with 0xFF followed
by that id, and everything before it is discarded.

Timeouts are libvirt's (qemu_agent.c): the sync waits at most QEMU_AGENT_WAIT_TIME
seconds (less if the caller asked for less); the command then waits `seconds`: BLOCK (-2)
forever, which libvirt's agent APIs use by default, DEFAULT (-1) the same 5 seconds,
NOWAIT (0) not at all (libvirt then reports the agent as not answering, and so does this),
any positive number that many seconds. A timeout is libvirt's "Guest agent is not
responding: Guest agent not available for now".
"""

from __future__ import annotations

import json
import os
import select
import socket
import time

from ..api import DriverError, ErrorCode

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

AGENT_CHANNEL = "org.qemu.guest_agent.0"
WAIT_TIME = 5           # libvirt's QEMU_AGENT_WAIT_TIME: the sync's bound, and DEFAULT's
BLOCK = -2              # VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK
DEFAULT = -1            # VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT
NOWAIT = 0              # VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT
MIN_TIMEOUT = BLOCK     # VIR_DOMAIN_QEMU_AGENT_COMMAND_MIN
RESYNC = b"\xff"
MAX_REPLY = 64 << 20    # a reply larger than this is not an agent's


def not_available() -> DriverError:
    return DriverError(ErrorCode.AGENT_UNRESPONSIVE, "Guest agent not available for now")


def disappeared() -> DriverError:
    return DriverError(ErrorCode.AGENT_UNRESPONSIVE, "Guest agent disappeared while executing command")


class AgentCommandError(DriverError):
    """qemu-ga answered with an error; its class is kept (callers tell CommandNotFound apart)."""

    def __init__(self, command: str, error_class: str | None, desc: str):
        super().__init__(ErrorCode.INTERNAL_ERROR, "unable to execute QEMU agent command '%s': %s"
                         % (command, desc))
        self.error_class = error_class


# libvirt's words for an error class that comes without a description.
_CLASS_TEXT = {
    "BufferOverrun": "Buffer overrun",
    "CommandDisabled": "The command has been disabled for this instance",
    "CommandNotFound": "The command has not been found",
    "FdNotFound": "File descriptor not found",
    "InvalidParameter": "Invalid parameter",
    "InvalidParameterType": "Invalid parameter type",
    "InvalidParameterValue": "Invalid parameter value",
    "OpenFileFailed": "Cannot open file",
    "QgaCommandFailed": "Guest agent command failed",
    "QMPBadInputObjectMember": "Bad QMP input object member",
    "QMPExtraInputObjectMember": "Unexpected extra object member",
    "UndefinedError": "An undefined error has occurred",
    "Unsupported": "this feature or command is not currently supported",
}


def _deadline(seconds: int) -> float | None:
    if seconds == BLOCK or seconds < BLOCK:
        return None
    if seconds == DEFAULT:
        seconds = WAIT_TIME
    return time.monotonic() + seconds


class AgentConnection:
    """One client connection to the agent socket: `with AgentConnection(path) as agent:`."""

    def __init__(self, path: str):
        from .sockpath import short_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buf = b""
        try:
            self.sock.settimeout(WAIT_TIME)
            self.sock.connect(short_path(path))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise DriverError(ErrorCode.AGENT_UNRESPONSIVE, "QEMU guest agent is not connected") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    # ------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)
                continue
            except OSError:
                raise disappeared() from None
            view = view[sent:]

    def _fill(self, deadline: float | None) -> None:
        """Read more of the stream; a timeout or EOF is libvirt's error for it."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise not_available()
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise not_available()
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            raise disappeared() from None
        if not chunk:
            raise disappeared()
        self._buf += chunk
        if len(self._buf) > MAX_REPLY:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "No complete agent response found in %d bytes"
                              % len(self._buf))

    def _read_line(self, deadline: float | None) -> bytes:
        while b"\n" not in self._buf:
            self._fill(deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def sync(self, seconds: int = DEFAULT) -> None:
        """Reset qemu-ga's parser and skip everything up to the answer to our own sync."""
        timeout = WAIT_TIME
        if 0 <= seconds < timeout:
            timeout = seconds
        deadline = time.monotonic() + timeout
        sync_id = int.from_bytes(os.urandom(7), "big")
        self._send(RESYNC + json.dumps({"execute": "guest-sync-delimited",
                                        "arguments": {"id": sync_id}}).encode() + b"\n")
        while True:
            while RESYNC not in self._buf:
                self._buf = b""
                self._fill(deadline)
            self._buf = self._buf[self._buf.index(RESYNC) + 1:]
            line = self._read_line(deadline)
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("return") == sync_id:
                return

    def command(self, execute: str, arguments: dict | None = None, seconds: int = BLOCK):
        """Run one agent command; its "return" value."""
        request: dict = {"execute": execute}
        if arguments is not None:
            request["arguments"] = arguments
        return self.request(request, seconds)["return"]

    def request(self, request, seconds: int = BLOCK) -> dict:
        """Send a parsed command (sync first; anything JSON: the agent judges it); the whole
        reply object, checked as libvirt does."""
        self.sync(seconds)
        execute = request.get("execute") if isinstance(request, dict) else None
        name = execute if isinstance(execute, str) else "<unknown>"
        self._send(json.dumps(request, separators=(",", ":")).encode() + b"\n")
        deadline = _deadline(seconds)
        if seconds == NOWAIT:
            raise not_available()       # libvirt's NOWAIT: sent, and not waited for
        while True:
            line = self._read_line(deadline).strip(RESYNC + b" \r\t")
            if not line:
                continue
            try:
                reply = json.loads(line)
            except ValueError:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse json %s" % line.decode(
                    "utf-8", "replace")) from None
            if not isinstance(reply, dict):
                continue
            if "error" in reply:
                error = reply["error"] if isinstance(reply["error"], dict) else {}
                klass = error.get("class")
                desc = error.get("desc") or _CLASS_TEXT.get(klass or "", klass or "unknown QEMU command error")
                raise AgentCommandError(name, klass, desc)
            if "return" not in reply:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "unable to execute QEMU agent command '%s'" % name)
            return reply
