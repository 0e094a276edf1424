"""Record what virsh 9.0 + libvirt's QEMU driver give for a booted guest that is watched:
balloon statistics from the guest's virtio_balloon driver (dommemstat, domstats --balloon),
vcpucount --guest through the real guest agent, keys sent in every codeset as the guest's
own console reads them, and the I/O error events of a disk whose image fills its tiny file
system. Written to tests/data/watch-libvirt.json; test_guest_watch.py replays it on pyvirsh.
Run by hand, as root, on Debian 12 with libvirt-daemon-driver-qemu installed:

    .venv/bin/python tests/record_watch_reference.py

The guest is test_guest_agent.py's (qemu-ga inside tests/testguest.py's tiny Linux), with a
balloon that reports every second, a reader of the first virtual terminal (the PS/2 keyboard's
lines go to /tmp/keys) and a second disk, vdb, a qcow2 image on a 1 MiB tmpfs: the guest
writes past what the file system holds and QEMU stops it (werror=enospc, QEMU's default).
libvirt runs daemonless (qemu:///embed?root=DIR) in one virsh process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import testguest
from qemuhelp import ext4_qcow2
from record_agent_reference import QEMU_CONF, Virsh
from test_guest_agent import GUEST_XML, GuestShell, agent_extras

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "watch-libvirt.json")

# the first virtual terminal's lines (the PS/2 keyboard types there) appended to /tmp/keys
KEYS_SH = b"cat /dev/tty1 >> /tmp/keys &\n"

# the agent guest, plus a reporting balloon and vdb: %(full)s on the tiny file system
WATCH_XML = GUEST_XML.replace("<name>agentguest</name>", "<name>watched</name>").replace(
    "    <serial type='unix'>",
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source file='%(full)s'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "    </disk>\n"
    "    <serial type='unix'>").replace(
    "  </devices>",
    "    <memballoon model='virtio'>\n"
    "      <stats period='1'/>\n"
    "    </memballoon>\n"
    "  </devices>")

# Keys of "hello world" in every codeset virsh knows, one send-key each, then Enter; the
# guest's line is what its keyboard driver made of what QEMU was told.
SEND_KEYS = [
    ["KEY_H"], ["--codeset", "xt", "0x12"], ["--codeset", "atset1", "0x26"], ["--codeset", "atset2", "0x4b"],
    ["--codeset", "atset3", "0x44"], ["--codeset", "os_x", "ANSI_Period"], ["--codeset", "xt_kbd", "57"],
    ["--codeset", "usb", "26"], ["--codeset", "win32", "VK_O"], ["--codeset", "qnum", "0x13"],
    ["--codeset", "rfb", "0x26"], ["--codeset", "linux", "KEY_D"], ["--codeset", "xt_kbd", "0x11c"],
]


def watch_extras() -> dict:
    extras = agent_extras()
    extras["/etc/pyvirsh.d/keys.sh"] = (stat.S_IFREG | 0o755, KEYS_SH)
    return extras


def tiny_disk(base: str) -> tuple[str, str]:
    """A 1 MiB tmpfs at base/full with a 16 MiB qcow2 on it: (mount point, image)."""
    mnt = os.path.join(base, "full")
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], check=True)
    image = os.path.join(mnt, "full.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "16M"], check=True)
    return mnt, image


# what the guest runs to hit the full disk: more than 1 MiB, direct, so QEMU writes at once
FILL = "dd if=/dev/urandom of=/dev/vdb bs=64k count=64 oflag=direct 2>/dev/null"


def main() -> None:
    base = tempfile.mkdtemp(prefix="watchref-")
    os.makedirs(os.path.join(base, "etc"))
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    kernel, initrd = testguest.build(extras=watch_extras(), flavour="watch-reference")
    disk = ext4_qcow2(os.path.join(base, "data.qcow2"))
    mnt, full = tiny_disk(base)
    serial = os.path.join(base, "ttyS0.sock")
    with open(os.path.join(base, "guest.xml"), "w") as f:
        f.write(WATCH_XML % {"kernel": kernel, "initrd": initrd, "disk": disk, "serial": serial, "full": full})
    virsh = Virsh("qemu:///embed?root=%s" % base)
    records = []

    def rec(*args):
        result = virsh.run(*args)
        result["stdout"] = result["stdout"].replace(base, "DIR")
        result["stderr"] = result["stderr"].replace(base, "DIR")
        print(result, flush=True)
        records.append(result)
        return result

    g = "watched"
    try:
        virsh.run("define", os.path.join(base, "guest.xml"))
        virsh.run("start", g)
        shell = GuestShell(serial)
        shell.read_until(b"PYVIRSH-GUEST-READY")
        deadline = time.monotonic() + 300
        while "state=\"connected\"" not in virsh.run("dumpxml", g, "--xpath", "//channel/target")["stdout"]:
            if time.monotonic() > deadline:
                raise SystemExit("the agent never connected")
            time.sleep(1)
        shell.sock.sendall(b"\n")
        shell.read_until(b"guest# ")
        time.sleep(3)           # a few balloon reports
        rec("dommemstat", g)
        rec("domstats", "--balloon", g)
        rec("dommemstat", g, "--period", "2", "--live")
        rec("vcpucount", g, "--guest")
        rec("vcpucount", g, "--guest", "--active")
        rec("vcpucount", g, "--guest", "--maximum")
        rec("vcpucount", g, "--guest", "--config")
        for words in SEND_KEYS:
            rec("send-key", g, *words)
        rec("send-key", g, "KEY_ENTER")
        time.sleep(1)
        records.append({"guest-keys": shell.run("cat /tmp/keys")})
        print(records[-1])
        shell.sock.sendall(("(sleep 3; %s) &\n" % FILL).encode())
        rec("event", "--all", "--loop", "--timeout", "20")
        rec("domstate", g, "--reason")
        rec("domblkerror", g)
        for name in (g,):
            virsh.run("destroy", name)
    finally:
        virsh.close()
        subprocess.run(["umount", mnt])
    with open(OUT, "w") as f:
        json.dump({"libvirt": "9.0.0 (Debian 12), QEMU driver in qemu:///embed mode; DIR is the embed root",
                   "records": records}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
