"""One ssh connection per host, shared by every pyvirsh invocation: OpenSSH's ControlMaster.

The first connection to a host becomes the master and stays for CONTROL_PERSIST
after its last use (ControlPersist); later invocations reach the far host
through its socket at once, without a new TCP connection, key exchange or
login. Whoever can open a control socket can run commands as the login on the
far host, so the sockets live in a private directory that is checked before
every use: a real directory (not a symlink), owned by this user, no access for
group or others. Anything else is refused, not repaired: it may be someone's
trap.

The directory is $PYVIRSH_SSH_CONTROL_DIR, else $XDG_RUNTIME_DIR/pyvirsh-ssh,
else /tmp/pyvirsh-ssh-UID; PYVIRSH_SSH_CONTROL_DIR=none turns sharing off.
"""

from __future__ import annotations

import os
import stat

from ..api import DriverError, ErrorCode

CONTROL_PERSIST = "60s"
# ssh's ControlPath is DIR/%C (40 hex digits), and while it binds the socket a 17-byte
# temporary suffix; a Unix socket path holds 107 bytes.
MAX_DIR_LENGTH = 107 - 1 - 40 - 17


def control_dir() -> str | None:
    chosen = os.environ.get("PYVIRSH_SSH_CONTROL_DIR")
    if chosen:
        return None if chosen == "none" else chosen
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "pyvirsh-ssh")
    return "/tmp/pyvirsh-ssh-%d" % os.geteuid()


def checked_control_dir(path: str) -> str:
    """path, made if missing (0700), after checking it is private to this user."""
    return checked_private_dir(path, "ssh control socket directory")


def checked_private_dir(path: str, what: str, max_length: int = MAX_DIR_LENGTH) -> str:
    """path, made if missing (0700), after checking it is private to this user; what names it
    in the refusal."""
    if not os.path.isabs(path) or len(path) > max_length:
        raise _refuse(what, path, "it must be an absolute path of at most %d bytes" % max_length)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as err:
        raise _refuse(what, path, "it cannot be made: %s" % err.strerror) from None
    try:
        info = os.lstat(path)
    except OSError as err:
        raise _refuse(what, path, err.strerror or str(err)) from None
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(what, path, "it is not a directory")
    if info.st_uid != os.geteuid():
        raise _refuse(what, path, "it belongs to uid %d, not to uid %d" % (info.st_uid, os.geteuid()))
    if info.st_mode & 0o077:
        raise _refuse(what, path, "its mode is %04o, not 0700" % stat.S_IMODE(info.st_mode))
    return path


def _refuse(what: str, path: str, why: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_DENIED, "%s '%s' is not private: %s" % (what, path, why))


def control_options() -> list[str]:
    """ssh's options for a shared connection, [] when sharing is off."""
    path = control_dir()
    if path is None:
        return []
    path = checked_control_dir(path)
    return ["-o", "ControlMaster=auto", "-o", "ControlPath=%s/%%C" % path,
            "-o", "ControlPersist=%s" % CONTROL_PERSIST,
            # A forwarding socket left by a master that died is replaced, not an error.
            "-o", "StreamLocalBindUnlink=yes"]


def control_directory(options: list[str]) -> str:
    """The checked directory named by control_options()'s ControlPath."""
    path = next(o for o in options if o.startswith("ControlPath="))
    return os.path.dirname(path[len("ControlPath="):])
