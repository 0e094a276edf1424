"""A tap on a bridge for an unprivileged QEMU driver (qemu:///session run by a user), through
QEMU's setuid (or CAP_NET_ADMIN) qemu-bridge-helper, as libvirt's qemuCreateInBridgePortWithHelper:

    qemu-bridge-helper [--use-vnet] --br=BRIDGE --fd=N

The helper checks the bridge against its ACL (/etc/qemu/bridge.conf: `allow BRIDGE`), makes a
tap, joins it to the bridge with the bridge's MTU, brings it up and sends its file descriptor
back over the socket N (SCM_RIGHTS). The tap is not persistent: it lives as long as a
descriptor of it is open, so QEMU, which gets it as `-netdev tap,fd=N`, takes it with it
when it ends, and nothing is left for pyvirsh to remove (a user could not remove it anyway).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shlex
import socket
import subprocess

from ..api import DriverError, ErrorCode

# Debian's (and libvirt's build for it) place first; other distributions' after.
HELPERS = ("/usr/lib/qemu/qemu-bridge-helper", "/usr/libexec/qemu-bridge-helper")
TUNGETIFF = 0x800454D2          # _IOR('T', 210, unsigned int): a struct ifreq, the name first
HELPER_TIMEOUT = 30.0


def helper_path() -> str:
    for path in HELPERS:
        if os.path.exists(path):
            return path
    return HELPERS[0]


def privileged() -> bool:
    """libvirt's test: a driver run by root makes its taps itself; any other uses the helper."""
    return os.geteuid() == 0


def tap_on_bridge(bridge: str, vnet_hdr: bool) -> tuple[str, int]:
    """A new tap on the bridge: its name and an open descriptor (the caller's, to pass on)."""
    helper = helper_path()
    if not os.access(helper, os.X_OK) or not os.path.isfile(helper):
        err = "No such file or directory" if not os.path.exists(helper) else "Permission denied"
        raise DriverError(ErrorCode.SYSTEM_ERROR, "'%s' is not a suitable bridge helper: %s" % (helper, err))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        argv = [helper] + (["--use-vnet"] if vnet_hdr else []) + ["--br=%s" % bridge, "--fd=%d" % theirs.fileno()]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    pass_fds=(theirs.fileno(),))
        except OSError as err:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "Cannot run %s: %s" % (helper, err.strerror)) from None
        theirs.close()          # the helper's copy alone: its exit ends our read
        fds: list[int] = []
        try:
            ours.settimeout(HELPER_TIMEOUT)
            _, fds, _, _ = socket.recv_fds(ours, 1, 1)
        except OSError:
            pass
        try:
            _, errbuf = proc.communicate(timeout=HELPER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, errbuf = proc.communicate()
        if not fds:
            # libvirt's words: the command, the helper's stderr, and why no descriptor came
            # (the helper closed its end: ENOTCONN).
            stderr = ("stderr=" + errbuf.decode(errors="replace")) if errbuf else ""
            raise DriverError(ErrorCode.SYSTEM_ERROR, "%s: failed to communicate with bridge helper: %s: %s"
                              % (shlex.join(argv), stderr, os.strerror(errno.ENOTCONN)))
        fd = fds[0]
        for extra in fds[1:]:
            os.close(extra)
        if proc.returncode != 0:
            os.close(fd)
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Child process (%s) unexpected exit status %d"
                              % (shlex.join(argv), proc.returncode))
        try:
            ifreq = fcntl.ioctl(fd, TUNGETIFF, bytes(40))
        except OSError as err:
            os.close(fd)
            raise DriverError(ErrorCode.SYSTEM_ERROR, "Unable to get tap device name: %s" % err.strerror) from None
        return ifreq[:16].split(b"\0", 1)[0].decode(), fd
    finally:
        ours.close()
        theirs.close()
