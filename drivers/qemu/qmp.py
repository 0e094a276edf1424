"""A small synchronous QMP client over a UNIX socket.

Why not qemu.qmp (QEMU's own library)? It is asyncio-based: importing it costs
~50-70 ms, most of a one-shot command's budget, and its synchronous wrapper
has rough edges (int timeouts that never fire, EOFError on close). pyvirsh
needs a handful of commands with timeouts, the events that arrive meanwhile,
and nothing else; tests/bench/bench_qmp.py measures both side by side.

QEMU serves one client per monitor at a time: connect, do the work, close.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time

from ..api import DriverError, ErrorCode

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


class QMP:
    def __init__(self, path: str, timeout: float = CONNECT_TIMEOUT):
        self.path = path
        self.events: list[dict] = []
        self._buf = b""
        self._id = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(_short_path(path))
            # QEMU accepts a second client at the socket level but greets it only
            # once the first one leaves; the deadline bounds that wait.
            greeting = self._read_message(deadline)
            if "QMP" not in greeting:
                raise MonitorGone("unexpected QMP greeting")
            self.version = greeting["QMP"].get("version", {}).get("qemu", {})
            self.execute("qmp_capabilities", deadline=deadline)
        except (OSError, ValueError) as err:
            self.close()
            raise MonitorGone("cannot talk to the QEMU monitor at %s: %s" % (path, err)) from None
        except DriverError:
            self.close()
            raise

    def __enter__(self):
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
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriverError(ErrorCode.OPERATION_TIMEOUT, "QEMU monitor did not answer in time")
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MonitorGone("QEMU closed the monitor connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, arguments: dict | None = None, *, deadline: float | None = None,
                timeout: float = COMMAND_TIMEOUT):
        """Run a command; return its 'return' value, keeping events that arrive meanwhile."""
        if self.sock is None:
            raise MonitorGone("QEMU monitor connection is closed")
        self._id += 1
        msg = {"execute": command, "id": self._id}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
            deadline = deadline or time.monotonic() + timeout
            while True:
                reply = self._read_message(deadline)
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if reply.get("id") != self._id:
                    continue
                if "error" in reply:
                    err = reply["error"]
                    raise QMPError(command, err.get("class", ""), err.get("desc", ""))
                return reply.get("return")
        except OSError as err:
            raise MonitorGone("QEMU monitor connection failed: %s" % err) from None

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


_SHORT_DIR = "/tmp/pyvirsh-sock"


def _short_path(path: str) -> str:
    """A UNIX socket path must fit in 108 bytes; reach long ones through a short link."""
    if len(path.encode()) < 100:
        return path
    link = short_socket_path(os.path.dirname(path))
    return os.path.join(link, os.path.basename(path))


def short_socket_path(directory: str) -> str:
    """A short stand-in for a long directory: a symlink under /tmp named after its hash."""
    import hashlib
    digest = hashlib.sha256(os.path.abspath(directory).encode()).hexdigest()[:16]
    os.makedirs(_SHORT_DIR, mode=0o700, exist_ok=True)
    link = os.path.join(_SHORT_DIR, digest)
    try:
        if os.readlink(link) == directory:
            return link
        os.unlink(link)
    except FileNotFoundError:
        pass
    except OSError:
        try:
            os.unlink(link)
        except OSError:
            pass
    os.symlink(directory, link)
    return link
