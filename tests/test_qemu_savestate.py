"""save/restore and managedsave on real QEMU keep the guest's RAM: the tiny test guest (one
boot for the module) keeps a marker in its RAM-backed root file system and in a shell
variable; after save + restore, and after managedsave + start, each in its own pyvirsh
process, the guest's shell still has both. Also: the image is in libvirt's format, bad input
changes nothing, and setmem/setmaxmem/setvcpus/desc/metadata/autostart on the QEMU driver."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

import testguest
from difftool import pyvirsh_argv
from qemuhelp import Env

DEADLINE = 300          # seconds for the guest to reach its shell under TCG on a busy machine; a bound

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
]

XML = """<domain type='qemu'>
  <name>sg</name>
  <memory unit='MiB'>128</memory>
  <vcpu current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%(kernel)s</kernel><initrd>%(initrd)s</initrd>
    <cmdline>console=ttyS0 pyvirsh.shell cryptomgr.notests</cmdline></os>
  <devices>
    <serial type='unix'><source mode='bind' path='%(sock)s'/></serial>
  </devices>
</domain>
"""


class Shell:
    """The guest's root shell on its serial socket."""

    def __init__(self, path: str):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                assert time.monotonic() < deadline, "the serial socket never listened"
                time.sleep(0.1)
        self.buf = b""
        self.count = 0

    def read_until(self, token: bytes, timeout: float = DEADLINE) -> bytes:
        deadline = time.monotonic() + timeout
        while token not in self.buf:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                chunk = b""
            assert chunk or time.monotonic() < deadline, "no %r from the guest; got %r" % (token, self.buf[-300:])
            self.buf += chunk
        before, _, self.buf = self.buf.partition(token)
        return before

    def run(self, command: str) -> str:
        """Run a command; its output (the sentinel is typed split so its echo never matches)."""
        self.count += 1
        self.sock.sendall(("%s; echo DO\"\"NE-%d\n" % (command, self.count)).encode())
        out = self.read_until(b"DONE-%d" % self.count, 60)
        return out.decode(errors="replace").split("\n", 1)[-1]

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    try:
        kernel, initrd = testguest.build()
    except RuntimeError as err:
        pytest.skip(str(err))
    e = Env(tmp_path_factory.mktemp("savestate"))
    xml = e.path("sg.xml")
    with open(xml, "w") as f:
        f.write(XML % {"kernel": kernel, "initrd": initrd, "sock": e.path("ttyS0.sock")})
    e.ok("define", xml)
    e.ok("start", "sg")
    shell = Shell(e.path("ttyS0.sock"))
    shell.read_until(b"PYVIRSH-GUEST-READY")
    shell.sock.sendall(b"\n")
    shell.read_until(b"guest# ")
    shell.run("echo RAM-MARKER-4711 > /marker-file; export MARK=shell-var-0815")
    shell.close()
    yield e
    e.cleanup()


def _marker_survived(e: Env) -> None:
    shell = Shell(e.path("ttyS0.sock"))
    try:
        out = shell.run("cat /marker-file; echo $MARK")
    finally:
        shell.close()
    assert "RAM-MARKER-4711" in out and "shell-var-0815" in out, out


def test_bad_input_changes_nothing(env):
    r = env.run("save", "sg", "/nonexistent-dir/sg.save")
    assert (r.returncode, r.stderr) == (1, ("error: Failed to save domain 'sg' to /nonexistent-dir/sg.save\n"
                                        "error: Failed to create file '/nonexistent-dir/sg.save': "
                                        "No such file or directory\n"))
    assert env.ok("domstate", "sg").strip() == "running"
    r = env.run("restore", "/etc/passwd")
    assert (r.returncode, r.stderr) == (1, ("error: Failed to restore domain from /etc/passwd\n"
                                        "error: operation failed: image magic is incorrect\n"))
    partial = env.path("partial.save")
    with open(partial, "wb") as f:
        f.write(b"LibvirtQemudPart" + bytes(200))
    r = env.run("restore", partial)
    assert r.stderr.endswith("error: operation failed: save image is incomplete\n")
    r = env.run("setvcpus", "sg", "3", "--config")
    assert (r.returncode, r.stderr) == (1, ("error: invalid argument: requested vcpus is greater than max "
                                        "allowable vcpus for the persistent domain: 3 > 2\n"))
    r = env.run("save", "sg", env.path("x.save"), "--running", "--paused")
    assert r.stderr.endswith("error: Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are "
                             "mutually exclusive\n")
    assert not os.path.exists(env.path("x.save"))
    assert env.ok("domstate", "sg").strip() == "running"
    assert sorted(os.listdir(env.images)) == ["partial.save", "sg.xml", "ttyS0.sock"]


