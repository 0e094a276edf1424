"""The error of a configuration the QEMU driver does not apply: libvirt's "unsupported
configuration: ...".

Apart from support.py: its tables of everything the driver applies are needed only by define
and the XML checks, while the modules a start loads before it spawns QEMU raise this error too."""

from __future__ import annotations

from ..api import DriverError, ErrorCode


def unsupported(message: str) -> DriverError:
    return DriverError(ErrorCode.CONFIG_UNSUPPORTED, message)
