"""The session: one per process or interactive shell (virsh's vshControl).

It holds the global options, the output, and the connection, opened once and
reused by every command of a command string or of the shell. Commands receive
it as their first argument (``ctl``).
"""

from __future__ import annotations

import os

from .errors import CommandError, ConnectError
from .output import Output


def default_uri() -> str:
    uri = os.environ.get("PYVIRSH_DEFAULT_URI")
    if uri:
        return uri
    return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"


class Session:
    def __init__(self, uri: str | None = None, *, readonly: bool = False, quiet: bool = False,
                 timing: bool = False, debug: int = -1, output: Output | None = None,
                 keepalive: bool = False):
        self.requested_uri = uri
        self.readonly = readonly
        self.timing = timing
        self.debug = debug
        self.out = output or Output(quiet=quiet)
        self.keepalive = keepalive
        self.escape = "^]"          # the console's escape sequence (-e)
        self.interactive = False
        self.quit_requested = False
        self._conn = None
        self._reconnect = False     # the connection was dropped by a failed connect
        self._completion = None     # (connection, its completion view), see completion_conn

    @property
    def quiet(self) -> bool:
        return self.out.quiet

    # ------------------------------------------------------------------
    # connection
    # ------------------------------------------------------------------

    def connect(self, uri: str | None = None, readonly: bool | None = None) -> None:
        """(Re)open the connection (virsh's virshReconnect); raises ConnectError.

        Without a URI the session's URI is opened again, and then, unless readonly
        is asked for, in the session's mode. As in virsh the old connection is
        closed first (test:///default's shared state ends with its last connection)
        and is not kept when the new one cannot be opened: the session then keeps
        its URI and mode, and the next use of the connection opens them again
        (virshConnectionHandler).
        """
        if not readonly and uri is None:
            readonly = self.readonly
        readonly = bool(readonly)
        target = (uri if uri is not None else self.requested_uri) or default_uri()
        if self._conn is not None:
            self.close()
            self._reconnect = True          # until a connection is open again
        self._conn = self._open(target, readonly)
        self._reconnect = False
        if uri is not None:
            self.requested_uri = uri
        self.readonly = readonly

    def _open(self, uri: str, readonly: bool):
        from .drivers import open_connection   # deferred: drivers pull in what they need
        from .drivers.api import DriverError

        try:
            conn = open_connection(uri, readonly=readonly)
        except DriverError as err:
            raise ConnectError(str(err), preamble=err.preamble) from None
        if self.keepalive:
            # A daemonless connection has no keepalive to set up; virsh words it so.
            conn.close()
            raise ConnectError("this function is not supported by the connection driver: "
                               "virConnectSetKeepAlive", keepalive=True)
        return conn

    @property
    def conn(self):
        if self._conn is None and self._reconnect:
            self.connect()
        if self._conn is None:
            raise CommandError("no valid connection")
        return self._conn

    @property
    def connected(self) -> bool:
        """A connection is open, or will be opened again on use (after a failed connect)."""
        return self._conn is not None or self._reconnect

    def completion_conn(self):
        """The connection TAB completion reads (the driver's completion_view), or None.

        The view is made once per connection and closed with it. A session that
        was never connected (a bash/zsh/fish TAB) is connected here; one whose
        connection was dropped by a failed connect is not: as virsh's completers,
        TAB then offers no names, and reconnecting is left to the next command.
        Never raises.
        """
        if self._conn is None:
            if self._reconnect:
                return None
            try:
                self.connect()
            except Exception:       # noqa: BLE001 - completion stays silent
                return None
        conn = self._conn
        cached = self._completion
        if cached is None or cached[0] is not conn:
            self._close_completion()
            try:
                cached = (conn, conn.completion_view())
            except Exception:       # noqa: BLE001 - completion stays silent
                return None
            self._completion = cached
        return cached[1]

    def _close_completion(self) -> None:
        cached, self._completion = self._completion, None
        if cached is not None and cached[1] is not cached[0]:
            cached[1].close()

    def close(self) -> None:
        self._reconnect = False
        self._close_completion()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    # ------------------------------------------------------------------
    # printing shortcuts
    # ------------------------------------------------------------------

    def print(self, text: str) -> None:
        self.out.print(text)

    def print_extra(self, text: str) -> None:
        self.out.print_extra(text)

    def error(self, message: str) -> None:
        self.out.error(message)
