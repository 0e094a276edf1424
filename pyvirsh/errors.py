"""Failures a command reports: each becomes 'error: ...' lines on stderr and status 1."""

from __future__ import annotations


class CommandError(Exception):
    """A command failed; ``lines`` are printed as 'error: <line>' each, in order.

    An empty list means the failure was already reported (virsh's 'Commit aborted'
    case: status 1 with no error line).
    """

    def __init__(self, *lines: str):
        super().__init__(*lines)
        self.lines = [str(line) for line in lines]


class ConnectError(Exception):
    """The connection could not be opened; virsh words it in two or three lines."""

    def __init__(self, reason: str, keepalive: bool = False, preamble: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.keepalive = keepalive
        self.preamble = preamble

    @property
    def lines(self) -> list[str]:
        head = ["Cannot setup keepalive on connection as requested, disconnecting"] if self.keepalive else []
        return head + ["failed to connect to the hypervisor", self.reason]
