"""Hotplug and device editing (issue 14, item 2) on real QEMU, and the device commands
byte-compared with virsh 9.0 on test:///default.

The issue's scenario runs on the tiny test guest (tests/testguest.py, under TCG), driven
through its serial console on a unix socket: attach-disk of a qcow2 with a backing file,
the guest finds it and writes a pattern, a disk-only snapshot, blockcommit --active
--pivot, detach-disk (the guest lets the disk go), then qemu-io reads the guest's data
from the image QEMU has released. A second domain without a guest OS (QEMU and its
firmware only) takes the checks that need no guest: bad input, --config, change-media
on a cdrom as query-block shows it, and pyvirsh killed halfway through an attach.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import tempfile
import time

import pytest
from lxml import etree

import testguest
from difftool import compare, virsh_missing_reason
from qemuhelp import Env, qemu_img, qemu_io

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is not installed")
needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")
BOOT_DEADLINE = 300         # seconds; TCG on a busy 2-core machine: a bound, not a timing check
MiB = 1 << 20


# ---------------------------------------------------------------------------
# The device commands against virsh on test:///default (its driver supports none of
# the device calls, so what is compared is virsh's own work: options, the XML it builds
# or picks out of dumpxml, its messages and the call it makes)
# ---------------------------------------------------------------------------

DIFFERENTIAL = [
    "attach-disk test /dev/null vdb",
    "attach-disk test /dev/null vdb --config",
    "attach-disk test /dev/null vdb --current",
    "attach-disk test /dev/null vdb --print-xml",
    ("attach-disk test /nonexistent vdb --print-xml --subdriver qcow2 --driver qemu --cache none --io native "
    "--type disk --mode readonly --serial abc --wwn 0123456789abcdef --alias ua-x --rawio --targetbus virtio "
    "--iothread 1 --address pci:0000.00.0a.0 --multifunction"),
    "attach-disk test '' hdc --type cdrom --print-xml",
    ("attach-disk test x vdb --print-xml --source-protocol nbd --sourcetype network "
    "--source-host-transport unix --source-host-socket /s --type cdrom"),
    "attach-disk test x vdb --print-xml --source-protocol nbd --source-host-name h:10809",
    "attach-disk test \"a'b<\" \"v'db\" --print-xml --serial \"a<b\" --alias \"x'y\"",
    "attach-disk test x vdb --print-xml --shareable",
    "attach-disk test x vdb --print-xml --address pci:1",
    "attach-disk test x vdb --print-xml --address pci:0x1.0x2.0x3.0x4zz",
    "attach-disk test x sdb --print-xml --address usb:1.2",
    "attach-disk test x sdb --print-xml --address pci:0.0.3.0",
    "attach-disk test x hdb --print-xml --address ide:0.1.0",
    "attach-disk test x vdb --print-xml --address ccw:0xfe.0.0001",
    "attach-disk test x xvdb --print-xml --address scsi:1.2.3",
    "attach-disk test x vdb --print-xml --address foo:1",
    "attach-disk test x vdb --wwn zz --print-xml",
    "attach-disk test x vdb --mode foo",
    "attach-disk test x vdb --sourcetype foo",
    "attach-disk test x vdb --sourcetype network",
    "attach-disk test x vdb --persistent --current",
    "attach-disk test x vdb --live --current",
    "attach-disk test x vdb --source-host-name h --print-xml",
    "attach-disk nosuch x vdb",
    "attach-device test /dev/null",
    "attach-device test /dev/null --persistent",
    "attach-device test /nonexistent --live",
    "detach-device test /dev/null",
    "detach-device test /dev/null --config",
    "update-device test /dev/null",
    "update-device test /dev/null --force",
    "detach-disk test vda",
    "detach-disk test vda --config",
    "detach-disk test vdz",
    "detach-disk test vda --print-xml",
    "detach-disk test /guest/diskimage1 --print-xml --persistent",
    "change-media test hdc --eject",
    "change-media test vda --eject",
    "change-media test vda --update --source /x",
    "change-media test vda --eject --insert",
    "change-media test vda --eject --block",
    "change-media test vda --insert --update",
    "attach-interface test network default",
    "attach-interface test network default --config",
    "attach-interface test user x",
    "attach-interface test bogus x",
    ("attach-interface test network default --print-xml --mac 52:54:00:11:22:33 --target vnet0 "
    "--script /bin/s --model virtio --alias ua-n --inbound 100,200,300,400 --outbound 10,20,30 --managed"),
    "attach-interface test bridge br0 --print-xml",
    "attach-interface test direct eth0 --print-xml",
    "attach-interface test hostdev 0000:00:1f.0 --print-xml",
    "attach-interface test hostdev zz --print-xml",
    "attach-interface test vhostuser /s --print-xml",
    "attach-interface test vhostuser /s --source-mode server --print-xml",
    "attach-interface test network default --source-mode x --print-xml",
    "attach-interface test network default --inbound ,,,5 --print-xml",
    "attach-interface test network default --inbound 0 --print-xml",
    "attach-interface test network default --inbound a --print-xml",
    "attach-interface test network default --inbound 1,2,3,4,5 --print-xml",
    "attach-interface test network default --outbound 1,2,3,4 --print-xml",
    "detach-interface test network",
    "detach-interface test network --print-xml",
    "detach-interface test network --print-xml --persistent",
    "detach-interface test network --config",
    "detach-interface test network --mac aa:bb:cc:dd:ee:ff --persistent",
    "detach-interface test network --mac 00:bb:cc:dd:ee:ff",
    "detach-interface test user --config",
    "detach-interface test user --print-xml",
    "detach-interface test network --live --current",
    "help attach-disk",
    "help change-media",
]


@needs_virsh
def test_device_commands_match_virsh_on_the_test_driver():
    mismatched = []
    for case in DIFFERENTIAL:
        theirs, ours = compare(["-c", "test:///default", case], in_process=True)
        if theirs != ours:
            mismatched.append((case, theirs, ours))
    assert mismatched == []


# ---------------------------------------------------------------------------
# Real QEMU: helpers
# ---------------------------------------------------------------------------

def qmp(env: Env, name: str, command: str, arguments=None):
    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.qemu.qmp import QMP
    status = open_connection(env.uri).lookup_domain_by_name(name).status
    with QMP(status.monitor) as q:
        return q.execute(command, arguments)


def drive(env: Env, name: str, qdev: str) -> dict:
    for entry in qmp(env, name, "query-block"):
        path = entry.get("qdev", "")
        if path == qdev or path == "/machine/peripheral/" + qdev or path.startswith("/machine/peripheral/%s/" % qdev):
            return entry
    raise AssertionError("QEMU has no drive %s" % qdev)


def node_names(env: Env, name: str) -> set:
    return {n["node-name"] for n in qmp(env, name, "query-named-block-nodes")}


def live_disks(env: Env, name: str, inactive: bool = False) -> dict:
    args = ["dumpxml", name] + (["--inactive"] if inactive else [])
    root = etree.fromstring(env.ok(*args).encode())
    return {d.find("target").get("dev"): d for d in root.iter("disk")}


class Console:
    """The guest's serial port (a unix socket QEMU listens on): a root shell once booted."""

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = ""
        self.counter = itertools.count(1000)

    def _read_until(self, marker: str, deadline: float) -> str:
        while marker not in self.buf:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the guest did not answer; it printed:\n" + self.buf[-2000:]
            self.sock.settimeout(min(remaining, 2.0))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            assert chunk, "the guest's console closed"
            self.buf += chunk.decode("utf-8", "replace")
        before, _, self.buf = self.buf.partition(marker)
        return before

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_DEADLINE
        while True:
            # the shell answers 42 only once it runs; earlier lines wait in the tty's buffer
            self.sock.sendall(b"echo HPREADY-$((6*7))\n")
            try:
                self._read_until("HPREADY-42", min(deadline, time.monotonic() + 3))
                return
            except AssertionError:
                assert time.monotonic() < deadline, "the guest did not boot:\n" + self.buf[-2000:]

    def run(self, command: str, timeout: float = 120) -> str:
        n = next(self.counter)
        self.sock.sendall(("%s; echo HPDONE-$((%d+1))\n" % (command, n)).encode())
        return self._read_until("HPDONE-%d" % (n + 1), time.monotonic() + timeout)

    def close(self) -> None:
        self.sock.close()


