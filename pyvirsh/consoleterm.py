"""The terminal end of `console`: the user's terminal in raw mode, relayed to and from a
driver's ConsoleStream until the escape character, the guest going away, a takeover by
another console, or a signal ends it. The terminal is restored on every one of those
paths (and on any exception), as virsh restores it.

virsh's own loop (tools/virsh-console.c) is the model: stdin in raw mode so typed keys
reach the guest (Ctrl-C included) and are echoed by the guest alone; the escape
character ends the session; EOF on stdin is an error. Unlike virsh, which catches
SIGTERM and SIGHUP and then carries on, pyvirsh ends the session on them and exits with
the signal's status: a console must not outlive the terminal it was hung up from.
"""

from __future__ import annotations

import os
import select
import signal
import termios

from .drivers.rawmode import raw_attributes

CHUNK = 4096
BACKLOG = 1 << 16           # bytes typed ahead of a guest that does not read, at most

ESCAPED, GUEST_GONE = "escaped", "gone"


class StdinClosed(Exception):
    """stdin reached its end (the terminal hung up): virsh's 'EOF on stdin'."""


class Signalled(Exception):
    """SIGTERM or SIGHUP ended the session; the process is to exit with 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def escape_byte(escape: str) -> int:
    """virsh's -e value as the byte typed: '^]' is Ctrl-] (0x1d), a lone character itself."""
    if len(escape) == 2 and escape[0] == "^":
        return ord(escape[1].upper()) ^ 0x40
    return escape.encode()[0]


class RawTerminal:
    """`with RawTerminal(fd):` the terminal in raw mode inside, as it was outside."""

    def __init__(self, fd: int):
        self.fd = fd
        self.saved = None

    def __enter__(self):
        self.saved = termios.tcgetattr(self.fd)
        termios.tcsetattr(self.fd, termios.TCSAFLUSH, raw_attributes(self.saved))
        return self

    def __exit__(self, *exc):
        try:
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, self.saved)
        except termios.error:
            pass            # the terminal hung up: nothing left to restore
        return False


class Signals:
    """`with Signals() as sig:` SIGTERM/SIGHUP end the session (sig.fileno() turns readable,
    sig.received names the signal); SIGINT and SIGQUIT from outside are ignored, as virsh
    ignores them. The previous handlers come back on leaving."""

    ENDING = (signal.SIGTERM, signal.SIGHUP)
    IGNORED = (signal.SIGINT, signal.SIGQUIT)

    def __init__(self):
        self.received: int | None = None
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.previous: dict = {}

    def _ending(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum
        try:
            os.write(self.write_fd, b"!")
        except OSError:
            pass

    def __enter__(self):
        for signum in self.ENDING:
            self.previous[signum] = signal.signal(signum, self._ending)
        for signum in self.IGNORED:
            self.previous[signum] = signal.signal(signum, lambda s, f: None)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        os.close(self.read_fd)
        os.close(self.write_fd)
        return False

    def fileno(self) -> int:
        return self.read_fd


def relay(stream, escape: int, stdin: int = 0, stdout: int = 1) -> str:
    """Relay bytes until the session ends: ESCAPED or GUEST_GONE. Raises StdinClosed,
    Signalled, or the stream's DriverError (the session was taken over). The caller has
    put the terminal in raw mode and catches the signals (RawTerminal, Signals)."""
    with Signals() as sig:
        return _relay(stream, escape, stdin, stdout, sig)


def _relay(stream, escape: int, stdin: int, stdout: int, sig: Signals) -> str:
    to_guest = bytearray()
    guest = stream.fileno()
    wakers = set(stream.event_fds())
    poller = select.poll()
    for fd in (sig.fileno(), *wakers):
        poller.register(fd, select.POLLIN)
    while True:
        poller.register(stdin, select.POLLIN if len(to_guest) < BACKLOG else 0)
        poller.register(guest, select.POLLIN | (select.POLLOUT if to_guest else 0))
        for fd, events in poller.poll():
            if fd == sig.fileno():
                raise Signalled(sig.received or signal.SIGTERM)
            if fd == stdin:
                data = _read(stdin)
                if data is None:
                    continue
                if not data:
                    raise StdinClosed()
                cut = data.find(escape)
                if cut >= 0:
                    to_guest += data[:cut]
                    if to_guest:
                        stream.send(bytes(to_guest))    # what came before the escape, if it fits
                    return ESCAPED
                to_guest += data
            elif fd == guest or fd in wakers:
                if fd in wakers or events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    chunk = stream.recv(CHUNK)
                    if chunk == b"":
                        return GUEST_GONE
                    if chunk:
                        _write_all(stdout, chunk)
                if fd == guest and events & select.POLLOUT and to_guest:
                    del to_guest[:stream.send(bytes(to_guest))]


def _read(fd: int) -> bytes | None:
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""          # EIO: the terminal hung up


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]
