"""UNIX socket paths that fit: a socket's path must fit in 108 bytes, so a long one is reached
through a short link in a private directory of the user's.

Apart from qmp.py so that a start can make QEMU's monitor socket before it imports the QMP
client (json, select...), which it needs only once QEMU is up."""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode


def _links_dir() -> str:
    """The caller's own directory of socket links: created 0700, and refused if anyone
    else owns it or can write to it (a shared /tmp must not let another user redirect
    a link and take over a QEMU monitor)."""
    import stat
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    if len(base) > 40:      # the link, a 16-digit hash and 'qmp.sock' must still fit in 108 bytes
        base = "/tmp"
    path = os.path.join(base, "pyvirsh-sock-%d" % os.geteuid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as err:
        raise DriverError(ErrorCode.OPERATION_FAILED, "cannot create '%s': %s" % (path, err.strerror)) from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise DriverError(ErrorCode.OPERATION_FAILED, "'%s' is not a private directory of this user: "
                          "remove it, or use a shorter state directory" % path)
    return path


def short_path(path: str) -> str:
    """A UNIX socket path must fit in 108 bytes; reach long ones through a short link."""
    if len(path.encode()) < 100:
        return path
    link = short_socket_path(os.path.dirname(path))
    return os.path.join(link, os.path.basename(path))


def short_socket_path(directory: str) -> str:
    """A short stand-in for a long directory: a symlink named after its hash."""
    import hashlib
    digest = hashlib.sha256(os.path.abspath(directory).encode()).hexdigest()[:16]
    link = os.path.join(_links_dir(), digest)
    for _ in range(3):      # another pyvirsh may be making the same link at the same time
        try:
            if os.readlink(link) == directory:
                return link
            os.unlink(link)
        except FileNotFoundError:
            pass
        except OSError:
            try:
                os.unlink(link)
            except OSError:
                pass
        try:
            os.symlink(directory, link)
            return link
        except FileExistsError:
            continue
    raise DriverError(ErrorCode.OPERATION_FAILED, "cannot make a short socket link for '%s'" % directory)
