"""pyvirsh's driver layer (imported as pyvirsh.drivers): no click, no printing.

open_connection() maps a URI to a driver:

    test:///default            in-memory twin of libvirt's test driver
    test:///ABS/PATH.xml       the same, loaded from a test-driver node file
    qemu:///session            QEMU driver, per-user state under the XDG dirs
    qemu:///system             QEMU driver, host-wide state (root)
    qemu:///embed?root=DIR     QEMU driver with every file under DIR
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .api import Connection, DriverError, ErrorCode


def open_connection(uri: str, readonly: bool = False) -> Connection:
    parts = urlsplit(uri)
    scheme = parts.scheme
    if scheme == "test" and not parts.netloc and parts.path.startswith("/"):
        from .test.driver import open_test
        return open_test(uri, parts.path, readonly)
    if scheme == "qemu" and not parts.netloc:
        query = parse_qs(parts.query)
        if parts.path == "/embed":
            roots = query.get("root")
            if not roots or not roots[0].startswith("/"):
                raise DriverError(ErrorCode.INVALID_ARG,
                                  "root parameter is required and must be an absolute path: %s" % uri)
            from .qemu.driver import open_qemu
            return open_qemu(uri, "embed", roots[0], readonly)
        if parts.path in ("/system", "/session"):
            from .qemu.driver import open_qemu
            return open_qemu(uri, parts.path[1:], None, readonly)
        raise DriverError(ErrorCode.INVALID_ARG,
                          "unexpected QEMU URI path '%s', try qemu:///system, qemu:///session "
                          "or qemu:///embed?root=DIR" % parts.path)
    raise DriverError(ErrorCode.NO_CONNECT, uri)
