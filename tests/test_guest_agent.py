"""The guest agent on real QEMU: Debian's qemu-ga binary (with its shared libraries and the
ELF interpreter) runs inside tests/testguest.py's tiny Linux, booted under TCG with an
ext4 data disk mounted at /mnt. One guest serves the whole module; its root shell on a
unix-socket serial port lets the test act inside the guest (check a freeze, stop the agent).

Every agent command runs against it, snapshot-create-as --disk-only --quiesce freezes and
thaws around the transaction (qemu-ga's own log says when), and bad input gets libvirt's
words: agent not configured, agent not connected, agent timeout. Two more QEMUs without a
guest OS (their firmware finds nothing to boot and waits) have no agent channel, or a
channel nobody in the guest opened."""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import time

import pytest
from lxml import etree

import testguest
from qemuhelp import Env, ext4_qcow2, qemu_img

DEADLINE = 300          # seconds for the guest to come up under TCG on a busy machine: a bound, not a check
AGENT = "org.qemu.guest_agent.0"

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/qemu-ga"),
                       reason="qemu-ga is not installed (apt-get install -y qemu-guest-agent)"),
]

# busybox-static has no chpasswd, which qemu-ga's guest-set-user-password runs: a small one
CHPASSWD = b"""#!/bin/sh
IFS= read -r line
user=${line%%:*}
pass=${line#*:}
if [ "$1" = -e ]; then hash="$pass"; else hash=$(mkpasswd -m sha512 "$pass"); fi
sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/shadow
"""

AGENT_SH = b"""\
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mkdir -p /var/run /var/log /tmp /mnt
hostname agentguest
ifconfig lo 127.0.0.1 up
modprobe crc32c_intel     # ext4 needs crc32c: SSE4.2, from <cpu mode='maximum'/>
modprobe ext4
mount -t ext4 /dev/vda /mnt && echo written-before-snapshot > /mnt/before.txt && sync
for p in /sys/class/virtio-ports/*; do
    [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/$(basename $p)
done
/usr/sbin/qemu-ga -m virtio-serial -p $port -d -f /var/run/qemu-ga.pid -l /var/log/qemu-ga.log -v
"""

OS_RELEASE = b'ID=pyvirsh\nNAME="pyvirsh test guest"\nPRETTY_NAME="pyvirsh test guest 1"\nVERSION_ID=1\n'


def _file(path: str) -> tuple[int, bytes]:
    with open(path, "rb") as f:
        return stat.S_IFREG | 0o755, f.read()


