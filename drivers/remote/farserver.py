"""The far end of shared connections: `pyvirsh --driver-serve URI` keeps one warm server per URI.

A one-shot command over a warm ssh connection would otherwise pay, on the far
host, for a session, a login shell (its rc files) and a Python start. Instead
the first command starts this server once through the shared ssh connection;
it listens on a Unix socket in a private directory of the far login, and the
near end reaches it through the ControlMaster's stream-local forwarding
(`ssh -O forward -L NEAR.sock:FAR.sock`, see sharedserver.py). Each accepted
connection is served by a forked child exactly as `--driver-stdio` serves
one (its own driver connection, its locks and reconcile rules), so a warm
one-shot costs the near Python start and a few round trips.

pyvirsh stays daemonless: the server's life is bound to the ssh session that
started it. Its stdout is that session's channel; when the channel closes
(the ControlMaster exits or is killed, the ssh connection drops) the server
sees the hang-up and exits. It also exits after IDLE_SECONDS with no client,
and when a newer server has taken its socket path. A child serving a call
(a `blockcommit --wait`) outlives it until its own connection ends; the
QEMU job outlives both, as with --driver-stdio.

Security: it runs as the ssh login and nothing more; the socket's directory is
the login's own, mode 0700, checked before use (never repaired); every
accepted peer must be the same uid (SO_PEERCRED: sshd's forwarding child
runs as the login); it speaks only protocol.py, which carries no shell
strings and refuses unknown methods and oversized frames.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import struct
import sys
import time

from ..api import DriverError
from .controlpath import checked_private_dir
from .protocol import ANNOUNCE

IDLE_SECONDS = 60.0
CHECK_SECONDS = 2.0
# A socket path holds 107 bytes: DIR/ + 37 bytes of name + ".PID.tmp" while it is bound.
MAX_DIR_LENGTH = 107 - 1 - 37 - 20
USAGE = "usage: pyvirsh --driver-serve URI   (started by the near end of a DRIVER+ssh:// connection)\n"


def server_dir() -> str:
    """$XDG_RUNTIME_DIR/pyvirsh-serve when a socket path fits under it, else /tmp/pyvirsh-serve-UID."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and len(runtime) + len("/pyvirsh-serve") <= MAX_DIR_LENGTH:
        return os.path.join(runtime, "pyvirsh-serve")
    return "/tmp/pyvirsh-serve-%d" % os.geteuid()


def socket_name(uri: str) -> str:
    """One server per ssh connection (SSH_CONNECTION: the master's), far URI and far pyvirsh: a
    name a server restarted through the same master agrees on (so the master's forwarding
    still fits), and one that a server bound to another near host's master never takes over."""
    who = "%s\0%s\0%s" % (os.environ.get("SSH_CONNECTION", ""), uri,
                          os.path.realpath(sys.argv[0] if sys.argv and sys.argv[0] else sys.executable))
    return hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".sock"


def _preload(uri: str) -> None:
    """Import the URI's driver once in the server, so forked children start warm."""
    from .. import split_uri
    scheme = split_uri(uri)[0]
    if scheme == "test":
        from ..test import driver   # noqa: F401
    elif scheme == "qemu":
        from ..qemu import connection, driver as _qemu   # noqa: F401  (the domain code: made lazily)
    from . import server    # noqa: F401


def _listen(path: str) -> socket.socket:
    """A listening socket at path, replacing whatever stale socket is there: bound under a
    temporary name and renamed over it, so no client ever finds the path missing."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        old_mask = os.umask(0o177)
        try:
            listener.bind(temporary)
        finally:
            os.umask(old_mask)
        listener.listen(16)
        os.rename(temporary, path)
    except OSError:
        listener.close()
        raise
    return listener


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.geteuid()


def _still_ours(path: str, inode: tuple) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == inode


def _serve_child(uri: str, conn: socket.socket) -> int:
    from .server import serve
    rfile = conn.makefile("rb", buffering=0)
    wfile = conn.makefile("wb")
    try:
        return serve(uri, rfile, wfile)
    finally:
        for stream in (rfile, wfile):
            try:
                stream.close()
            except OSError:
                pass
        conn.close()


def run(uri: str, binding: int, idle: float = IDLE_SECONDS) -> int:
    """Listen, announce the socket on binding (the session's stdout), serve until unbound or idle."""
    try:
        directory = checked_private_dir(server_dir(), "pyvirsh server socket directory", MAX_DIR_LENGTH)
    except DriverError as err:
        os.write(binding, ("pyvirsh-serve-error %s\n" % err.message).encode("utf-8", "replace"))
        return 1
    path = os.path.join(directory, socket_name(uri))
    listener = _listen(path)
    info = os.lstat(path)
    inode = (info.st_dev, info.st_ino)
    _preload(uri)
    os.write(binding, ANNOUNCE + path.encode("utf-8", "surrogateescape") + b"\n")
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    poller.register(binding, 0)         # only POLLHUP / POLLERR: the session's channel closed
    children: set[int] = set()
    last_use = time.monotonic()
    try:
        while True:
            while children:
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                children.discard(pid)
            if children:
                last_use = time.monotonic()
            ours = _still_ours(path, inode)
            if not children and (not ours or time.monotonic() - last_use >= idle):
                return 0
            # Wakes now and then: a newer server taking the path, or a child's end, is no event.
            timeout = min(CHECK_SECONDS, max(0.05, idle - (time.monotonic() - last_use)))
            events = dict(poller.poll(timeout * 1000))
            if binding in events:
                return 0        # the ssh session (and the ControlMaster behind it) is gone
            if listener.fileno() not in events:
                continue
            try:
                conn, _addr = listener.accept()
            except OSError:
                continue
            last_use = time.monotonic()
            if not _same_user(conn):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    listener.close()
                    os.close(binding)
                    status = _serve_child(uri, conn)
                finally:
                    os._exit(status)
            conn.close()
            children.add(pid)
    finally:
        listener.close()
        if _still_ours(path, inode):
            try:
                os.unlink(path)
            except OSError:
                pass


def main(argv: list[str]) -> int:
    """`pyvirsh --driver-serve URI`: fds 0, 1, 2 go to /dev/null (processes the drivers start
    do not hold the session open); a private copy of stdout is the binding to the session."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(USAGE)
        return 1
    binding = os.dup(1)         # not inheritable: QEMU does not keep the session alive
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    try:
        return run(argv[0], binding)
    except OSError:
        return 1