def test_save_and_restore_keep_ram(env):
    image = env.path("sg.save")
    uuid = env.ok("domuuid", "sg").strip()
    assert env.ok("save", "sg", image) == "\nDomain 'sg' saved to %s\n\n" % image
    assert env.ok("domstate", "sg", "--reason").strip() == "shut off (saved)"
    with open(image, "rb") as f:
        head = f.read(92)
    assert head[:16] == b"LibvirtQemudSave" and int.from_bytes(head[16:20], "little") == 2
    assert "<name>sg</name>" in env.ok("save-image-dumpxml", image)
    assert not [n for n in os.listdir(env.images) if n.startswith(".")], "a temporary file was left"
    # save-image-define: another domain's XML is refused (libvirt checks the uuid first) ...
    other = env.path("other.xml")
    with open(other, "w") as f:
        f.write("<domain type='qemu'><name>other</name><memory>65536</memory><os><type>hvm</type></os>"
                "</domain>")
    r = env.run("save-image-define", image, other)
    assert r.stderr.startswith("error: Failed to update %s\nerror: unsupported configuration: Target domain "
                               "uuid " % image) and r.stderr.endswith(" does not match source %s\n" % uuid)
    # ... the same domain's is kept in the image, and --paused is recorded for the restore.
    edited = env.path("edited.xml")
    with open(edited, "w") as f:
        f.write(env.ok("save-image-dumpxml", image).replace("<name>sg</name>",
                                                            "<name>sg</name><description>saved</description>"))
    assert env.ok("save-image-define", image, edited, "--paused") == "State file %s updated.\n\n" % image
    assert env.ok("restore", image) == "Domain restored from %s\n\n" % image
    assert env.ok("domstate", "sg", "--reason").strip() == "paused (user)"
    assert env.ok("desc", "sg") == "saved\n"
    env.ok("resume", "sg")
    env.ok("save", "sg", image)
    assert env.ok("restore", image) == "Domain restored from %s\n\n" % image
    assert env.ok("domstate", "sg", "--reason").strip() == "running (restored)"
    _marker_survived(env)


def test_killed_save_leaves_the_domain_running_or_saved(env):
    """pyvirsh killed while QEMU writes the image: the next command settles the save."""
    image = env.path("killed.save")
    status = os.path.join(env.root, "run", "sg.status.xml")
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "save", "sg", image], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with open(status) as f:
            if 'op="save"' in f.read():
                break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    state = env.ok("domstate", "sg", "--reason").strip()
    assert state in ("running (save canceled)", "shut off (saved)"), state
    assert not [n for n in os.listdir(env.images) if n.startswith(".")], "a temporary file was left"
    if state == "shut off (saved)":
        env.ok("restore", image)
    else:
        assert not os.path.exists(image)
    _marker_survived(env)


def test_save_killed_before_its_temporary_file_keeps_an_older_image_apart(env):
    """The save's intent is recorded before its temporary file is made. Killed in between,
    with a complete image of an earlier save already at the target, the next command must
    not take that image for this save's result: it cancels, and the guest keeps running."""
    image = env.path("older.save")
    env.ok("save", "sg", image)
    env.ok("restore", image)
    status = os.path.join(env.root, "run", "sg.status.xml")
    with open(status) as f:
        text = f.read()
    st = os.stat(image)
    intent = ('  <intent op="save" path="%s" temp="%s" running="1" replaces="%d:%d"/>\n'
              % (image, env.path(".older.save.pyvirsh-save1"), st.st_dev, st.st_ino))
    with open(status, "w") as f:
        f.write(text.replace("  <nextIndex>", intent + "  <nextIndex>", 1).replace("pending='0'", "pending='1'", 1))
    assert env.ok("domstate", "sg", "--reason").strip() == "running (save canceled)"
    assert os.stat(image).st_ino == st.st_ino
    _marker_survived(env)


def test_killed_restore_leaves_the_image_or_the_guest(env):
    """pyvirsh killed while QEMU loads the image: the next command stops a QEMU that has not
    got the RAM yet (the image is still there) or finishes the restore."""
    image = env.path("killed-restore.save")
    env.ok("save", "sg", image)
    intent = os.path.join(env.root, "run", "sg.spawning")
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "restore", image], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not os.path.exists(intent):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    state = env.ok("domstate", "sg", "--reason").strip()
    assert state in ("running (restored)", "shut off (saved)"), state
    assert os.path.exists(image)
    if state != "running (restored)":
        env.ok("restore", image)
    _marker_survived(env)


