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
        self.interactive = False
        self.quit_requested = False
        self._conn = None
        self._reconnect = False     # the connection was dropped by a failed connect

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

    def close(self) -> None:
        self._reconnect = False
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
