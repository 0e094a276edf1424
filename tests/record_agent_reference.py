"""Record what real virsh 9.0 + libvirt's QEMU driver print for the guest agent commands,
on the same tiny guest test_guest_agent.py boots, into tests/data/agent-libvirt.json (the
reference test_guest_agent.py compares pyvirsh with). Run by hand, as root, on Debian 12 with
libvirt-daemon-driver-qemu installed:

    .venv/bin/python tests/record_agent_reference.py

libvirt runs daemonless here (virsh -c qemu:///embed?root=DIR: the QEMU driver inside the
one virsh process, whose interactive shell is fed the commands one by one), so it needs no
libvirtd and takes no host-wide state. Each command's stdout and stderr are kept as virsh
printed them; libvirt's own log lines (taint warnings) are dropped.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testguest
from qemuhelp import ext4_qcow2
from test_guest_agent import AGENT, BARE_XML, GUEST_XML, GuestShell, agent_extras

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "agent-libvirt.json")
QEMU_CONF = 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n'


class Virsh:
    """virsh's interactive shell on a pipe: one command at a time, its output split off by a marker."""

    def __init__(self, uri: str):
        self.proc = subprocess.Popen(["virsh", "-c", uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=dict(os.environ, LANG="C"))
        self.count = 0
        self.buf = b""
        self._read_until(b"virsh # ")

    def _read_until(self, marker: bytes, timeout: float = 300) -> bytes:
        """Everything up to and including marker; what follows stays for the next read."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise SystemExit("virsh did not print %r; it printed %r" % (marker, self.buf))
            self.buf += os.read(self.proc.stdout.fileno(), 65536)
        end = self.buf.index(marker) + len(marker)
        text, self.buf = self.buf[:end], self.buf[end:]
        return text

    def _drain_stderr(self) -> bytes:
        out = b""
        while select.select([self.proc.stderr], [], [], 0.2)[0]:
            chunk = os.read(self.proc.stderr.fileno(), 65536)
            if not chunk:
                break
            out += chunk
        return out

    def run(self, *args: str) -> dict:
        self.count += 1
        marker = "::END-%d::" % self.count
        line = shlex.join(args)
        self.proc.stdin.write(("%s\necho %s\n" % (line, marker)).encode())
        self.proc.stdin.flush()
        text = self._read_until(marker.encode() + b"\n").decode()
        # "LINE\nOUTPUT virsh # echo MARKER\nMARKER\n"
        body = text.split("\n", 1)[1].rsplit("virsh # echo " + marker, 1)[0]
        self._read_until(b"virsh # ")
        err = "".join(ln for ln in self._drain_stderr().decode().splitlines(True)
                      if not (ln[:4].isdigit() and ": info : " in ln or ": warning : " in ln))
        return {"args": list(args), "stdout": body, "stderr": err}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    base = tempfile.mkdtemp(prefix="agentref-")
    os.makedirs(os.path.join(base, "etc"))
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    kernel, initrd = testguest.build(extras=agent_extras(), flavour="agent-reference")
    disk = ext4_qcow2(os.path.join(base, "data.qcow2"))
    serial = os.path.join(base, "ttyS0.sock")
    with open(os.path.join(base, "guest.xml"), "w") as f:
        f.write(GUEST_XML % {"kernel": kernel, "initrd": initrd, "disk": disk, "serial": serial})
    channel = "<channel type='unix'><target type='virtio' name='%s'/></channel>" % AGENT
    for name, devices in (("noagent", ""), ("silent", channel)):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(base, name + ".qcow2"), "16M"],
                       check=True)
        with open(os.path.join(base, name + ".xml"), "w") as f:
            f.write(BARE_XML % {"name": name, "devices": devices, "disk": os.path.join(base, name + ".qcow2")})

    virsh = Virsh("qemu:///embed?root=%s" % base)
    records = []

    def rec(*args):
        result = virsh.run(*args)
        print(result, flush=True)
        records.append(result)
        return result

    try:
        for name in ("agentguest", "noagent", "silent"):
            virsh.run("define", os.path.join(base, name + ".xml") if name != "agentguest"
                      else os.path.join(base, "guest.xml"))
            virsh.run("start", name)
        shell = GuestShell(serial)
        shell.read_until(b"PYVIRSH-GUEST-READY")
        deadline = time.monotonic() + 300
        while "state=\"connected\"" not in virsh.run("dumpxml", "agentguest", "--xpath", "//channel/target")["stdout"]:
            if time.monotonic() > deadline:
                raise SystemExit("the agent never connected")
            time.sleep(1)
        shell.sock.sendall(b"\n")
        shell.read_until(b"guest# ")
        for name in ("noagent", "silent"):
            for words in (["domfsfreeze"], ["domfsthaw"], ["domfsinfo"], ["domtime"], ["domtime", "--now"],
                          ["guestinfo"], ["guestvcpus"], ["set-user-password", "root", "pw"],
                          ["domifaddr", "--source", "agent"], ["qemu-agent-command", '{"execute":"guest-ping"}'],
                          ["snapshot-create-as", name, "q1", "--disk-only", "--quiesce"],
                          ["snapshot-create-as", name, "q2", "--quiesce"]):
                rec(words[0], *([] if words[0].startswith("snapshot") else [name]), *words[1:])
            rec("dumpxml", name, "--xpath", "//channel/target")
        g = "agentguest"
        rec("dumpxml", g, "--xpath", "//channel/target")
        rec("domfsinfo", g)
        rec("domfsfreeze", g)
        rec("qemu-agent-command", g, '{"execute":"guest-fsfreeze-status"}')
        rec("domfsthaw", g, "/mnt")
        rec("domfsthaw", g)
        rec("domfsfreeze", g, "--mountpoint", "/mnt")
        rec("domfsthaw", g)
        rec("domfsfreeze", g, "/nope")
        rec("qemu-agent-command", g, '{"execute":"guest-ping"}')
        rec("qemu-agent-command", g, "--pretty", '{"execute":"guest-ping"}')
        rec("qemu-agent-command", g, "--pretty", '{"execute":"guest-get-host-name"}')
        rec("qemu-agent-command", g, "--block", '{"execute":"guest-ping"}')
        rec("qemu-agent-command", g, "--timeout", "5", '{"execute":"guest-ping"}')
        rec("qemu-agent-command", g, "--async", '{"execute":"guest-ping"}')
        rec("qemu-agent-command", g, '{"execute":"guest-no-such-command"}')
        rec("qemu-agent-command", g, '{"execute":"guest-fsfreeze-freeze-list","arguments":{"mountpoints":1}}')
        rec("qemu-agent-command", g, "not json")
        rec("qemu-agent-command", g, '["execute"]')
        rec("guestinfo", g, "--os", "--hostname", "--timezone")
        rec("guestinfo", g, "--user")
        rec("guestinfo", g, "--filesystem")
        rec("guestinfo", g, "--disk")
        rec("guestinfo", g, "--interface")
        rec("guestvcpus", g)
        rec("guestvcpus", g, "--cpulist", "1", "--disable")
        rec("guestvcpus", g)
        rec("guestvcpus", g, "--cpulist", "7", "--enable")
        rec("guestvcpus", g, "--cpulist", "x", "--enable")
        rec("guestvcpus", g, "--cpulist", "1", "--enable")
        shell.run("echo 'root:x:0:0::/:/bin/sh' > /etc/passwd && echo 'root:*:1::::::' > /etc/shadow")
        rec("set-user-password", g, "root", "s3cret")
        rec("set-user-password", g, "root", "$6$salt$ready", "--encrypted")
        rec("set-user-password", g, "nobody", "pw")
        rec("domifaddr", g, "--source", "agent")
        rec("domifaddr", g, "--source", "agent", "--full")
        rec("domifaddr", g)
        rec("domifaddr", g, "--source", "arp")
        rec("domtime", g, "--time", "1000000000")
        rec("domtime", g, "--pretty")
        rec("domtime", g, "--now")
        rec("domtime", g, "--sync")
        pid = shell.run("cat /var/run/qemu-ga.pid").strip()
        shell.run("kill -STOP %s" % pid)
        rec("qemu-agent-command", g, "--timeout", "1", '{"execute":"guest-ping"}')
        shell.run("kill -CONT %s" % pid)
        rec("qemu-agent-command", g, '{"execute":"guest-ping"}')
        rec("snapshot-create-as", g, "s1", "--disk-only", "--quiesce")
        rec("qemu-agent-command", g, '{"execute":"guest-fsfreeze-status"}')
        rec("snapshot-create-as", g, "s2", "--quiesce")
        rec("suspend", g)
        rec("domfsfreeze", g)
        rec("qemu-agent-command", g, '{"execute":"guest-ping"}')
        rec("resume", g)
        for name in ("agentguest", "noagent", "silent"):
            virsh.run("destroy", name)
    finally:
        virsh.close()
    with open(OUT, "w") as f:
        json.dump({"libvirt": "9.0.0 (Debian 12), QEMU driver in qemu:///embed mode",
                   "records": records}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