def test_images_interchange_with_virsh(env, tmp_path, request):
    """virsh (libvirt's embedded QEMU driver, one process) restores an image pyvirsh saved;
    pyvirsh restores it back, and the guest's RAM is still there."""
    if shutil.which("virsh") is None or os.geteuid() != 0:
        pytest.skip("needs virsh 9.0 and root (libvirt's embedded driver runs QEMU as root here)")
    import pathlib
    import tempfile
    # libvirt puts QMP sockets under the root: a short one keeps them within 108 bytes.
    root = pathlib.Path(tempfile.mkdtemp(prefix="pvlv", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "qemu.conf").write_text('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n'
                                            'stdio_handler = "file"\n')
    ours, theirs = env.path("ours.save"), str(tmp_path / "theirs.save")
    env.ok("save", "sg", ours)
    script = "restore %s; domstate sg --reason; save sg %s" % (ours, theirs)
    r = subprocess.run(["virsh", "-c", "qemu:///embed?root=%s" % root, script], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, LANG="C"), timeout=300)
    assert r.stdout == ("Domain restored from %s\n\nrunning (restored)\n\n\nDomain 'sg' saved to %s\n\n"
                        % (ours, theirs)), r.stderr
    assert "<name>sg</name>" in env.ok("save-image-dumpxml", theirs)
    # libvirt's XML carries <resource> (its cgroup partition), which pyvirsh refuses to run:
    # the image's RAM is restored with pyvirsh's own definition of the domain.
    r = env.run("restore", theirs)
    assert r.stderr.endswith("error: unsupported configuration: pyvirsh's QEMU driver does not support "
                             "element <resource> in <domain>\n")
    ours_xml = env.path("sg-inactive.xml")
    with open(ours_xml, "w") as f:
        f.write(env.ok("dumpxml", "sg", "--inactive"))
    env.ok("restore", theirs, "--xml", ours_xml)
    assert env.ok("domstate", "sg", "--reason").strip() == "running (restored)"
    _marker_survived(env)


def test_managedsave_and_start_keep_ram(env):
    assert env.ok("managedsave", "sg") == "\nDomain 'sg' state saved by libvirt\n\n"
    assert "Managed save:   yes" in env.ok("dominfo", "sg")
    assert " sg     saved" in env.ok("list", "--all", "--managed-save")
    assert "<name>sg</name>" in env.ok("managedsave-dumpxml", "sg")
    r = env.run("undefine", "sg")
    assert r.stderr == "error: Refusing to undefine while domain managed save image exists\n"
    env.ok("start", "sg")
    assert env.ok("domstate", "sg", "--reason").strip() == "running (restored)"
    assert "Managed save:   no" in env.ok("dominfo", "sg")
    _marker_survived(env)


def test_memory_vcpus_metadata_autostart(env):
    env.ok("setmem", "sg", "96M", "--live")
    assert "Used memory:    98304 KiB" in env.ok("dominfo", "sg")
    env.ok("setmem", "sg", "112M", "--config")
    assert "<currentMemory unit='KiB'>114688</currentMemory>" in env.ok("dumpxml", "sg", "--inactive")
    r = env.run("setmaxmem", "sg", "1G")
    assert r.stderr == ("error: Unable to change MaxMemorySize\nerror: Requested operation is not valid: "
                        "cannot resize the maximum memory on an active domain\n")
    env.ok("setvcpus", "sg", "2", "--live")
    assert "CPU(s):         2" in env.ok("dominfo", "sg")
    from pyvirsh.drivers.qemu.qmp import QMP
    with QMP(os.path.join(env.root, "run", "sg", "qmp.sock")) as q:     # QEMU's own view: two CPUs
        assert [c["cpu-index"] for c in q.execute("query-cpus-fast")] == [0, 1]
    r = env.run("setvcpus", "sg", "1", "--live")
    assert r.stderr == ("error: Operation not supported: unplugging vCPUs of a running domain is not "
                        "supported; use --config\n")
    env.ok("setvcpus", "sg", "2", "--config")
    assert "<vcpu placement='static'>2</vcpu>" in env.ok("dumpxml", "sg", "--inactive")
    r = env.run("setvcpus", "sg", "2", "--guest")
    assert r.stderr == "error: argument unsupported: QEMU guest agent is not configured\n"
    env.ok("desc", "sg", "--config", "a", "saved", "guest")
    assert env.ok("desc", "sg", "--config") == "a saved guest\n"
    env.ok("metadata", "sg", "http://example.org/x/", "--key", "x", "--set", "<note>kept</note>", "--config")
    assert env.ok("metadata", "sg", "http://example.org/x/", "--config") == "<note>kept</note>\n\n"
    assert env.ok("autostart", "sg") == "Domain 'sg' marked as autostarted\n\n"
    assert "Autostart:      enable" in env.ok("dominfo", "sg")
    assert " sg " in env.ok("list", "--autostart")
    env.ok("destroy", "sg")
    assert env.ok("autostart-run") == "Domain 'sg' started\n\n"
    assert env.ok("domstate", "sg").strip() == "running"
    env.ok("destroy", "sg")
    r = env.run("domrename", "sg", "sg2")
    assert r.returncode == 0, r.stderr
    assert " sg2 " in env.ok("list", "--all", "--autostart")
    # start --force-boot discards a managed save
    env.ok("start", "sg2")
    env.ok("managedsave", "sg2")
    managed = os.path.join(env.root, "state", "save", "sg2.save")
    assert os.path.exists(managed)
    r = env.run("domrename", "sg2", "sg3")
    assert r.stderr == ("error: Requested operation is not valid: domain with a managed saved state can't be "
                        "renamed\n")
    env.ok("start", "sg2", "--force-boot")
    assert env.ok("domstate", "sg2", "--reason").strip() == "running (booted)"
    assert not os.path.exists(managed)
    env.ok("destroy", "sg2")
