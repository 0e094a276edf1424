"""qemu:///session run by a user (not root): <interface type='bridge'> through
qemu-bridge-helper, as libvirt does (the helper makes the tap, joins it to the bridge and
hands its descriptor back; QEMU gets it as fd=N).

The test runs as root only to build the stage: a network namespace and a mount namespace of
its own (the host's networking and files are never touched), a test bridge in it, the ACL
/etc/qemu/bridge.conf (`allow pvbr0`, on a tmpfs over /etc/qemu) and the helper made setuid
root (a copy bound over Debian's, which ships it without the bit). pyvirsh itself runs as
the user nobody. A booted guest on the bridge pings the bridge's address and the namespace
pings the guest; the tap is on the bridge while QEMU runs and gone with it. A hot-plugged
interface of a network on the bridge gets its tap the same way (the descriptor passed over the
monitor with getfd). A bridge the ACL
does not allow gives libvirt's error and starts nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HELPER = "/usr/lib/qemu/qemu-bridge-helper"
NOBODY = 65534
DEADLINE = 240.0

GUEST_SH = b"""ip link set eth0 up
ip addr add 10.55.0.2/24 dev eth0
i=0
while [ $i -lt 60 ]; do ping -c 1 -W 1 10.55.0.1 >/dev/null 2>&1 && break; i=$((i+1)); done
[ $i -lt 60 ] && echo "PYVIRSH-BR host ok" || echo "PYVIRSH-BR host failed"
"""

# Run in the namespaces before they are held open: the ACL, the setuid helper, the bridges.
STAGE = """set -e
mount -t tmpfs -o mode=755 pyvirsh-test /etc/qemu
echo 'allow pvbr0' > /etc/qemu/bridge.conf
cp %(helper)s /etc/qemu/helper
chmod 4755 /etc/qemu/helper
mount --bind /etc/qemu/helper %(helper)s
ip link set lo up
ip link add pvbr0 type bridge
ip addr add 10.55.0.1/24 dev pvbr0
ip link set pvbr0 up
ip link add pvbr1 type bridge
exec cat
""" % {"helper": HELPER}


def _reachable(path: str) -> bool:
    """Whether any user may reach the path (every directory above it searchable by others)."""
    path = os.path.realpath(path)
    while path != "/":
        path = os.path.dirname(path)
        if not os.stat(path).st_mode & 0o001:
            return False
    return True


def _user_interpreter() -> str | None:
    """This environment's interpreter, or the system's of the same version where that one
    sits in a private place (pyenv under /root): one the user can run."""
    for exe in (sys.executable, "/usr/bin/python%d.%d" % sys.version_info[:2]):
        if os.path.exists(exe) and _reachable(exe) and _reachable(os.path.realpath(exe)):
            return exe
    return None


def _copy_runtime(dest: str) -> None:
    """pyvirsh and every distribution it needs at run time, copied to dest: where the
    environment sits in a private place (a clone under a 0700 directory), the user reads
    these copies instead."""
    import importlib.metadata

    import pyvirsh
    import pyvirsh.drivers
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(os.path.dirname(pyvirsh.__file__), os.path.join(dest, "pyvirsh"), ignore=skip,
                    dirs_exist_ok=True)
    shutil.copytree(os.path.dirname(pyvirsh.drivers.__file__), os.path.join(dest, "pyvirsh", "drivers"),
                    ignore=skip, dirs_exist_ok=True)
    todo, seen = ["pyvirsh"], set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        if name != "pyvirsh":
            for file in dist.files or []:
                source, relative = str(file.locate()), str(file)
                if relative.startswith("..") or "__pycache__" in relative or not os.path.isfile(source):
                    continue            # scripts in bin/, and bytecode the user would not trust anyway
                target = os.path.join(dest, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(source, target)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])


def _user_python(stage_dir: str) -> list[str]:
    """A command line running pyvirsh as the user: the environment's packages where the user
    can read them, else copies of them made in stage_dir."""
    import sysconfig
    site_packages = sysconfig.get_paths()["purelib"]
    if not _reachable(os.path.join(site_packages, "x")):
        site_packages = os.path.join(stage_dir, "site")
        _copy_runtime(site_packages)
    program = ("import site, sys; sys.path.insert(0, %r); site.addsitedir(sys.path[0]); "
               "sys.argv[0] = 'pyvirsh'; from pyvirsh.cli import finish, main; finish(main())" % site_packages)
    return [_user_interpreter() or "", "-c", program]


def _missing() -> str | None:
    if _user_interpreter() is None:
        return "no Python that the user nobody can run"
    if os.geteuid() != 0:
        return "needs root to make the namespaces, the bridge and a setuid helper"
    if not os.path.exists(HELPER):
        return "qemu-bridge-helper is not installed (apt-get install -y qemu-system-common)"
    for tool in ("unshare", "nsenter", "setpriv", "ip"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
            return "%s is not installed" % tool
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


class Stage:
    def __init__(self):
        # Under $TMPDIR (CI's clean-up finds a QEMU left there), which the user must be able to
        # pass through: mktemp -d makes it 0700, so it gets o+x (not o+r) until the end.
        self.parent = tempfile.gettempdir()
        self.parent_mode = os.stat(self.parent).st_mode & 0o7777
        os.chmod(self.parent, self.parent_mode | 0o001)
        self.base = tempfile.mkdtemp(prefix="pyvirsh-session-")
        os.chmod(self.base, 0o755)
        self.python = _user_python(self.base)
        self.home = os.path.join(self.base, "home")
        os.mkdir(self.home, 0o700)
        os.chown(self.home, NOBODY, NOBODY)
        self.holder = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c", STAGE],
                                       stdin=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:         # until the stage is built and `cat` holds it
            try:
                with open("/proc/%d/comm" % self.holder.pid) as f:
                    if f.read().strip() == "cat":
                        break
            except OSError:
                pass
            assert self.holder.poll() is None, "the stage could not be built"
            assert time.monotonic() < deadline, "the stage took too long"
            time.sleep(0.02)
        self.prefix = ["nsenter", "--net=/proc/%d/ns/net" % self.holder.pid, "--mount=/proc/%d/ns/mnt" % self.holder.pid]

    def sh(self, command: str) -> str:
        return subprocess.run(self.prefix + ["sh", "-c", command], capture_output=True, text=True, check=True).stdout

    def run(self, *args):
        env = ["env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + self.home,
               "XDG_CONFIG_HOME=%s/config" % self.home, "XDG_STATE_HOME=%s/state" % self.home,
               "XDG_RUNTIME_DIR=%s/run" % self.home]
        user = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
        return subprocess.run(self.prefix + user + env + self.python + ["-c", "qemu:///session"] + list(args),
                              capture_output=True, text=True, cwd=self.home, check=False)

    def ok(self, *args) -> str:
        proc = self.run(*args)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stdout, proc.stderr)
        return proc.stdout

    def links(self) -> dict:
        return {link["ifname"]: link for link in json.loads(self.sh("ip -j link show"))}

    def close(self) -> None:
        self.holder.stdin.close()       # type: ignore[union-attr]
        self.holder.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)
        os.chmod(self.parent, self.parent_mode)


@pytest.fixture(scope="module")
def stage():
    s = Stage()
    try:
        yield s
    finally:
        s.close()


def _guest_xml(name: str, kernel: str, initrd: str, log: str, bridge: str) -> str:
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            "<features><acpi/></features><os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>"
            "<cmdline>console=ttyS0 pyvirsh.shell</cmdline></os><devices>"
            "<interface type='bridge'><mac address='52:54:00:bb:00:01'/><source bridge='%s'/>"
            "<model type='virtio'/></interface>"
            "<serial type='file'><source path='%s'/></serial></devices></domain>" % (name, kernel, initrd, bridge, log))


def _wait_for(log: str, line: str) -> str:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            with open(log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if "PYVIRSH-GUEST-READY" in text or line in text:
            return text
        assert time.monotonic() < deadline, "the guest did not get to %r:\n%s" % (line, text[-2000:])
        time.sleep(0.2)


def test_bridge_interface_through_the_helper(stage):
    import testguest

    if testguest.kernel_version() is None:
        pytest.skip("no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)")
    kernel, initrd = testguest.build(extras={"/etc/pyvirsh.d/br.sh": (0o100644, GUEST_SH)}, flavour="sessionbr")
    # The user's QEMU reads its own copies (the cache is root's).
    for path in (kernel, initrd):
        shutil.copy(path, stage.base)
    kernel, initrd = (os.path.join(stage.base, os.path.basename(p)) for p in (kernel, initrd))
    log = os.path.join(stage.home, "guest.log")
    for name, bridge in (("sb", "pvbr0"), ("denied", "pvbr1")):
        xml = os.path.join(stage.home, name + ".xml")
        with open(xml, "w") as f:
            f.write(_guest_xml(name, kernel, initrd, log if name == "sb" else log + ".2", bridge))
        os.chown(xml, NOBODY, NOBODY)
        stage.ok("define", xml)
    # A bridge the ACL does not allow: libvirt's words, the helper's own reason; nothing runs.
    refused = stage.run("start", "denied")
    assert refused.returncode == 1 and refused.stdout == "\n"
    assert re.fullmatch(r"error: Failed to start domain 'denied'\n"
                        r"error: %s --use-vnet --br=pvbr1 --fd=\d+: failed to communicate with bridge helper: "
                        r"stderr=access denied by acl file\n: Transport endpoint is not connected\n" % HELPER,
                        refused.stderr), refused.stderr
    assert "shut off" in stage.ok("domstate", "denied")
    assert sorted(stage.links()) == ["lo", "pvbr0", "pvbr1"]

    stage.ok("start", "sb")
    try:
        live = stage.ok("dumpxml", "sb")
        tap = re.search(r"<target dev='(tap\d+)'/>", live).group(1)
        links = stage.links()
        assert links[tap]["master"] == "pvbr0" and "UP" in links[tap]["flags"]
        qemu = [p for p in os.listdir("/proc") if p.isdigit() and _is_qemu_of(p, "sb")]
        assert len(qemu) == 1 and os.stat("/proc/" + qemu[0]).st_uid == NOBODY     # the user's QEMU
        text = _wait_for(log, "PYVIRSH-BR host")
        assert "PYVIRSH-BR host ok" in text, text[-2000:]
        ping = shutil.which("ping") or "%s ping" % shutil.which("busybox", path="/bin:/usr/bin")
        stage.sh("%s -c 1 -W 5 10.55.0.2" % ping)            # and the guest answers the namespace
        stats = json.loads(stage.sh("ip -j -s link show dev %s" % tap))[0]["stats64"]
        assert stats["rx"]["packets"] > 0 and stats["tx"]["packets"] > 0
        assert stage.ok("domiflist", "sb").splitlines()[2].split() == [tap, "bridge", "pvbr0", "virtio",
                                                                       "52:54:00:bb:00:01"]
        # A hot-plugged one, of a network on the host bridge: the helper's descriptor goes to QEMU
        # over the monitor (getfd).
        net = os.path.join(stage.home, "host.xml")
        with open(net, "w") as f:
            f.write("<network><name>host</name><forward mode='bridge'/><bridge name='pvbr0'/></network>")
        stage.ok("net-define", net)
        stage.ok("net-start", "host")
        stage.ok("attach-interface", "sb", "network", "host", "--model", "virtio", "--mac", "52:54:00:bb:00:02")
        second = re.findall(r"<target dev='(tap\d+)'/>", stage.ok("dumpxml", "sb"))
        assert len(second) == 2 and second[0] == tap
        assert stage.links()[second[1]]["master"] == "pvbr0"
        stage.ok("detach-interface", "sb", "network", "--mac", "52:54:00:bb:00:02")
        deadline = time.monotonic() + 60
        while second[1] in stage.links():        # QEMU closes it once the guest let the NIC go
            assert time.monotonic() < deadline, "the hot-plugged tap stayed"
            time.sleep(0.1)
    finally:
        stage.run("destroy", "sb")
    assert sorted(stage.links()) == ["lo", "pvbr0", "pvbr1"]       # the tap went with QEMU
    stage.ok("undefine", "sb")
    stage.ok("undefine", "denied")


def _is_qemu_of(pid: str, name: str) -> bool:
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return bool(argv) and b"qemu-system" in argv[0] and ("guest=%s," % name).encode() in b" ".join(argv)
