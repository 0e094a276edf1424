"""The one invariant check tests run after every chain-altering step on real QEMU.

It reads the driver's files and the processes directly (no pyvirsh call, so it
reconciles nothing itself) and asserts:

- the image files QEMU has open (/proc/PID/fd) are exactly the layers of the
  cached chains in the live status;
- each cached chain equals `qemu-img info -U --backing-chain` of its top;
- the live and the persistent definitions name the same top for every disk;
- every file a snapshot names exists;
- no temporary file of a writer is left, and no half-done work (intent,
  release, unlink) is left in the status (a recorded block job may run on: jobs
  outlive the command that started them, as in libvirt);
- no QEMU runs for a domain that pyvirsh shows shut off.
"""

from __future__ import annotations

import os
import re
import subprocess

from lxml import etree

from qemuhelp import backing_chain

TEMP_NAME = re.compile(r"^\..+\.tmp\d+$")


def _parse(path: str):
    try:
        with open(path, "rb") as f:
            return etree.fromstring(f.read())
    except FileNotFoundError:
        return None


def _chain(disk) -> list[tuple[str, str]]:
    src = disk.find("source")
    if src is None or not (src.get("file") or src.get("dev")):
        return []
    out = [(src.get("file") or src.get("dev"), disk.find("driver").get("type"))]
    node = disk.find("backingStore")
    while node is not None and node.find("source") is not None:
        out.append((node.find("source").get("file"), node.find("format").get("type")))
        node = node.find("backingStore")
    return out


def _disks(domain) -> dict[str, object]:
    return {d.find("target").get("dev"): d for d in domain.iterfind("devices/disk")}


def open_images(pid: int, images_dir: str) -> set[str]:
    """Regular files under images_dir that process pid has open."""
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith(images_dir + os.sep):
            out.add(target)
    return out


def qemu_pids_naming(path: str) -> list[int]:
    """Processes whose command line contains path (QEMU's pidfile names its domain)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] in (b"Z", b"X"):
            continue
        if any(path.encode() in arg for arg in argv):
            out.append(int(entry))
    return out


def check(env, name: str) -> list[str]:
    """All invariant violations for one domain (empty list: none)."""
    problems = []
    root = env.root
    images = os.path.realpath(env.images)
    status = _parse(os.path.join(root, "run", name + ".status.xml"))
    config = _parse(os.path.join(root, "config", name + ".xml"))
    pidfile = os.path.join(root, "run", name, "qemu.pid")
    running_pids = qemu_pids_naming(pidfile)
    if os.path.exists(os.path.join(root, "run", name + ".spawning")):
        problems.append("a start of %s is left half done (run/%s.spawning)" % (name, name))
    if status is None:
        if running_pids:
            problems.append("QEMU %s runs for %s, which pyvirsh does not track" % (running_pids, name))
    else:
        live = status.find("domain")
        pid = int(status.get("pid"))
        if running_pids != [pid]:
            problems.append("status names QEMU %d, running: %s" % (pid, running_pids))
        for tag in ("intent", "release", "unlink"):
            if status.find(tag) is not None:
                problems.append("status still holds <%s>" % tag)
        # A block copy's destination is open while its job runs (a recorded job may
        # outlive the command that started it, as in libvirt).
        copying = {os.path.realpath(j.get("dest")) for j in status.iterfind("job") if j.get("dest")}
        cached = set()
        for target, disk in _disks(live).items():
            chain = _chain(disk)
            cached.update(os.path.realpath(p) for p, _ in chain)
            # qcow2 external data files of the cached layers (<source><dataStore>)
            cached.update(os.path.realpath(s.get("file")) for s in disk.iterfind(".//dataStore/source"))
            if chain:
                on_disk = [(i["filename"], i["format"]) for i in backing_chain(chain[0][0])]
                if on_disk != chain:
                    problems.append("%s: cached chain %s != qemu-img's %s" % (target, chain, on_disk))
            if config is not None:
                cfg = _disks(config).get(target)
                cfg_top = _chain(cfg)[:1] if cfg is not None else []
                if cfg_top != chain[:1]:
                    problems.append("%s: live top %s, persistent top %s" % (target, chain[:1], cfg_top))
        if os.path.exists("/proc/%d" % pid):
            opened = open_images(pid, images)
            if opened - copying != {p for p in cached if p.startswith(images + os.sep)}:
                problems.append("QEMU has open %s, cached chain is %s" % (sorted(opened), sorted(cached)))
    snapshots = _parse(os.path.join(root, "state", "snapshots", name + ".xml"))
    if snapshots is not None:
        for snap in snapshots.iterfind("domainsnapshot"):
            named = [s.get("file") for s in snap.iterfind("disks/disk/source") if s.get("file")]
            named += [s.get("file") for s in snap.iterfind("domain/devices/disk/source") if s.get("file")]
            for path in named:
                if not os.path.exists(path):
                    problems.append("snapshot %s names missing %s" % (snap.findtext("name"), path))
    for directory, _dirs, files in os.walk(root):
        for entry in files:
            if TEMP_NAME.match(entry):
                problems.append("temporary file left: %s" % os.path.join(directory, entry))
    return problems


def domain_names(env) -> list[str]:
    names = set()
    for directory, suffix in (("config", ".xml"), ("run", ".status.xml")):
        for entry in os.listdir(os.path.join(env.root, directory)) if os.path.isdir(
                os.path.join(env.root, directory)) else []:
            if entry.endswith(suffix) and not entry.startswith("."):
                names.add(entry[:-len(suffix)])
    return sorted(names)


def assert_invariants(env, name: str | None = None) -> None:
    """Check one domain, or every domain of the driver."""
    problems = []
    for each in [name] if name else domain_names(env):
        problems += check(env, each)
    assert not problems, "\n".join(problems)


# Commands after which the invariants are checked by check_after_every_step.
CHAIN_ALTERING = {"start", "create", "destroy", "define", "undefine", "blockpull", "blockcommit", "blockcopy",
                  "blockjob", "blockresize", "snapshot-create-as", "snapshot-create", "snapshot-delete",
                  "snapshot-revert"}


def check_after_every_step(env) -> None:
    """Make every chain-altering pyvirsh command the test runs through env check the
    invariants on all domains right after it returns (whether it succeeded or not)."""
    run = env.run

    def checked(*args, **kw):
        proc = run(*args, **kw)
        if args and args[0] in CHAIN_ALTERING:
            assert_invariants(env)
        return proc
    env.run = checked


def qemu_img_ok(path: str) -> bool:
    return subprocess.run(["qemu-img", "check", "-U", path], capture_output=True).returncode == 0