def _status_text(env: Env, name: str) -> str:
    for folder, _, files in os.walk(env.root):
        if name + ".status.xml" in files:
            with open(os.path.join(folder, name + ".status.xml")) as f:
                return f.read()
    raise AssertionError("no status file")


def write_xml(env: Env, name: str, text: str) -> str:
    path = os.path.join(env.base, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# Without a guest OS: QEMU and its firmware take device_add and blockdev-add all the same
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bare(tmp_path_factory, request):
    if testguest.kernel_version() is not None and shutil.which("qemu-system-x86_64"):
        request.getfixturevalue("guest_domain")         # let the guest boot meanwhile
    env = Env(tmp_path_factory.mktemp("hotplug-bare"))
    iso = env.path("install.iso")
    with open(iso, "wb") as f:
        f.truncate(1 << 20)
    qemu_img("create", "-q", "-f", "qcow2", env.path("vda.qcow2"), "16M")
    xml = ("<domain type='qemu'><name>b</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>"
           "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
           "<target dev='vda' bus='virtio'/></disk>"
           "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk></devices></domain>"
           % env.path("vda.qcow2"))
    env.ok("define", write_xml(env, "b.xml", xml))
    env.ok("start", "b")
    try:
        yield env
    finally:
        env.run("destroy", "b")
        env.cleanup()


@needs_qemu
def test_change_media_ejects_and_inserts_as_query_block_shows(bare):
    env = bare
    iso = env.path("install.iso")
    assert "inserted" not in drive(env, "b", "ide0-1-0")
    proc = env.run("change-media", "b", "hdc", "--insert", iso)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Successfully inserted media.\n", "")
    inserted = drive(env, "b", "ide0-1-0")["inserted"]
    assert inserted["file"] == iso and inserted["ro"] is True
    disk = live_disks(env, "b")["hdc"]
    assert disk.find("source").get("file") == iso and disk.find("source").get("index") is not None
    proc = env.run("change-media", "b", "hdc", "--insert", iso)
    assert (proc.returncode, proc.stderr) == (1, "error: The disk device 'hdc' already has media\n")
    proc = env.run("change-media", "b", "hdc", "--eject")
    assert (proc.returncode, proc.stdout) == (0, "Successfully ejected media.\n")
    assert "inserted" not in drive(env, "b", "ide0-1-0")
    # libvirt keeps an empty <source index='N'/> in the live XML of an ejected drive ...
    empty = live_disks(env, "b")["hdc"].find("source")
    assert empty.get("file") is None and empty.get("index") is not None
    vda = live_disks(env, "b")["vda"].find("source").get("index")     # 2: the empty hdc took 1 at start
    assert not [n for n in node_names(env, "b") if n.startswith("pv") and n not in ("pv%s-f" % vda, "pv%s-s" % vda)]
    # ... so that a second eject succeeds, as with virsh + libvirt (test_same_as_virsh_and_libvirt)
    proc = env.run("change-media", "b", "hdc", "--eject")
    assert (proc.returncode, proc.stdout) == (0, "Successfully ejected media.\n")
    proc = env.run("change-media", "b", "vda", "--eject")
    assert (proc.returncode, proc.stderr) == (1, "error: No disk found whose source path or target is vda\n")


@needs_qemu
def test_config_only_changes_the_persistent_definition(bare):
    env = bare
    image = env.path("cfg.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", image, "16M")
    nodes = node_names(env, "b")
    proc = env.run("attach-disk", "b", image, "vdd", "--subdriver", "qcow2", "--config")
    assert (proc.returncode, proc.stdout) == (0, "Disk attached successfully\n\n"), proc.stderr
    config = live_disks(env, "b", inactive=True)["vdd"]
    assert config.find("source").get("index") is None and config.find("address").get("type") == "pci"
    assert "vdd" not in live_disks(env, "b") and node_names(env, "b") == nodes
    proc = env.run("attach-disk", "b", image, "vdd", "--config")
    assert proc.stderr == ("error: Failed to attach disk\n"
                           "error: Requested operation is not valid: target vdd already exists\n")
    proc = env.run("detach-disk", "b", "vdd", "--config")
    assert (proc.returncode, proc.stdout) == (0, "Disk detached successfully\n\n"), proc.stderr
    assert "vdd" not in live_disks(env, "b", inactive=True)
    proc = env.run("detach-disk", "b", "vdd", "--live")
    assert proc.stderr == "error: No disk found whose source path or target is vdd\n"
    # --persistent on a running domain: both definitions, the live one with its chain cached
    proc = env.run("attach-disk", "b", image, "vdd", "--subdriver", "qcow2", "--persistent")
    assert (proc.returncode, proc.stdout) == (0, "Disk attached successfully\n\n"), proc.stderr
    assert live_disks(env, "b")["vdd"].find("source").get("index") is not None
    assert live_disks(env, "b", inactive=True)["vdd"].find("source").get("index") is None
    nic = write_xml(env, "nic.xml", "<interface type='vhostuser'><source type='unix' path='/tmp/x.sock' "
                    "mode='server'/></interface>")
    proc = env.run("attach-device", "b", nic, "--config")
    assert proc.stderr == ("error: Failed to attach device from %s\nerror: unsupported configuration: pyvirsh's "
                           "QEMU driver does not support type='vhostuser' in <interface> (devices/interface)\n" % nic)


@needs_qemu
def test_detach_of_a_disk_in_a_block_job_is_refused(bare):
    env = bare
    base, top = env.path("jb.qcow2"), env.path("jt.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "16M")
    assert qemu_io(base, "write -P 0x22 0 8M").returncode == 0
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    env.ok("attach-disk", "b", top, "vdb", "--subdriver", "qcow2")
    before = env.ok("dumpxml", "b")
    env.ok("blockpull", "b", "vdb", "--bandwidth", "1", "--bytes")         # 1 byte/s: still running below
    proc = env.run("detach-disk", "b", "vdb")
    assert proc.stderr == ("error: Failed to detach disk\n"
                           "error: Operation not supported: disk 'vdb' already in active block job\n")
    env.ok("blockjob", "b", "vdb", "--abort")
    env.ok("blockcommit", "b", "vdb", "--active")
    proc = env.run("detach-disk", "b", "vdb", "--live")
    assert proc.stderr == ("error: Failed to detach disk\n"
                           "error: block copy still active: disk 'vdb' already in active block job\n")
    env.ok("blockjob", "b", "vdb", "--abort")
    assert env.ok("dumpxml", "b") == before
    proc = env.run("detach-disk", "b", "hdc")
    assert proc.stderr == ("error: Failed to detach disk\n"
                           "error: Operation not supported: disk device type 'cdrom' cannot be detached\n")
    proc = env.run("attach-disk", "b", top, "vde", "--type", "cdrom")
    assert proc.stderr.endswith("error: unsupported configuration: cdrom device with virtio bus isn't supported\n")
    proc = env.run("attach-disk", "b", top, "hdd", "--subdriver", "qcow2")
    assert proc.stderr.endswith("error: internal error: unable to execute QEMU command 'device_add': Bus 'ide.1' "
                                "does not support hotplugging\n")


@needs_qemu
def test_a_killed_attach_is_settled_by_the_next_command(bare, monkeypatch):
    """pyvirsh dies after recording the attach: before QEMU got the device (the next command
    drops it and its nodes) or after (the next command keeps it)."""
    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.qemu.hotplug import Hotplug
    env = bare
    image = env.path("k.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", image, "16M")
    disk_xml = ("<disk type='file'><driver name='qemu' type='qcow2'/><source file='%s'/>"
                "<target dev='%%s'/></disk>" % image)

    class Killed(BaseException):
        pass

    def killed(*args):
        raise Killed()

    real_add = Hotplug._device_add

    def add_then_die(self, q, element):
        real_add(self, q, element)
        raise Killed()

    monkeypatch.setattr(Hotplug, "_unplug_record", lambda self, element, capacity: None)   # no clean-up: a kill
    for target, step, kept in (("vdf", killed, False), ("vdg", add_then_die, True)):
        monkeypatch.setattr(Hotplug, "_device_add", step)
        dom = open_connection(env.uri).lookup_domain_by_name("b")
        with pytest.raises(Killed):
            dom.attach_device(disk_xml % target)
        assert "op=\"attach\"" in _status_text(env, "b") or "op='attach'" in _status_text(env, "b")
        monkeypatch.setattr(Hotplug, "_device_add", real_add)
        out = env.ok("domblklist", "b")                 # a plain command settles the intent
        assert (target in out) == kept, out
        status = _status_text(env, "b")
        assert "intent" not in status
        alias = "virtio-disk%d" % (ord(target[-1]) - ord("a"))
        assert (alias in {c["name"] for c in qmp(env, "b", "qom-list", {"path": "/machine/peripheral"})}) == kept


# ---------------------------------------------------------------------------
# The scenario on a booted guest
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guest_domain(tmp_path_factory):
    """The test guest, started: it boots (TCG, tens of seconds on a busy machine) while the
    tests that need no guest OS run on the bare domain (which asks for this fixture first)."""
    if testguest.kernel_version() is None:
        pytest.skip("no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)")
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    try:
        kernel, initrd = testguest.build()
    except RuntimeError as err:
        pytest.skip(str(err))
    env = Env(tmp_path_factory.mktemp("hotplug-guest"))
    sockdir = tempfile.mkdtemp(prefix="hp", dir="/tmp")        # a unix socket path stays short
    serial = os.path.join(sockdir, "ttyS0")
    xml = ("<domain type='qemu'><name>g</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>"
           "<cmdline>console=ttyS0 cryptomgr.notests pyvirsh.shell</cmdline></os><features><acpi/></features>"
           "<devices><serial type='unix'><source mode='bind' path='%s'/><target port='0'/></serial>"
           "</devices></domain>" % (kernel, initrd, serial))
    env.ok("define", write_xml(env, "g.xml", xml))
    env.ok("start", "g")
    try:
        yield env, serial
    finally:
        env.run("destroy", "g")
        env.cleanup()
        shutil.rmtree(sockdir, ignore_errors=True)


@pytest.fixture(scope="module")
def guest(guest_domain):
    env, serial = guest_domain
    console = Console(serial)
    try:
        console.wait_ready()
        yield env, console
    finally:
        console.close()


def guest_find_disk(console: Console, serial: str) -> str:
    """The guest's name for the virtio disk with this serial, waited for inside the guest."""
    out = console.run("i=0; while [ $i -lt 600 ]; do for d in /sys/block/vd*; do "
                      "[ \"$(cat $d/serial 2>/dev/null)\" = %s ] && echo DEV=${d##*/}; done | grep DEV= && break; "
                      "i=$((i+1)); sleep 0.1; done" % serial)
    found = re.findall(r"^DEV=(vd[a-z]+)\r?$", out, re.MULTILINE)
    assert found, "the guest did not see the disk:\n" + out
    return found[-1]


def guest_write(console: Console, dev: str, char: str, mib: int) -> None:
    """1 MiB of one byte at mib MiB, written by the guest and flushed to the disk."""
    out = console.run("dd if=/dev/zero bs=65536 count=16 2>/dev/null | tr '\\000' '%s' | "
                      "dd of=/dev/%s bs=65536 seek=%d conv=fsync 2>/dev/null; echo RC=$?" % (char, dev, mib * 16))
    assert "RC=0" in out, out


def gone(console: Console, dev: str) -> bool:
    """Has the guest let the disk go? (waited for inside the guest)"""
    out = console.run("i=0; while [ -e /sys/block/%s ] && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done; "
                      "[ -e /sys/block/%s ] && echo STILL-THERE || echo LET-GO" % (dev, dev))
    return re.search(r"^LET-GO\r?$", out, re.MULTILINE) is not None


@needs_qemu
def test_attach_snapshot_commit_detach_keeps_the_guests_data(guest):
    env, console = guest
    base, top = env.path("base.qcow2"), env.path("top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "64M")
    assert qemu_io(base, "write -P 0x11 0 1M").returncode == 0
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)

    proc = env.run("attach-disk", "g", top, "vdb", "--subdriver", "qcow2", "--serial", "hpdisk")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Disk attached successfully\n\n", "")
    disk = live_disks(env, "g")["vdb"]
    # probed once and cached with indexes, given to QEMU as explicit nodes
    assert disk.find("source").get("index") == "1"
    assert disk.find("backingStore").get("index") == "2"
    assert disk.find("backingStore/source").get("file") == base
    assert disk.find("alias").get("name") == "virtio-disk1"
    assert {"pv1-f", "pv1-s", "pv2-f", "pv2-s"} <= node_names(env, "g")
    assert drive(env, "g", "virtio-disk1")["inserted"]["node-name"] == "pv1-f"

    dev = guest_find_disk(console, "hpdisk")
    assert re.search(r"^ 11\r?$", console.run("dd if=/dev/%s bs=1 count=1 2>/dev/null | od -An -tx1" % dev),
                     re.MULTILINE)
    guest_write(console, dev, "Z", 4)                   # 0x5a, into top.qcow2

    # bad input changes nothing: target in use, unknown target
    before = env.ok("dumpxml", "g")
    proc = env.run("attach-disk", "g", base, "vdb")
    assert proc.returncode == 1
    assert proc.stderr == ("error: Failed to attach disk\nerror: XML error: target 'vdb' duplicated for disk "
                           "sources '%s' and '%s'\n" % (top, base))
    proc = env.run("detach-disk", "g", "vdz")
    assert (proc.returncode, proc.stderr) == (1, "error: No disk found whose source path or target is vdz\n")
    assert env.ok("dumpxml", "g") == before

    # a disk-only snapshot and an active commit with pivot work on it, each a pyvirsh of its own
    env.ok("snapshot-create-as", "g", "s1", "--disk-only")
    overlay = env.path("top.s1")
    assert live_disks(env, "g")["vdb"].find("source").get("file") == overlay
    guest_write(console, dev, "Y", 6)                   # 0x59, into the overlay
    proc = env.run("blockcommit", "g", "vdb", "--active", "--shallow", "--pivot", "--wait")
    assert proc.returncode == 0, proc.stderr
    disk = live_disks(env, "g")["vdb"]
    assert disk.find("source").get("file") == top
    assert disk.find("backingStore/source").get("file") == base

    proc = env.run("detach-disk", "g", "vdb")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Disk detached successfully\n\n", "")
    # the guest let it go, and so did QEMU: no device, no nodes, no cache entries
    assert gone(console, dev)
    assert "vdb" not in live_disks(env, "g")
    assert not {n for n in node_names(env, "g") if n.startswith("pv")}
    status = _status_text(env, "g")
    assert "<capacity" not in status and "detaching" not in status

    # the image is free (qemu-io takes its write lock) and holds what the guest wrote
    proc = qemu_io(top, "read -P 0x5a 4M 1M", "read -P 0x59 6M 1M", "read -P 0x11 0 1M")
    assert proc.returncode == 0 and "Pattern verification failed" not in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.count("read ") == 3, proc.stdout


@needs_qemu
def test_detach_the_guest_answers_late_is_finished_by_the_next_command(guest):
    """QEMU removes the device after the detach returned (libvirt's unplug timeout, here 0):
    the removal stays recorded, and a later pyvirsh finishes it."""
    env, console = guest
    image = env.path("late.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", image, "16M")
    env.ok("attach-disk", "g", image, "vdc", "--subdriver", "qcow2", "--serial", "hplate")
    dev = guest_find_disk(console, "hplate")
    index = live_disks(env, "g")["vdc"].find("source").get("index")

    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.qemu import hotplug
    dom = open_connection(env.uri).lookup_domain_by_name("g")
    saved, hotplug.UNPLUG_TIMEOUT = hotplug.UNPLUG_TIMEOUT, 0.0
    try:
        dom.detach_device_flags(etree.tostring(live_disks(env, "g")["vdc"], encoding="unicode"), 1)
    finally:
        hotplug.UNPLUG_TIMEOUT = saved
    assert "detaching alias='virtio-disk2'" in _status_text(env, "g")
    # the guest lets the disk go in its own time; then any command completes the removal
    assert gone(console, dev)
    deadline = time.monotonic() + 60
    while "vdc" in env.ok("domblklist", "g"):
        assert time.monotonic() < deadline, "QEMU never reported the device gone"
        time.sleep(0.1)
    assert "pv%s-f" % index not in node_names(env, "g")
    assert "detaching" not in _status_text(env, "g")
    assert qemu_io(image, "read 0 64k").returncode == 0       # lock released


def guest_has_mac(console: Console, mac: str, present: bool) -> bool:
    """Does the guest have (or has it let go of) a NIC with this MAC? Waited for inside the guest."""
    test = "grep -qx %s /sys/class/net/*/address 2>/dev/null" % mac
    out = console.run("i=0; while %s%s && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done; %s && echo NIC-YES "
                      "|| echo NIC-NO" % ("! " if present else "", test, test))
    return re.search(r"^NIC-%s\r?$" % ("YES" if present else "NO"), out, re.MULTILINE) is not None


@needs_qemu
def test_interface_hotplug_and_detach_interface(guest):
    env, console = guest
    mac = "52:54:00:12:34:56"
    nic = write_xml(env, "nic.xml", "<interface type='user'><mac address='%s'/><model type='virtio'/>"
                                    "</interface>" % mac)
    proc = env.run("attach-device", "g", nic)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Device attached successfully\n\n", "")
    iface = etree.fromstring(env.ok("dumpxml", "g").encode()).find("devices/interface")
    assert iface.find("alias").get("name") == "net0" and iface.find("address").get("type") == "pci"
    assert guest_has_mac(console, mac, present=True)
    proc = env.run("detach-interface", "g", "user", "--mac", "52:54:00:12:34:57")
    assert (proc.returncode, proc.stderr) == (1, ("error: No interface with MAC address 52:54:00:12:34:57 was "
                                                 "found\nerror: Failed to detach interface\n"))
    proc = env.run("detach-interface", "g", "user")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Interface detached successfully\n\n", "")
    assert guest_has_mac(console, mac, present=False)
    assert etree.fromstring(env.ok("dumpxml", "g").encode()).find("devices/interface") is None
    assert "net0" not in {c["name"] for c in qmp(env, "g", "qom-list", {"path": "/machine/peripheral"})}
    env.ok("attach-device", "g", nic)               # net0 and its netdev hostnet0 are free again
    proc = env.run("attach-interface", "g", "vhostuser", "/tmp/x.sock", "--source-mode", "server")
    assert proc.stderr == ("error: Failed to attach interface\nerror: unsupported configuration: pyvirsh's QEMU "
                           "driver does not support type='vhostuser' in <interface> (devices/interface)\n")
    # a network interface needs its network running (its tap goes on the network's bridge first):
    # refused without one, never half attached (test_qemu_networks.py plugs one into a real network)
    proc = env.run("attach-interface", "g", "network", "default")
    assert proc.stderr == ("error: Failed to attach interface\nerror: Network not found: no network with matching "
                           "name 'default'\n")
    assert len(etree.fromstring(env.ok("dumpxml", "g").encode()).findall("devices/interface")) == 1


@needs_qemu
def test_a_media_change_killed_with_the_drive_empty_is_settled_as_ejected(bare, monkeypatch):
    """pyvirsh dies between taking the old medium out and putting the new one in: the next
    command finds the drive empty, shows it ejected and lets go of the old medium's nodes."""
    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.qemu import hotplug
    env = bare
    first, second = env.path("m1.iso"), env.path("m2.iso")
    for path in (first, second):
        with open(path, "wb") as f:
            f.truncate(1 << 20)
    env.ok("change-media", "b", "hdc", "--insert", first)
    old_index = live_disks(env, "b")["hdc"].find("source").get("index")

    class Killed(BaseException):
        pass

    def die(*args):
        raise Killed()

    monkeypatch.setattr(hotplug, "_blockdev_add_chain", die)                   # the insert never happens
    monkeypatch.setattr(hotplug.Hotplug, "_settle_media", lambda self, q: None)   # nor any clean-up: a kill
    dom = open_connection(env.uri).lookup_domain_by_name("b")
    disk = etree.tostring(live_disks(env, "b")["hdc"], encoding="unicode").replace(first, second)
    with pytest.raises(Killed):
        dom.update_device_flags(re.sub(r"<backingStore/>|index='\d+'", "", disk), 1)
    assert "op='media'" in _status_text(env, "b") or 'op="media"' in _status_text(env, "b")
    monkeypatch.undo()
    assert "hdc      -" in env.ok("domblklist", "b")          # settled: the drive is empty
    assert "inserted" not in drive(env, "b", "ide0-1-0")
    assert "pv%s-f" % old_index not in node_names(env, "b")
    assert "intent" not in _status_text(env, "b")


@needs_qemu
def test_attach_probes_the_chain_with_starts_security_rules(bare, tmp_path):
    """An image whose backing format is not recorded and whose backing has a backing of its own
    is refused at hotplug as at start, with the fix-it hint; nothing changes."""
    from test_storage_probe import drop_backing_format
    env = bare
    base, mid, top = env.path("sb.qcow2"), env.path("sm.qcow2"), env.path("st.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", mid)
    qemu_img("create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top)
    unrecorded = drop_backing_format(top, env.path("su.qcow2"))
    before = env.ok("dumpxml", "b")
    proc = env.run("attach-disk", "b", unrecorded, "vdh", "--subdriver", "qcow2")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: Failed to attach disk\nerror: Requested operation is not valid: format "
                                  "of backing image '%s' of image '%s'" % (mid, unrecorded)), proc.stderr
    assert "qemu-img rebase -u -f qcow2 -F qcow2 -b" in proc.stderr
    assert env.ok("dumpxml", "b") == before


@needs_qemu
def test_q35_hotplug_takes_the_spare_root_port_then_runs_out(tmp_path):
    """On q35 a hot-plugged PCIe device needs a free pcie-root-port: define leaves one spare
    (as libvirt does); the next device finds none (libvirt's words), and --config adds one."""
    env = Env(tmp_path)
    for name in ("q1.qcow2", "q2.qcow2"):
        qemu_img("create", "-q", "-f", "qcow2", env.path(name), "16M")
    xml = ("<domain type='qemu'><name>q</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>"
           "<devices></devices></domain>")
    env.ok("define", write_xml(env, "q.xml", xml))
    env.ok("start", "q")
    try:
        root = etree.fromstring(env.ok("dumpxml", "q").encode())
        spare = [c for c in root.iter("controller") if c.get("model") == "pcie-root-port"
                 and not any(a.get("type") == "pci" and int(a.get("bus"), 16) == int(c.get("index"))
                             for a in root.iter("address"))]
        assert len(spare) == 1
        env.ok("attach-disk", "q", env.path("q1.qcow2"), "vdb", "--subdriver", "qcow2")
        address = live_disks(env, "q")["vdb"].find("address")
        assert int(address.get("bus"), 16) == int(spare[0].get("index"))
        proc = env.run("attach-disk", "q", env.path("q2.qcow2"), "vdc", "--subdriver", "qcow2")
        assert proc.stderr == "error: Failed to attach disk\nerror: internal error: No more available PCI slots\n"
        assert "vdc" not in live_disks(env, "q") and "pv2-f" not in node_names(env, "q")
        ports = len([c for c in etree.fromstring(env.ok("dumpxml", "q", "--inactive").encode()).iter("controller")
                     if c.get("model") == "pcie-root-port"])
        env.ok("attach-disk", "q", env.path("q2.qcow2"), "vdc", "--subdriver", "qcow2", "--config")
        assert len([c for c in etree.fromstring(env.ok("dumpxml", "q", "--inactive").encode()).iter("controller")
                    if c.get("model") == "pcie-root-port"]) == ports + 1
    finally:
        env.run("destroy", "q")
        env.cleanup()


def _libvirt_cases():
    import json
    with open(os.path.join(os.path.dirname(__file__), "data", "hotplug-libvirt.json")) as f:
        return json.load(f)


@needs_qemu
@pytest.mark.parametrize("case", range(3))
def test_same_as_virsh_and_libvirt(tmp_path, case):
    """Command strings through pyvirsh, byte for byte as virsh 9.0 + libvirt's QEMU driver
    printed them (tests/data/hotplug-libvirt.json): a hot-plugged disk, a target in use, an
    unknown target, a cdrom detach, an IDE hotplug QEMU refuses, --config alone and with
    --live, a detach; media inserted, ejected twice (libvirt keeps an empty <source index>),
    updated; a NIC attached and detached twice (QEMU's "already in the process of unplug");
    attach-device, update-device and detach-device with XML files.
    The domain is started paused: no guest OS is needed for these."""
    ref = _libvirt_cases()
    for name in ("base.qcow2", "d1.qcow2", "d2.qcow2"):
        qemu_img("create", "-q", "-f", "qcow2", str(tmp_path / name), "64M")
    qemu_img("create", "-q", "-f", "raw", str(tmp_path / "cd.iso"), "1M")
    (tmp_path / "dom.xml").write_text(ref["dom_xml"].replace("DIR", str(tmp_path)))
    for name, text in ref["files"].items():
        (tmp_path / name).write_text(text.replace("DIR", str(tmp_path)))
    one = ref["cases"][case]
    env = Env(tmp_path)
    try:
        proc = env.run(one["command"].replace("DIR", str(tmp_path)), cwd=str(tmp_path))
    finally:
        env.cleanup()
    assert (proc.stdout, proc.stderr) == (one["stdout"].replace("DIR", str(tmp_path)),
                                          one["stderr"].replace("DIR", str(tmp_path)))
