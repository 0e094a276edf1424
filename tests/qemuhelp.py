"""Helpers for tests on real QEMU: an embedded driver root per test, qcow2 chains
made with qemu-img, guest-visible data written and checked with qemu-io."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time

from difftool import pyvirsh_argv

MiB = 1 << 20


class Env:
    """One embedded QEMU driver (qemu:///embed?root=...) and a directory of images."""

    def __init__(self, base):
        self.base = str(base)
        self.root = os.path.join(self.base, "root")
        self.images = os.path.join(self.base, "img")
        os.makedirs(self.images, exist_ok=True)
        self.uri = "qemu:///embed?root=%s" % self.root

    def run(self, *args, check=False, env=None, timeout=120, cwd=None):
        full_env = dict(os.environ, LANG="C")
        full_env.pop("PYVIRSH_DEFAULT_URI", None)
        if env:
            full_env.update(env)
        proc = subprocess.run(pyvirsh_argv() + ["-c", self.uri] + list(args), capture_output=True,
                              env=full_env, timeout=timeout, cwd=cwd)
        # Decoded by hand: text mode would turn the progress lines' '\r' into '\n'.
        proc.stdout = proc.stdout.decode("utf-8", "replace")
        proc.stderr = proc.stderr.decode("utf-8", "replace")
        if check and proc.returncode != 0:
            raise AssertionError("pyvirsh %s failed (%d):\n%s%s" % (args, proc.returncode, proc.stdout,
                                                                     proc.stderr))
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def ok(self, *args, **kw) -> str:
        return self.run(*args, check=True, **kw).stdout

    def path(self, name: str) -> str:
        return os.path.join(self.images, name)

    def define(self, name: str, disks: list[tuple[str, str, str]], extra: str = "", dom_type: str = "kvm") -> str:
        """Define a domain; disks are (target, path, format) on virtio unless the target says otherwise."""
        xml = domain_xml(name, disks, extra, dom_type)
        path = os.path.join(self.base, name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        self.ok("define", path)
        return path

    def qemu_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-f", "qemu-system.*%s" % self.root], capture_output=True,
                             text=True).stdout
        return [int(p) for p in out.split()]

    def cleanup(self) -> None:
        swtpms = subprocess.run(["pgrep", "-f", "swtpm socket.*%s" % self.root], capture_output=True,
                                text=True).stdout.split()
        for pid in self.qemu_pids() + [int(p) for p in swtpms]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self.qemu_pids() and time.monotonic() < deadline:
            time.sleep(0.05)


def domain_xml(name, disks, extra="", dom_type="kvm") -> str:
    from xml.sax.saxutils import quoteattr
    items = []
    for target, path, fmt in disks:
        bus = {"vd": "virtio", "sd": "sata", "hd": "ide"}[target[:2]]
        items.append("<disk type='file' device='disk'><driver name='qemu' type='%s'/><source file=%s/>"
                     "<target dev='%s' bus='%s'/></disk>" % (fmt, quoteattr(path), target, bus))
    return ("<domain type='%s'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>%s%s</devices></domain>"
            % (dom_type, name, "".join(items), extra))


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def ext4_qcow2(path: str, mib: int = 32) -> str:
    """A qcow2 image at path holding an empty ext4 file system (the guests' data disk; no
    metadata_csum, which the test guest's busybox mount does not need)."""
    raw = path + ".raw"
    with open(raw, "wb") as f:
        f.truncate(mib << 20)
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "^metadata_csum", raw], check=True)
        qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, path)
    finally:
        os.unlink(raw)
    return path


def qemu_io(path: str, *commands: str, fmt: str = "qcow2", readonly: bool = False) -> subprocess.CompletedProcess:
    argv = ["qemu-io", "-f", fmt]
    if readonly:
        argv += ["-r", "-U"]
    for c in commands:
        argv += ["-c", c]
    return subprocess.run(argv + [path], capture_output=True, text=True)


def make_chain(env: Env, names: list[str], size: str = "64M", fmt: str = "qcow2") -> list[str]:
    """base first: names[0] is the base; each next image is an overlay with the format recorded."""
    paths = [env.path(n) for n in names]
    qemu_img("create", "-q", "-f", fmt, paths[0], size)
    for lower, upper in itertools.pairwise(paths):
        qemu_img("create", "-q", "-f", "qcow2", "-b", lower, "-F", fmt if lower == paths[0] else "qcow2", upper)
    return paths


# Layer k (0 = base) holds pattern PATTERNS[k] from k MiB over 2 MiB, so each layer
# hides part of the one below: the guest sees 0x11 at 0M, 0x22 at 1M, 0x33 at 2M, ...
PATTERNS = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]


def write_patterns(paths: list[str]) -> None:
    for k, path in enumerate(paths):
        proc = qemu_io(path, "write -P 0x%x %dM 2M" % (PATTERNS[k], k))
        assert proc.returncode == 0 and "error" not in proc.stdout.lower(), proc.stdout + proc.stderr


def expected_view(layers: int) -> list[tuple[int, int]]:
    """(offset MiB, pattern) the guest must see over a chain of `layers` images with write_patterns."""
    view = [(k, PATTERNS[k]) for k in range(layers)]
    view.append((layers, PATTERNS[layers - 1]))   # the top's second MiB is not hidden
    return view


def check_view(path: str, view: list[tuple[int, int]], fmt: str = "qcow2", zero_from: int | None = None) -> None:
    commands = ["read -P 0x%x %dM 1M" % (pattern, offset) for offset, pattern in view]
    if zero_from is not None:
        commands.append("read -P 0 %dM 1M" % zero_from)
    proc = qemu_io(path, *commands, fmt=fmt, readonly=True)
    assert proc.returncode == 0, proc.stderr
    assert "Pattern verification failed" not in proc.stdout, proc.stdout
    assert proc.stdout.count("read ") == len(commands), proc.stdout


def backing_chain(path: str) -> list[dict]:
    """qemu-img's view of a chain, top first."""
    out = qemu_img("info", "-U", "--backing-chain", "--output=json", path)
    return json.loads(out)


def chain_from_xml(xml_text: str, target: str = "vda") -> list[tuple[str, str]]:
    """(path, format) of each cached layer in a dumpxml, top first."""
    from lxml import etree
    root = etree.fromstring(xml_text.encode())
    for disk in root.iter("disk"):
        if disk.find("target").get("dev") != target:
            continue
        out = [(disk.find("source").get("file"), disk.find("driver").get("type"))]
        node = disk.find("backingStore")
        while node is not None and node.find("source") is not None:
            out.append((node.find("source").get("file"), node.find("format").get("type")))
            node = node.find("backingStore")
        return out
    raise AssertionError("no disk %s" % target)


def assert_cache_matches_disk(xml_text: str, target: str = "vda") -> None:
    """The cached chain in dumpxml equals qemu-img's view of the files, and headers hold plain paths."""
    cached = chain_from_xml(xml_text, target)
    info = backing_chain(cached[0][0])
    assert [(i["filename"], i["format"]) for i in info] == cached
    for layer in info:
        name = layer.get("backing-filename")
        assert name is None or not name.startswith("json:"), name
