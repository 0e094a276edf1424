"""QEMU processes: spawning without a daemon, telling whether one lives, stopping it.

Spawning detaches through a shell that exits, so that QEMU's parent is init, not the pyvirsh
process (a long-lived shell would otherwise collect zombies); QEMU's stdout and stderr
go to the domain's log file, so a failed start can show QEMU's own words.

Liveness is QEMU's pidfile lock (QEMU holds a write lock on its pidfile while it
runs) confirmed by /proc: never `kill -0`, which a zombie or a recycled pid
would pass.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ..api import DriverError, ErrorCode


# The detaching parent: a shell that starts argv in the background, prints its pid and exits,
# so that QEMU's parent is init. `>&2` sends QEMU's stdout to the log too: the pipe the pid is
# read from is then held by the shell alone, and ends when it exits. A shell starts background
# commands with SIGINT and SIGQUIT ignored: env gives QEMU their default actions back.
_DETACH = 'env --default-signal=INT,QUIT "$@" >&2 & echo $!'
# Those shells once they have printed the pid: reaped when done, never waited for (a long-lived
# pyvirsh shell would otherwise keep them as zombies).
_shells: list[int] = []


def spawn(argv: list[str], log_path: str, env: dict | None = None, pass_fds: tuple[int, ...] = ()) -> int:
    """Start argv detached (new session, parent init), stdout/stderr appended to log_path.
    pass_fds stay open in the child under their own numbers (a listening socket made here, so
    that the caller can connect at once and wait for the greeting instead of polling for it).

    posix_spawn (a vfork, no copy of this process) of /bin/sh, which forks once more: forking
    this Python process twice took 10-25 ms before QEMU was exec'd. Only the standard streams
    and pass_fds reach QEMU: every other descriptor is close-on-exec (Python's default), and
    any this process inherited open across exec is closed in the child.

    Returns QEMU's pid.
    """
    _reap_shells()
    read_end, write_end = os.pipe()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    keep = set(pass_fds) | {read_end, write_end, log_fd}
    actions: list[tuple] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                            (os.POSIX_SPAWN_DUP2, write_end, 1),
                            (os.POSIX_SPAWN_DUP2, log_fd, 2)]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds() if fd > 2 and fd not in keep]
    for fd in pass_fds:
        os.set_inheritable(fd, True)
    try:
        shell = os.posix_spawn("/bin/sh", ["sh", "-c", _DETACH, "sh"] + list(argv),
                               env if env is not None else os.environ, file_actions=actions, setsid=True)
    except OSError as err:
        os.close(read_end)
        raise DriverError(ErrorCode.INTERNAL_ERROR, "failed to start QEMU: %s" % err.strerror) from None
    finally:
        for fd in pass_fds:
            os.set_inheritable(fd, False)
        os.close(write_end)
        os.close(log_fd)
    try:
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(read_end, 64)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        _shells.append(shell)       # it exits right after printing the pid: no need to wait here
    if not data.strip().isdigit():
        raise DriverError(ErrorCode.INTERNAL_ERROR, "failed to start QEMU")
    return int(data)


def _reap_shells() -> None:
    for shell in list(_shells):
        try:
            done, _ = os.waitpid(shell, os.WNOHANG)
        except ChildProcessError:
            done = shell
        if done:
            _shells.remove(shell)


def _inherited_fds() -> list[int]:
    """This process's descriptors that stay open across exec."""
    fds = []
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        try:
            if os.get_inheritable(fd):
                fds.append(fd)
        except OSError:
            pass            # the listing's own descriptor, closed by now
    return fds


def listening_socket(path: str):
    """A UNIX stream socket bound at path (mode 0600) and listening: the monitor a QEMU takes
    as `fd=N`. Connections made before QEMU serves it wait in its backlog; once every holder
    has closed it (QEMU died), they get an error, never a hang."""
    # The C module: socket.py imports selectors, enum and array first, some 3 ms before a
    # start can spawn QEMU. Its sockets are close-on-exec, as socket.py's are.
    import _socket
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(8)
    except OSError as err:
        sock.close()
        raise DriverError(ErrorCode.OPERATION_FAILED, "cannot create the socket '%s': %s"
                          % (path, err.strerror)) from None
    return sock


def _proc_state(pid: int) -> str | None:
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The state letter follows the command name, which is in parentheses.
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3].decode()


def pid_alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def pidfile_locked(pidfile: str) -> bool:
    """True while some process holds the lock QEMU takes on its pidfile."""
    try:
        fd = os.open(pidfile, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        return err.errno in (errno.EAGAIN, errno.EACCES)
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def qemu_alive(pid: int, pidfile: str) -> bool:
    """Is this QEMU still running? The pidfile lock, confirmed by /proc (no zombies)."""
    return pidfile_locked(pidfile) and pid_alive(pid)


def open_files(pid: int) -> set[str]:
    """The files a process has open (/proc/PID/fd), as real paths."""
    out: set[str] = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("/"):
            out.add(target.removesuffix(" (deleted)"))
    return out


def pids_naming(path: str) -> list[int]:
    """Live processes whose command line has an argument containing `path` (a QEMU's -pidfile
    names its domain's run directory, so this finds a QEMU no status file records)."""
    wanted = path.encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(wanted in arg for arg in argv) and pid_alive(int(entry)):
            out.append(int(entry))
    return out


def kill_now(pid: int) -> None:
    """SIGKILL and wait: for a QEMU whose guest never ran (still stopped by -S)."""
    import signal               # here, not at the top: list and lookups never stop a QEMU
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not wait_gone(pid, 10.0):
        raise DriverError(ErrorCode.OPERATION_FAILED, "failed to terminate QEMU process %d" % pid)


def cpu_time_ns(pid: int) -> int:
    """User plus system CPU time of a process, from /proc."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat[stat.rfind(b")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1000000000 // os.sysconf("SC_CLK_TCK")


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    return not pid_alive(pid)


def terminate(pid: int, graceful_quit=None) -> None:
    """Stop QEMU: QMP quit if offered, then SIGTERM, then SIGKILL, each with a timeout.

    A QEMU busy in a long monitor command can ignore SIGTERM, hence the last step.
    """
    import signal
    if not pid_alive(pid):
        return
    if graceful_quit is not None:
        try:
            graceful_quit()
        except DriverError:
            pass
        if wait_gone(pid, 3.0):
            return
    for sig, timeout in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_gone(pid, timeout):
            return
    raise DriverError(ErrorCode.OPERATION_FAILED, "failed to terminate QEMU process %d" % pid)


def log_tail(path: str, lines: int = 5, since: int = 0) -> str:
    """The last lines of a log, from offset since on (what QEMU wrote after the start's own
    header, as libvirt reports it)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(since, size - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


# shlex.quote's safe characters (\w in ASCII and @%+=:,./-), without importing re and shlex
# before a start's spawn.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def command_line(argv: list[str]) -> str:
    """argv as one shell line, quoted as shlex.join quotes it (QEMU's command line in the log)."""
    return " ".join(w if w and _SAFE.issuperset(w) else "'" + w.replace("'", "'\"'\"'") + "'" for w in argv)
