"""A libvirtd of a benchmark's own (reference/virsh-behaviour.md, Appendix C): the peer that
virsh talks to, started with a private socket and stopped when the bench ends."""

from __future__ import annotations

import os
import subprocess
import time


class Libvirtd:
    """A libvirtd of the bench's own, or None when another one holds the system QEMU driver."""

    def __init__(self, directory: str):
        self.dir = directory
        self.proc = None
        self.logd = None
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
        # QEMU's output goes through virtlogd unless qemu.conf says stdio_handler = "file".
        self.logd = subprocess.Popen(["/usr/sbin/virtlogd"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.proc = subprocess.Popen(["/usr/sbin/libvirtd", "-f", conf, "-p", os.path.join(self.dir, "pid")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("libvirtd did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in (self.proc, self.logd):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)

    @property
    def uri(self) -> str:
        return "qemu+unix:///system?socket=" + self.socket
