"""Raw terminal attributes (cfmakeraw, which Python's termios lacks before 3.12): no echo,
no line editing, no signals from keys, no character translation, 8-bit bytes.

Used for both ends of a console: the guest's pty (so the line discipline neither echoes
what is typed back to the guest nor turns CR into NL) and the user's terminal."""

from __future__ import annotations

import termios

_IFLAG, _OFLAG, _CFLAG, _LFLAG, _CC = 0, 1, 2, 3, 6


def raw_attributes(attrs: list) -> list:
    """A copy of tcgetattr's list with cfmakeraw's changes."""
    raw = list(attrs)
    raw[_IFLAG] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
                     | termios.IGNCR | termios.ICRNL | termios.IXON)
    raw[_OFLAG] &= ~termios.OPOST
    raw[_LFLAG] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    raw[_CFLAG] = (raw[_CFLAG] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(raw[_CC])
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    raw[_CC] = cc
    return raw
