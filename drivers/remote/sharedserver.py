"""The near end of a warm far server (farserver.py), reached through the ControlMaster.

A one-shot command first tries NEAR.sock, a socket in the checked control
directory (controlpath.py) that the host's ControlMaster forwards to the far
server's socket (`ssh -O forward -L NEAR.sock:FAR.sock`). When it answers the
hello, the command costs this Python's start and its round trips, with no
ssh process, far login shell or far Python start.

When it does not (no master, no far server, a stale socket), the command
starts the far server through the shared connection (`ssh HOST pyvirsh
--driver-serve URI`, an ssh session left running in the background: the far
server lives as long as it does, see farserver.py), reads the far socket's
path that the server announces, asks the master to forward NEAR.sock to it,
and connects. Anything that fails on this way (an older far pyvirsh, a far
sshd that forbids stream-local forwarding) returns None, and the caller falls
back to `--driver-stdio`, whose errors are the ones the user is shown.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

from .protocol import ANNOUNCE
from .uri import RemoteURI

T = TypeVar("T")

MAX_ANNOUNCEMENT = 64 * 1024    # what a far login's rc files may print before the announcement
REFUSED = ".refused"            # beside NEAR.sock: the way failed lately, not worth retrying at once
REFUSAL_SECONDS = 600


def near_socket(remote: RemoteURI, control: list[str], directory: str) -> str:
    """The forwarding socket for this ssh command line and far URI (43 bytes of name)."""
    who = "\0".join(remote.ssh_argv(control, "--driver-serve"))
    return os.path.join(directory, hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest()[:40]
                        + ".pv")


def open_shared(remote: RemoteURI, control: list[str], directory: str,
                hello: Callable[[socket.socket], T | None]) -> T | None:
    """What hello makes of a socket connected to the far server, started if need be; None when
    the way is not open. hello returns None when the stream broke before the far server
    answered (the master could not reach one), and raises the far driver's own errors."""
    near = near_socket(remote, control, directory)
    if _refused_lately(near):
        return None
    channel = _connect(near, hello)
    if channel is not None:
        return channel
    far = _start_server(remote, control)
    if far is None or ":" in near or ":" in far:
        _note_refusal(near)
        return None
    done = subprocess.run(remote.control_argv(control, ["-O", "forward", "-L", "%s:%s" % (near, far)]),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False)
    if done.returncode != 0:
        _note_refusal(near)
        return None
    channel = _connect(near, hello)
    if channel is None:
        _note_refusal(near)
    return channel


def _refused_lately(near: str) -> bool:
    """A fresh far server could not be reached within the last REFUSAL_SECONDS (an sshd that
    forbids forwarding, an older far pyvirsh): go straight to --driver-stdio meanwhile."""
    try:
        return time.time() - os.stat(near + REFUSED).st_mtime < REFUSAL_SECONDS
    except OSError:
        return False


def _note_refusal(near: str) -> None:
    try:
        os.close(os.open(near + REFUSED, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600))
        os.utime(near + REFUSED)
    except OSError:
        pass


def _connect(near: str, hello: Callable[[socket.socket], T | None]) -> T | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(near)
    except OSError as err:
        sock.close()
        if isinstance(err, ConnectionRefusedError):
            try:                # no master listens there any more: the next one binds afresh
                os.unlink(near)
            except OSError:
                pass
        return None
    return hello(sock)


def _start_server(remote: RemoteURI, control: list[str]) -> str | None:
    """Start the far server in an ssh session of the shared connection, left running in the
    background; the far socket's path it announces, or None."""
    read_end, pid = _spawn_detached(remote.ssh_argv(control, "--driver-serve"))
    far = None
    with open(read_end, "rb") as announcements:
        seen = 0
        for line in announcements:
            seen += len(line)
            if line.startswith(ANNOUNCE) and line.endswith(b"\n"):
                far = os.fsdecode(line[len(ANNOUNCE):-1])
                break
            if seen > MAX_ANNOUNCEMENT:
                break
    if far is None or not os.path.isabs(far):
        if pid > 0:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        return None
    return far


def _spawn_detached(argv: list[str]) -> tuple[int, int]:
    """argv run by a grandchild that no process of ours waits for (it is the far server's
    lifeline and outlives this command): stdin and stderr at /dev/null (a failure is retold
    by --driver-stdio), stdout a pipe for the announcement, SIGINT ignored (a Ctrl-C at the
    terminal is for the command, not for the shared server). The pipe's read end and the pid."""
    read_end, write_end = os.pipe()
    pid_read, pid_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            os.close(pid_read)
            grandchild = os.fork()
            if grandchild == 0:
                os.setsid()     # no terminal signals: only the session's end ends it
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(write_end, 1)
                os.dup2(devnull, 2)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    os.execvp(argv[0], argv)
                finally:
                    os._exit(127)
            os.write(pid_write, str(grandchild).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.close(pid_write)
    os.waitpid(child, 0)
    with open(pid_read, "rb") as f:
        text = f.read()
    return read_end, int(text) if text.isdigit() else -1
