"""pyvirsh's driver layer (imported as pyvirsh.drivers): no click, no printing.

open_connection() maps a URI to a driver:

    test:///default            in-memory twin of libvirt's test driver
    test:///ABS/PATH.xml       the same, loaded from a test-driver node file
    qemu:///session            QEMU driver, per-user state under the XDG dirs
    qemu:///system             QEMU driver, host-wide state (root)
    qemu:///embed?root=DIR     QEMU driver with every file under DIR
    DRIVER+ssh://[user@]host[:port]/PATH[?params]
                               any of these on a far host, through OpenSSH (remote/)
"""

from __future__ import annotations

from .api import Connection, DriverError, ErrorCode


def split_uri(uri: str) -> tuple[str, str, str, dict]:
    """scheme, host, path and query parameters of a local URI like qemu:///embed?root=/x.

    A small parser of its own: urllib.parse would cost start-up time on every command.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "", "", "", {}
    host, slash, path = rest.partition("/")
    path, _, query = (slash + path).partition("?")
    params = {}
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        params[percent_decode(key)] = percent_decode(value)
    return scheme, host, path, params


def percent_decode(text: str) -> str:
    """RFC 3986 %XX decoding as UTF-8; a '%' not followed by two hex digits stays as it is."""
    if "%" not in text:
        return text
    raw, i = bytearray(), 0
    while i < len(text):
        hexpair = text[i + 1:i + 3]
        if text[i] == "%" and len(hexpair) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexpair):
            raw.append(int(hexpair, 16))
            i += 3
        else:
            raw += text[i].encode()
            i += 1
    return raw.decode("utf-8", "replace")


def open_connection(uri: str, readonly: bool = False) -> Connection:
    scheme, host, path, params = split_uri(uri)
    if "+" in scheme:
        from .remote.client import open_remote
        return open_remote(uri, scheme, host, path, params, readonly)
    if scheme == "test" and not host and path.startswith("/"):
        from .test.driver import open_test
        return open_test(uri, path, readonly)
    if scheme == "qemu" and not host:
        if path == "/embed":
            root = params.get("root")
            if not root or not root.startswith("/"):
                raise DriverError(ErrorCode.INVALID_ARG,
                                  "root parameter is required and must be an absolute path: %s" % uri)
            from .qemu.connection import open_qemu
            return open_qemu(uri, "embed", root, readonly)
        if path in ("/system", "/session"):
            from .qemu.connection import open_qemu
            return open_qemu(uri, path[1:], None, readonly)
        raise DriverError(ErrorCode.INVALID_ARG,
                          "unexpected QEMU URI path '%s', try qemu:///system, qemu:///session "
                          "or qemu:///embed?root=DIR" % path)
    raise DriverError(ErrorCode.NO_CONNECT, uri)
