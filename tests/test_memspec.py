"""External memory snapshots (snapshot-create --memspec) on real QEMU, in the tiny booted test
guest (one boot for the module): the guest's RAM and its disk go into the snapshot together,
and snapshot-revert brings back the running guest with both, each step its own pyvirsh
process. A marker the guest keeps in RAM (a file in its tmpfs root and a shell variable)
before the snapshot is there after the revert; one written after the snapshot is gone.
Bad input gives libvirt 9.0's words (recorded from virsh + libvirt's embedded QEMU driver,
tests/data/memspec-libvirt-reference.txt) and changes nothing; a pyvirsh killed while it
takes the snapshot is settled by the next command."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

import testguest
from difftool import pyvirsh_argv
from invariants import assert_invariants, check_after_every_step
from qemuhelp import Env, qemu_img, qemu_io
from test_qemu_savestate import Shell

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
]

XML = """<domain type='qemu'>
  <name>ms</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%(kernel)s</kernel><initrd>%(initrd)s</initrd>
    <cmdline>console=ttyS0 pyvirsh.shell cryptomgr.notests</cmdline></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/></disk>
    <serial type='unix'><source mode='bind' path='%(sock)s'/></serial>
  </devices>
</domain>
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    try:
        kernel, initrd = testguest.build()
    except RuntimeError as err:
        pytest.skip(str(err))
    e = Env(tmp_path_factory.mktemp("memspec"))
    disk = e.path("disk.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", disk, "16M")
    assert qemu_io(disk, "write -P 0x11 0 1M").returncode == 0
    xml = e.path("ms.xml")
    with open(xml, "w") as f:
        f.write(XML % {"kernel": kernel, "initrd": initrd, "sock": e.path("ttyS0.sock"), "disk": disk})
    e.ok("define", xml)
    check_after_every_step(e)
    e.ok("start", "ms")
    shell = Shell(e.path("ttyS0.sock"))
    shell.read_until(b"PYVIRSH-GUEST-READY")
    shell.sock.sendall(b"\n")
    shell.read_until(b"guest# ")
    shell.run("echo BEFORE-4711 > /marker-file; export MARK=before-0815")
    shell.close()
    yield e
    e.cleanup()


def guest(env: Env, command: str) -> str:
    shell = Shell(env.path("ttyS0.sock"))
    try:
        return shell.run(command)
    finally:
        shell.close()


def hmp(env: Env, line: str) -> None:
    from pyvirsh.drivers.qemu.qmp import QMP
    with QMP(os.path.join(env.root, "run", "ms", "qmp.sock")) as q:
        q.execute("human-monitor-command", {"command-line": line})


def disk_write(env: Env, pattern: int, offset_mib: int) -> None:
    """A write by the guest's disk device, into whatever image is active now."""
    device = "/machine/peripheral/virtio-disk0/virtio-backend"
    hmp(env, 'qemu-io -d %s "write -P 0x%x %dM 1M"' % (device, pattern, offset_mib))
    hmp(env, 'qemu-io -d %s "flush"' % device)


def disk_shows(env: Env, pattern: int, offset_mib: int) -> bool:
    top = env.ok("domblklist", "ms").split()[-1]
    proc = qemu_io(top, "read -P 0x%x %dM 1M" % (pattern, offset_mib), readonly=True)
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout


def hidden_files(env: Env) -> list[str]:
    return [n for n in os.listdir(env.images) if n.startswith(".")]


def test_bad_input_changes_nothing(env):
    """libvirt 9.0's words, nothing on disk, the guest running as before."""
    env.define("off", [("vda", env.path("disk.qcow2"), "qcow2")])
    mem = env.path("bad.mem")
    cases = [
        (("off", "m0", "--memspec", "file=%s" % mem),
         "error: XML error: memory state cannot be saved with offline or disk-only snapshot\n"),
        (("ms", "m1", "--memspec", "file=/nonexistent-dir/m1.mem"),
         "error: Failed to create file '/nonexistent-dir/m1.mem': No such file or directory\n"),
        (("ms", "m2", "--memspec", "file=%s" % mem, "--disk-only"),
         "error: XML error: memory state cannot be saved with offline or disk-only snapshot\n"),
        (("ms", "m2b", "--memspec", "file=%s,snapshot=internal" % mem),
         "error: XML error: memory filename '%s' requires external snapshot\n" % mem),
    ]
    before = sorted(os.listdir(env.images))
    for args, stderr in cases:
        r = env.run("snapshot-create-as", *args)
        assert (r.returncode, r.stderr) == (1, stderr), args
    env.ok("undefine", "off")
    # A failure after the intent is recorded (the overlay cannot be made) is undone: no memory
    # file, no temporary file, the guest never paused.
    r = env.run("snapshot-create-as", "ms", "m3", "--memspec", "file=%s" % mem, "--diskspec",
                "vda,file=/nonexistent-dir/vda.m3")
    assert r.returncode == 1 and r.stderr.startswith("error: "), r.stderr
    assert sorted(os.listdir(env.images)) == before
    assert env.ok("domstate", "ms", "--reason") == "running (booted)\n\n"
    assert env.ok("snapshot-list", "ms", "--name") == "\n"


