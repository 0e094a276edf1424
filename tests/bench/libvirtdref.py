"""A libvirtd of a benchmark's own (reference/virsh-behaviour.md, Appendix C): the peer that
virsh talks to, started with a private socket and stopped when the bench ends."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

# The system QEMU driver's directories, made private (empty) when another libvirtd runs.
PRIVATE_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt", "/etc/libvirt/qemu")


class Libvirtd:
    """A libvirtd of the bench's own: in a mount namespace of its own when another one runs."""

    def __init__(self, directory: str):
        self.dir = directory
        self.proc = None
        self.logd = None
        self.logd_pidfile: str | None = None
        self.socket = os.path.join(directory, "sock", "libvirt-sock")

    def busy(self) -> str | None:
        out = subprocess.run(["pgrep", "-a", "libvirtd|virtqemud"], capture_output=True, text=True).stdout
        return out.strip() or None

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.socket), mode=0o700, exist_ok=True)
        conf = os.path.join(self.dir, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write('unix_sock_dir = "%s/sock"\nlisten_tls = 0\nlisten_tcp = 0\n'
                    'auth_unix_rw = "none"\nauth_unix_ro = "none"\n' % self.dir)
        libvirtd = ["/usr/sbin/libvirtd", "-f", conf, "-p", os.path.join(self.dir, "pid")]
        if self.busy():
            self._start_isolated(libvirtd)
        else:
            # QEMU's output goes through virtlogd unless qemu.conf says stdio_handler = "file".
            self.logd = subprocess.Popen(self._virtlogd(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            self.proc = subprocess.Popen(libvirtd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("libvirtd did not start")
            time.sleep(0.05)

    def _virtlogd(self) -> list[str]:
        # A pidfile of its own: the default /run/virtlogd.pid is outside the private directories,
        # and another bench's virtlogd holding it would make this one exit at once.
        return ["/usr/sbin/virtlogd", "-p", os.path.join(self.dir, "virtlogd.pidfile")]

    def _start_isolated(self, libvirtd: list[str]) -> None:
        """Another libvirtd holds the system QEMU driver's directories: run this one (and its
        virtlogd and QEMUs) in a mount namespace of its own, where those directories are
        empty ones under self.dir, so neither daemon sees the other's state."""
        mounts = []
        for shared in PRIVATE_DIRS:
            mine = os.path.join(self.dir, "ns", shared.strip("/").replace("/", "_"))
            os.makedirs(mine, exist_ok=True)
            os.chmod(mine, 0o755)           # QEMU may run as another user (qemu.conf)
            mounts.append("mount --bind %s %s" % (shlex.quote(mine), shlex.quote(shared)))
        logd_pid = os.path.join(self.dir, "virtlogd.pid")
        script = " && ".join(mounts) + " && { %s & echo $! > %s; } && exec %s" % (
            shlex.join(self._virtlogd()), shlex.quote(logd_pid), shlex.join(libvirtd))
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.logd_pidfile = logd_pid

    def stop(self) -> None:
        for proc in (self.proc, self.logd):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        if self.logd_pidfile is not None and os.path.exists(self.logd_pidfile):
            with open(self.logd_pidfile) as f:
                pid = int(f.read())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    @property
    def uri(self) -> str:
        return "qemu+unix:///system?socket=" + self.socket
