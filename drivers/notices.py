"""Warnings a driver has for the user: things it noticed and repaired on its own.

Drivers never print (DESIGN.md, Seams); a repair that needed no person must still not pass
in silence. A driver calls warn(); the shell takes the messages after each command and
prints them as `warning: ...` lines on stderr (pyvirsh/cli.py). Kept per process: one
command's repairs are reported by that command.
"""

from __future__ import annotations

_pending: list[str] = []


def warn(message: str) -> None:
    _pending.append(message)


def take() -> list[str]:
    """The warnings not yet shown, oldest first; they are shown once."""
    out = list(_pending)
    _pending.clear()
    return out