def agent_extras() -> dict:
    """qemu-ga, every library ldd names and the ELF interpreter, ext4's modules, the start script."""
    extras = {"/usr/sbin/qemu-ga": _file("/usr/sbin/qemu-ga"),
              "/etc/pyvirsh.d/agent.sh": (stat.S_IFREG | 0o755, AGENT_SH),
              "/etc/os-release": (stat.S_IFREG | 0o644, OS_RELEASE),
              "/usr/sbin/chpasswd": (stat.S_IFREG | 0o755, CHPASSWD),
              # qemu-ga's guest-set-time runs /sbin/hwclock: busybox's
              "/sbin/hwclock": (stat.S_IFLNK | 0o777, b"/bin/busybox")}
    ldd = subprocess.run(["ldd", "/usr/sbin/qemu-ga"], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0]
        if path.startswith("/"):
            extras[path] = _file(os.path.realpath(path))
    version = testguest.kernel_version()
    root = "/lib/modules/%s" % version
    deps: dict[str, list[str]] = {}
    with open(os.path.join(root, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
    todo, wanted = ["kernel/fs/ext4/ext4.ko", "kernel/arch/x86/crypto/crc32c-intel.ko"], set()
    while todo:
        rel = todo.pop()
        if rel in deps and rel not in wanted:
            wanted.add(rel)
            todo += deps[rel]
    for rel in wanted:
        extras[os.path.join(root, rel)] = _file(os.path.join(root, rel))
    return extras


class GuestShell:
    """The guest's root shell on its serial port (a unix socket QEMU serves)."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError:
                assert time.monotonic() < deadline, "no serial socket at %s" % path
                time.sleep(0.05)
        self.buf = b""
        self.count = 0

    def read_until(self, pattern: bytes, timeout: float = DEADLINE) -> bytes:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.buf):
            assert time.monotonic() < deadline, "the guest did not print %r; it printed %r" % (
                pattern, self.buf[-2000:])
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            assert chunk, "the serial connection closed"
            self.buf += chunk
        found = re.search(pattern, self.buf)
        text, self.buf = self.buf[:found.end()], self.buf[found.end():]
        return text

    def run(self, command: str) -> str:
        """Run a shell command in the guest; its output. The markers are typed with empty quotes
        inside, so the terminal's echo of the typed line never matches what echo prints."""
        self.count += 1
        begin, end = "PV-BEGIN-%d" % self.count, "PV-END-%d" % self.count
        self.sock.sendall(('echo %s""%s; %s; echo %s""%s $?\n' % (begin[:4], begin[4:], command, end[:4],
                                                                   end[4:])).encode())
        text = self.read_until(end.encode() + rb" (\d+)\r?\n").decode("utf-8", "replace")
        status = int(re.search(end + r" (\d+)", text).group(1))
        assert status == 0, (command, text)
        body = text.split(begin + "\r\n", 1)[1] if begin + "\r\n" in text else text.split(begin, 1)[1]
        return body.rsplit(end, 1)[0].replace("\r\n", "\n")

    def close(self) -> None:
        self.sock.close()


GUEST_XML = """<domain type='qemu'>
  <name>agentguest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <cpu mode='maximum'/>
  <features><acpi/><apic/></features>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%(kernel)s</kernel>
    <initrd>%(initrd)s</initrd>
    <cmdline>console=ttyS0 pyvirsh.shell cryptomgr.notests</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='unix'>
      <source mode='bind' path='%(serial)s'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
  </devices>
</domain>
"""

BARE_XML = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/></disk>%(devices)s
  </devices>
</domain>
"""


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    extras = agent_extras()
    try:
        kernel, initrd = testguest.build(extras=extras, flavour="agent")
    except RuntimeError as err:
        pytest.skip(str(err))
    base = tmp_path_factory.mktemp("agent")
    env = Env(base)
    disk = ext4_qcow2(env.path("data.qcow2"))
    serial = os.path.join(str(base), "ttyS0.sock")
    with open(env.path("guest.xml"), "w") as f:
        f.write(GUEST_XML % {"kernel": kernel, "initrd": initrd, "disk": disk, "serial": serial})
    shell = None
    try:
        env.ok("define", env.path("guest.xml"))
        env.ok("start", "agentguest")
        shell = GuestShell(serial)
        shell.read_until(b"PYVIRSH-GUEST-READY")
        shell.sock.sendall(b"\n")
        shell.read_until(b"guest# ")
        # The agent's port open in the guest is what makes the channel 'connected'.
        deadline = time.monotonic() + DEADLINE
        while "state='connected'" not in env.ok("dumpxml", "agentguest"):
            assert time.monotonic() < deadline, "qemu-ga never opened its port"
            time.sleep(0.2)
        yield env, shell, disk
    finally:
        if shell is not None:
            shell.close()
        env.cleanup()


def agent_cmd(env, command: dict, *extra) -> dict:
    return json.loads(env.ok("qemu-agent-command", "agentguest", json.dumps(command), *extra))


def freeze_status(env) -> str:
    return agent_cmd(env, {"execute": "guest-fsfreeze-status"})["return"]


def test_channel_state_and_socket(guest):
    env, shell, _ = guest
    live = etree.fromstring(env.ok("dumpxml", "agentguest").encode())
    channel = live.find("devices/channel")
    assert channel.find("target").attrib == {"type": "virtio", "name": AGENT, "state": "connected"}
    # pyvirsh keeps the socket under the connection root (libvirt: .../channel/target/domain-N-NAME/)
    assert channel.find("source").get("path").startswith(env.root)
    inactive = env.ok("dumpxml", "--inactive", "agentguest")
    assert "state=" not in inactive and "<source" not in inactive.split("<channel")[1].split("</channel>")[0]
    assert shell.run("echo $((1+1))") == "2\n"


# What virsh 9.0 + libvirt's QEMU driver printed on this same guest (tests/record_agent_reference.py)
with open(os.path.join(os.path.dirname(__file__), "data", "agent-libvirt.json")) as _f:
    REFERENCE = json.load(_f)["records"]

# Not compared: the default lease source and ARP need libvirt's network daemon and netlink on
# the host, where libvirt failed ("no virtnetworkd socket", "wrong nlmsg len"), so there is
# nothing recorded to compare with (this guest's user-mode NIC has neither anyway; the lease and
# ARP sources are tested on a NAT network in tests/test_qemu_networks.py); yajl's parse-error
# text for invalid JSON is not reproduced.
NOT_COMPARED = {("domifaddr", "agentguest"), ("domifaddr", "agentguest", "--source", "arp"),
                ("qemu-agent-command", "agentguest", "not json")}


def _normalize(text: str) -> str:
    """The values that differ from run to run: file system usage, and seconds of guest time."""
    text = re.sub(r"(fs\.0\.(?:total|used)-bytes +: )\d+", r"\1N", text)
    return re.sub(r"Time: 2001-09-09 01:4\d:\d\d", "Time: 2001-09-09 01:4X:XX", text)


def test_same_as_libvirt(guest):
    """Every agent command virsh + libvirt ran on this guest, in the same order, through pyvirsh:
    the same stdout and stderr, and the guest changed as the commands say."""
    env, shell, _ = guest
    pid = shell.run("cat /var/run/qemu-ga.pid").strip()
    g = "agentguest"

    def check_shadow(expected):
        return lambda: shell.run("cut -d: -f2 /etc/shadow").startswith(expected)

    before = {
        ("set-user-password", g, "root", "s3cret"):
            lambda: shell.run("echo 'root:x:0:0::/:/bin/sh' > /etc/passwd && echo 'root:*:1::::::' > /etc/shadow"),
        ("qemu-agent-command", g, "--timeout", "1", '{"execute":"guest-ping"}'):
            lambda: shell.run("kill -STOP %s" % pid),
        ("snapshot-create-as", g, "s1", "--disk-only", "--quiesce"):
            lambda: shell.run("echo after-thaw > /mnt/after.txt && sync && : > /var/log/qemu-ga.log"),
    }
    after = {
        ("guestvcpus", g, "--cpulist", "1", "--disable"):
            lambda: shell.run("cat /sys/devices/system/cpu/online") == "0\n",
        ("guestvcpus", g, "--cpulist", "1", "--enable"):
            lambda: shell.run("cat /sys/devices/system/cpu/online") == "0-1\n",
        ("set-user-password", g, "root", "s3cret"): check_shadow("$6$"),
        ("set-user-password", g, "root", "$6$salt$ready", "--encrypted"): check_shadow("$6$salt$ready\n"),
        ("domtime", g, "--time", "1000000000"): lambda: shell.run("date -u +%Y") == "2001\n",
        # the late answer to the abandoned sync is skipped by the next command's own sync
        ("qemu-agent-command", g, "--timeout", "1", '{"execute":"guest-ping"}'):
            lambda: shell.run("kill -CONT %s" % pid) is not None,
        # qemu-ga logs nothing while frozen (so not the thaw either): the freeze is in its log,
        # and the guest is thawed once the command has returned (the next record asks)
        ("snapshot-create-as", g, "s1", "--disk-only", "--quiesce"):
            lambda: shell.run("cat /var/log/qemu-ga.log").count('{"execute":"guest-fsfreeze-freeze"}') == 1,
    }
    batch: list[dict] = []

    def flush():
        if batch:
            line = "; ".join(shlex.join(r["args"]) for r in batch)
            result = env.run(line)
            for ours, theirs in ((_normalize(result.stdout), _normalize("".join(r["stdout"] for r in batch))),
                                 (result.stderr, "".join(r["stderr"] for r in batch))):
                assert ours == theirs, "%s\n%s" % (line, "".join(difflib.unified_diff(
                    theirs.splitlines(True), ours.splitlines(True), "libvirt", "pyvirsh")))
            batch.clear()

    compared = 0
    for record in REFERENCE:
        key = tuple(record["args"])
        if record["args"][1] != g or key in NOT_COMPARED:
            continue
        if key in before:
            flush()
            before[key]()
        batch.append(record)
        compared += 1
        if key in after:
            flush()
            assert after[key]() is not False, key
    flush()
    assert compared == 47


def test_bare_domains_same_as_libvirt(bare):
    """The recorded errors for a domain without an agent channel and one whose channel nobody opened."""
    for name in ("noagent", "silent"):
        records = [r for r in REFERENCE if name in r["args"]]
        before = bare.ok("dumpxml", name)
        result = bare.run("; ".join(shlex.join(r["args"]) for r in records))
        assert result.stdout == "".join(r["stdout"] for r in records)
        assert result.stderr == "".join(r["stderr"] for r in records)
        assert bare.ok("dumpxml", name) == before       # nothing changed
        assert bare.ok("snapshot-list", name, "--name") == "\n"


def _guest_byte(shell: GuestShell, dev: str, mib: int) -> str:
    """The first byte of the guest's disk dev at mib MiB, as the guest reads it from the disk (its
    page cache dropped first)."""
    return shell.run("sync; echo 3 > /proc/sys/vm/drop_caches; "
                     "dd if=/dev/%s bs=1M skip=%d count=1 2>/dev/null | od -An -tx1 -N1" % (dev, mib)).split()[-1]
    # (the last word: the kernel's console notice of the cache drop may come first)


def test_hotplugged_disk_keeps_the_guests_data_through_a_quiesced_snapshot_and_commit(guest):
    """Issue 14's scenario in one guest with its agent: attach-disk, a guest write, a disk-only
    snapshot with --quiesce (the agent freezes and thaws the guest's mounted file system),
    another write, an active commit with pivot, detach-disk; each step a pyvirsh of its own.
    The guest reads its data back before the detach, qemu-io after it."""
    env, shell, _ = guest
    base, top = env.path("hp-base.qcow2"), env.path("hp-top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "32M")
    assert subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", base],
                          capture_output=True).returncode == 0
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    proc = env.run("attach-disk", "agentguest", top, "vdb", "--subdriver", "qcow2", "--serial", "hpdisk")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Disk attached successfully\n\n", "")
    found = shell.run("i=0; while [ $i -lt 600 ]; do for d in /sys/block/vd*; do "
                      "[ \"$(cat $d/serial 2>/dev/null)\" = hpdisk ] && echo DEV=${d##*/}; done | grep DEV= "
                      "&& break; i=$((i+1)); sleep 0.1; done")
    dev = re.findall(r"^DEV=(vd[a-z]+)$", found, re.MULTILINE)[-1]
    assert _guest_byte(shell, dev, 0) == "11"
    shell.run("dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\\000' 'Z' | "
              "dd of=/dev/%s bs=1M seek=4 conv=fsync 2>/dev/null" % dev)          # 0x5a at 4 MiB
    shell.run(": > /var/log/qemu-ga.log")
    proc = env.run("snapshot-create-as", "agentguest", "hp1", "--disk-only", "--quiesce", "--atomic",
                   "--diskspec", "vda,snapshot=no", "--diskspec", "vdb")
    assert proc.returncode == 0, proc.stderr
    log = shell.run("cat /var/log/qemu-ga.log")
    assert '"guest-fsfreeze-freeze"' in log and freeze_status(env) == "thawed"
    assert env.ok("domblklist", "agentguest").split()[-1] == env.path("hp-top.hp1")
    shell.run("dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\\000' 'Y' | "
              "dd of=/dev/%s bs=1M seek=6 conv=fsync 2>/dev/null" % dev)          # 0x59 at 6 MiB, in the overlay
    proc = env.run("blockcommit", "agentguest", "vdb", "--active", "--pivot", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert env.ok("domblklist", "agentguest").split()[-1] == base                 # committed down to the base
    assert [_guest_byte(shell, dev, m) for m in (0, 4, 6)] == ["11", "5a", "59"]
    proc = env.run("detach-disk", "agentguest", "vdb")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Disk detached successfully\n\n", "")
    assert "vdb" not in env.ok("domblklist", "agentguest")
    env.ok("snapshot-delete", "agentguest", "hp1", "--metadata")      # the next test counts the snapshots
    # the image is free again (qemu-io takes its write lock) and holds all the guest wrote
    read = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 1M", "-c", "read -P 0x5a 4M 1M",
                           "-c", "read -P 0x59 6M 1M", base], capture_output=True, text=True)
    assert read.returncode == 0 and "Pattern verification failed" not in read.stdout, read.stdout + read.stderr
    assert read.stdout.count("read ") == 3


def test_quiesced_snapshot_freezes_around_the_transaction(guest):
    env, shell, disk = guest
    assert env.ok("snapshot-list", "agentguest", "--name") == "s1\n\n"      # made by test_same_as_libvirt
    assert env.ok("domblklist", "agentguest").split()[-1].endswith(".s1")
    shell.run("echo after-snapshot > /mnt/after-snap.txt && sync")
    # failure after the freeze (the overlay to reuse is no qcow2): the guest is thawed, nothing changed
    junk = env.path("junk.img")
    with open(junk, "wb") as f:
        f.write(b"not an image" * 1000)
    shell.run(": > /var/log/qemu-ga.log")
    bad = env.run("snapshot-create-as", "agentguest", "s3", "--disk-only", "--quiesce", "--reuse-external",
                  "--diskspec", "vda,file=%s" % junk)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    log = shell.run("cat /var/log/qemu-ga.log")
    # qemu-ga logs nothing while frozen (so not the thaw either): the freeze is in its log, and
    # the guest is thawed once the command has returned
    assert log.count('{"execute":"guest-fsfreeze-freeze"}') == 1
    assert freeze_status(env) == "thawed"
    assert env.ok("snapshot-list", "agentguest", "--name") == "s1\n\n"
    assert env.ok("domblklist", "agentguest").split()[-1].endswith(".s1")
    # a pyvirsh killed while the guest was frozen for a snapshot leaves the note in the status:
    # the next command thaws
    from pyvirsh.drivers.qemu.status import Status
    env.ok("domfsfreeze", "agentguest")
    path = os.path.join(env.root, "run", "agentguest.status.xml")
    status = Status.load(path)
    status.fs_frozen = True
    status.save(path)
    assert env.ok("domstate", "agentguest") == "running\n\n"
    assert freeze_status(env) == "thawed"
    assert not Status.load(path).fs_frozen
    shell.run("sync; umount /mnt")
    env.ok("destroy", "agentguest")
    # the guest's data is in the chain: before the snapshot in the base, after it in the overlay
    flat = env.path("flat.raw")
    qemu_img("convert", "-f", "qcow2", "-O", "raw", disk.replace(".qcow2", ".s1"), flat)
    with open(flat, "rb") as f:
        data = f.read()
    assert b"written-before-snapshot" in data and b"after-snapshot" in data and b"after-thaw" in data


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """Two QEMUs with no guest OS: one without an agent channel, one whose channel nobody opens."""
    env = Env(tmp_path_factory.mktemp("bare"))
    try:
        channel = "<channel type='unix'><target type='virtio' name='%s'/></channel>" % AGENT
        for name, devices in (("noagent", ""), ("silent", channel)):
            qemu_img("create", "-q", "-f", "qcow2", env.path(name + ".qcow2"), "16M")
            with open(env.path(name + ".xml"), "w") as f:
                f.write(BARE_XML % {"name": name, "devices": devices, "disk": env.path(name + ".qcow2")})
            env.ok("define", env.path(name + ".xml"))
            env.ok("start", name)
        yield env
    finally:
        env.cleanup()