def test_snapshot_and_revert_keep_ram_and_disk(env):
    m1 = env.path("m1.mem")
    assert env.ok("snapshot-create-as", "ms", "m1", "--memspec", "file=%s" % m1) == "Domain snapshot m1 created\n"
    # As libvirt 9.0: paused for the memory, resumed after; the disk on an overlay.
    assert env.ok("domstate", "ms", "--reason") == "running (unpaused)\n\n"
    assert env.ok("domblklist", "ms").split()[-1] == env.path("disk.m1")
    info = env.ok("snapshot-info", "ms", "m1")
    assert "State:          running\n" in info and "Location:       external\n" in info
    assert env.ok("snapshot-dumpxml", "ms", "m1", "--xpath", "/domainsnapshot/memory") == \
        '<memory snapshot="external" file="%s"/>\n\n' % m1
    assert env.ok("snapshot-list", "ms", "--external", "--name") == "m1\n\n"
    with open(m1, "rb") as f:
        assert f.read(16) == b"LibvirtQemudSave"         # libvirt's save-image format
    assert "<name>ms</name>" in env.ok("save-image-dumpxml", m1)
    assert not hidden_files(env)
    # After the snapshot: RAM and disk change.
    guest(env, "echo AFTER-1 > /after-file; export MARK=after-1")
    disk_write(env, 0x5a, 1)
    assert disk_shows(env, 0x5a, 1)
    assert env.ok("snapshot-revert", "ms", "m1") == "Domain snapshot m1 reverted\n\n"
    assert env.ok("domstate", "ms", "--reason") == "running (from snapshot)\n\n"
    out = guest(env, "cat /marker-file; echo MARK=$MARK; ls /after-file")
    assert "BEFORE-4711" in out and "MARK=before-0815" in out and "No such file" in out, out
    assert disk_shows(env, 0x11, 0) and disk_shows(env, 0, 1)
    assert os.path.exists(m1)               # a snapshot can be reverted to again
    # --live --halt: the memory written with the guest running, then the domain stops.
    m2 = env.path("m2.mem")
    guest(env, "echo SECOND > /second-file")
    env.ok("snapshot-create-as", "ms", "m2", "--memspec", "file=%s" % m2, "--live", "--halt")
    assert env.ok("domstate", "ms", "--reason") == "shut off (from snapshot)\n\n"
    assert env.ok("snapshot-list", "ms", "--tree") == "m1\n  |\n  +- m2\n    \n\n"
    env.ok("snapshot-revert", "ms", "m2", "--paused")
    assert env.ok("domstate", "ms", "--reason") == "paused (from snapshot)\n\n"
    env.ok("resume", "ms")
    out = guest(env, "cat /marker-file /second-file")
    assert "BEFORE-4711" in out and "SECOND" in out, out
    # Deleting them keeps the running guest and its data; their memory files go.
    assert env.ok("snapshot-delete", "ms", "m2") == "Domain snapshot m2 deleted\n\n"
    assert not os.path.exists(m2)
    env.ok("snapshot-delete", "ms", "m1")
    assert not os.path.exists(m1)
    assert env.ok("snapshot-list", "ms", "--name") == "\n"
    assert "SECOND" in guest(env, "cat /second-file")
    assert disk_shows(env, 0x11, 0)
    assert not hidden_files(env)


def test_killed_snapshot_is_settled_by_the_next_command(env):
    """pyvirsh killed while QEMU writes the memory: the next command finishes or undoes the
    snapshot, and the guest runs on with its RAM either way."""
    mem = env.path("killed.mem")
    status = os.path.join(env.root, "run", "ms.status.xml")
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "snapshot-create-as", "ms", "k", "--memspec",
                                              "file=%s" % mem], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with open(status) as f:
            if "<memory path=" in f.read():
                break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    names = env.ok("snapshot-list", "ms", "--name")       # settles the intent
    assert names in ("\n", "k\n\n"), names
    assert env.ok("domstate", "ms", "--reason").strip() in ("running (unpaused)", "running (booted)")
    assert os.path.exists(mem) == (names == "k\n\n")
    assert not hidden_files(env)
    assert_invariants(env)
    assert "BEFORE-4711" in guest(env, "cat /marker-file")
    if names == "k\n\n":
        env.ok("snapshot-delete", "ms", "k")
        assert not os.path.exists(mem)
