"""A small synchronous QMP client over a UNIX socket.

Why not qemu.qmp (QEMU's own library)? It is asyncio-based: importing it costs
~50-70 ms, most of a one-shot command's budget, and its synchronous wrapper
has rough edges (int timeouts that never fire, EOFError on close). pyvirsh
needs a handful of commands with timeouts, the events that arrive meanwhile,
and nothing else; tests/bench/bench_qmp.py measures both side by side.

QEMU serves one client per monitor at a time: connect, do the work, close.

A reply is trusted only when it carries the id of the request it answers. QEMU
hands a new client whatever a previous one left unread (a client that gave up on
a slow command leaves its reply behind, and it arrives before the greeting), so
anything before the greeting is skipped, ids are unique to this client (process,
connection, counter) rather than small numbers a stale reply could match, and a
client that timed out on a command is closed at once instead of reused.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import sys
import time

from ..api import DriverError, ErrorCode
from .sockpath import short_path

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self

CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0


class QMPError(DriverError):
    """QEMU answered a command with an error (its class and description are kept)."""

    def __init__(self, command: str, error_class: str, desc: str):
        super().__init__(ErrorCode.INTERNAL_ERROR, "unable to execute QEMU command '%s': %s" % (command, desc))
        self.command = command
        self.error_class = error_class
        self.desc = desc


class MonitorGone(DriverError):
    def __init__(self, why: str):
        super().__init__(ErrorCode.OPERATION_FAILED, why)


# Connections made by this process, so two clients of one process never share ids.
_connections = itertools.count(1)


class QMP:
    def __init__(self, path: str, timeout: float = CONNECT_TIMEOUT):
        self.path = path
        self.events: list[dict] = []
        self._buf = b""
        self._id = 0
        self._id_prefix = "pv-%d-%d-%s-" % (os.getpid(), next(_connections), os.urandom(4).hex())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock: socket.socket | None = sock       # None once closed
        deadline = time.monotonic() + timeout
        try:
            sock.settimeout(timeout)
            sock.connect(short_path(path))
            # QEMU accepts a second client at the socket level but greets it only
            # once the first one leaves; the deadline bounds that wait.
            greeting = self._read_message(deadline)
            while "QMP" not in greeting:
                # A reply or event meant for an earlier client: not ours, never trusted.
                greeting = self._read_message(deadline)
            self.version = greeting["QMP"].get("version", {}).get("qemu", {})
            self.execute("qmp_capabilities", deadline=deadline)
        except (OSError, ValueError) as err:
            self.close()
            raise MonitorGone("cannot talk to the QEMU monitor at %s: %s" % (path, err)) from None
        except DriverError:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # ------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict:
        sock = self.sock
        if sock is None:
            raise MonitorGone("QEMU monitor connection is closed")
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriverError(ErrorCode.OPERATION_TIMEOUT, "QEMU monitor did not answer in time")
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                continue
            chunk = sock.recv(65536)
            if not chunk:
                raise MonitorGone("QEMU closed the monitor connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        message = json.loads(line) if line.strip() else {}
        return message if isinstance(message, dict) else {}

    def _round_trip(self, messages: list[dict], deadline: float, fds: list[int] | None = None) -> list[dict]:
        """Send messages in one write, each with an id of this client's (replacing any it
        had) and fds with them as SCM_RIGHTS, and read until each has its reply: the replies,
        in the messages' order. Events that arrive meanwhile are kept; a stray reply (no id,
        or another request's) is skipped. A timeout closes the connection: the replies may
        still come, and no later command on it may take them for its own."""
        if self.sock is None:
            raise MonitorGone("QEMU monitor connection is closed")
        ids: list[str] = []
        data = b""
        for message in messages:
            self._id += 1
            ids.append(self._id_prefix + str(self._id))
            data += json.dumps(dict(message, id=ids[-1])).encode() + b"\n"
        replies: dict[str, dict] = {}
        try:
            if fds:
                rights = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
                self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
            else:
                self.sock.sendall(data)
            while len(replies) < len(ids):
                try:
                    reply = self._read_message(deadline)
                except DriverError as err:
                    if err.code is ErrorCode.OPERATION_TIMEOUT:
                        self.close()
                    raise
                if "event" in reply:
                    self.events.append(reply)
                elif reply.get("id") in ids:
                    replies.setdefault(reply["id"], reply)
        except OSError as err:
            raise MonitorGone("QEMU monitor connection failed: %s" % err) from None
        return [replies[request_id] for request_id in ids]

    @staticmethod
    def _command(command: str, arguments: dict | None) -> dict:
        return {"execute": command, "arguments": arguments} if arguments else {"execute": command}

    @staticmethod
    def _result(command: str, reply: dict):
        """A reply's 'return' value, or the QMPError it carries."""
        if "error" in reply:
            error = reply["error"]
            return QMPError(command, error.get("class", ""), error.get("desc", ""))
        return reply.get("return")

    def execute(self, command: str, arguments: dict | None = None, *, deadline: float | None = None,
                timeout: float = COMMAND_TIMEOUT, fd: int | None = None):
        """Run a command; return its 'return' value, keeping events that arrive meanwhile.

        fd, if given, travels with the command as SCM_RIGHTS (what `getfd` takes)."""
        reply = self._round_trip([self._command(command, arguments)], deadline or time.monotonic() + timeout,
                                 None if fd is None else [fd])[0]
        result = self._result(command, reply)
        if isinstance(result, QMPError):
            raise result
        return result

    def execute_batch(self, commands: list[tuple[str, dict | None]], timeout: float = COMMAND_TIMEOUT) -> list:
        """Several commands in one write, their returns in order: one round trip instead of
        one each. QEMU runs a monitor's commands one after another, so each runs after those
        before it, whatever they answered; the first error is raised once all have answered."""
        results = self.execute_many(commands, timeout)
        for result in results:
            if isinstance(result, QMPError):
                raise result
        return results

    def execute_many(self, commands: list[tuple[str, dict | None]], timeout: float = COMMAND_TIMEOUT) -> list:
        """Send several commands at once and read their replies: one round trip instead of one
        each (statistics ask many questions of many domains). Each result is the command's
        'return' value, or the QMPError it got; a lost connection raises as execute does."""
        replies = self._round_trip([self._command(c, a) for c, a in commands], time.monotonic() + timeout)
        return [self._result(command, reply) for (command, _), reply in zip(commands, replies, strict=True)]

    def execute_raw(self, message: dict, fds: list[int] | None = None, timeout: float = COMMAND_TIMEOUT) -> dict:
        """A user's own QMP command (qemu-monitor-command): QEMU's whole reply, errors included.
        The command's id is replaced by this client's, as libvirt puts its own on it."""
        return self._round_trip([message], time.monotonic() + timeout, fds)[0]

    def wait_event(self, names, timeout: float) -> dict | None:
        """The next event with one of these names (kept ones first), or None after timeout."""
        for i, ev in enumerate(self.events):
            if ev.get("event") in names:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self._read_message(deadline)
            except DriverError as err:
                if err.code is ErrorCode.OPERATION_TIMEOUT:
                    return None
                raise
            if "event" not in ev:
                continue
            if ev["event"] in names:
                return ev
            self.events.append(ev)

    def poll_events(self) -> list[dict] | None:
        """The events that have arrived, without waiting (a listener's read, events.py);
        None once QEMU has closed the monitor and every event before that was taken."""
        sock = self.sock
        if sock is None:
            return None
        closed = False
        try:
            while select.select([sock], [], [], 0)[0]:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                self._buf += chunk
        except OSError:
            closed = True
        events, self.events = self.events, []
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and "event" in message:
                events.append(message)
        if closed:
            self.close()
            return events or None
        return events
