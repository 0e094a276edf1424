"""Kill-point sweep (issue 9): every chain-altering command SIGKILLed at points spread
over its whole run, then the next plain command and the invariant check.

For each command the test first times two runs that are not killed (T, the longer), then runs it
POINTS more times, killing it after T*(i+0.5)/POINTS seconds. Each point starts from
fresh copies of prepared images and a fresh driver root; the state the command needs
is made in-process through the driver (faster than a pyvirsh per step). After the kill:
`domblklist` (its reconciliation is what must repair whatever the kill left), the
invariant check of tests/invariants.py, a guest write (the guest goes on writing after
a kill), a clean stop, and qemu-io reads of every pattern through the persistent
definition's top: base data, top data, data written after a snapshot and the write
made after the kill.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import time

import pytest

from difftool import pyvirsh_argv
from invariants import check, domain_names
from qemuhelp import Env, domain_xml, qemu_img, qemu_io

# 30 points x 7 commands = 210 kills per run, issue 17's 200 and then some; PYVIRSH_SWEEP_POINTS
# raises it for a longer hunt.
POINTS = int(os.environ.get("PYVIRSH_SWEEP_POINTS", "30"))
MiB = 1 << 20

# (offset MiB, length MiB, pattern): what the guest sees, layer by layer.
BASE_DATA = (0, 32, 0x11)          # in base.qcow2: what a pull copies
TOP_DATA = (32, 48, 0x22)          # in top.qcow2: what an active commit copies
SNAP_DATA = (80, 16, 0x44)         # written after snapshot s1 (in its overlay)
BEFORE_SNAP = (96, 1, 0x33)        # written just before the swept snapshot-create
AFTER_KILL = (100, 1, 0x77)        # written by the guest after the kill
ZERO = (110, 1, 0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("prepared")
    base, top = str(d / "base.qcow2"), str(d / "top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "128M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    for path, (off, length, pattern) in ((base, BASE_DATA), (top, TOP_DATA)):
        proc = qemu_io(path, "write -P 0x%x %dM %dM" % (pattern, off, length))
        assert proc.returncode == 0, proc.stderr
    return str(d)


def driver(env):
    from pyvirsh.drivers import open_connection
    return open_connection(env.uri)


def guest_write(env, region) -> None:
    """A write by the guest through QEMU's block layer, into whatever image is active."""
    from pyvirsh.drivers.qemu.qmp import QMP
    off, length, pattern = region
    with QMP(os.path.join(env.root, "run", "vm", "qmp.sock")) as q:
        for line in ("write -P 0x%x %dM %dM" % (pattern, off, length), "flush"):
            q.execute("human-monitor-command", {"command-line": 'qemu-io -d /machine/peripheral/virtio-disk0/'
                                                'virtio-backend "%s"' % line})


def running(env) -> bool:
    return os.path.exists(os.path.join(env.root, "run", "vm.status.xml"))


# -- the state each command starts from --------------------------------------------------

def define_vm(env):
    driver(env).define_xml(domain_xml("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="kvm"))


def start_vm(env):
    define_vm(env)
    driver(env).lookup_domain_by_name("vm").create(1)      # paused: no guest OS to boot


def started_before(env):
    """Defined, started once and stopped: the next start spawns QEMU from the start plan
    before it reads the definition (drivers/qemu/startplan.py)."""
    start_vm(env)
    driver(env).lookup_domain_by_name("vm").destroy()
    assert os.path.exists(os.path.join(env.root, "run", "vm.startplan"))


def with_snapshot(env):
    from pyvirsh.drivers.api import SnapshotCreateFlags
    start_vm(env)
    dom = driver(env).lookup_domain_by_name("vm")
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", SnapshotCreateFlags.DISK_ONLY)
    guest_write(env, SNAP_DATA)


def before_snapshot(env):
    start_vm(env)
    guest_write(env, BEFORE_SNAP)


def write_xml(env):
    with open(os.path.join(env.base, "vm.xml"), "w") as f:
        f.write(domain_xml("vm", [("vda", env.path("top.qcow2"), "qcow2")]))


COMMANDS = {
    # name: (argv, setup, regions the guest must see)
    "start": (["start", "vm"], define_vm, [BASE_DATA, TOP_DATA]),
    "start-planned": (["start", "vm"], started_before, [BASE_DATA, TOP_DATA]),
    "snapshot-create": (["snapshot-create-as", "vm", "s2", "--disk-only"], before_snapshot,
                        [BASE_DATA, TOP_DATA, BEFORE_SNAP]),
    "snapshot-delete": (["snapshot-delete", "vm", "s1"], with_snapshot, [BASE_DATA, TOP_DATA, SNAP_DATA]),
    "blockcommit": (["blockcommit", "vm", "vda", "--active", "--pivot", "--wait"], start_vm,
                    [BASE_DATA, TOP_DATA]),
    "blockpull": (["blockpull", "vm", "vda", "--wait"], start_vm, [BASE_DATA, TOP_DATA]),
    "define": (["define", "XML"], write_xml, [BASE_DATA, TOP_DATA]),
    "undefine": (["undefine", "vm"], define_vm, [BASE_DATA, TOP_DATA]),
}


def one_point(tmp, prepared, name, delay):
    """Run the command, kill it after delay seconds (None: let it finish); return
    (its run time, violations)."""
    argv, setup, regions = COMMANDS[name]
    env = Env(tmp)
    for image in ("base.qcow2", "top.qcow2"):
        subprocess.run(["cp", "--sparse=always", os.path.join(prepared, image), env.path(image)], check=True)
    try:
        setup(env)
        argv = [os.path.join(env.base, "vm.xml") if a == "XML" else a for a in argv]
        began = time.monotonic()
        proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri] + argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if delay is not None:
            time.sleep(delay)
            proc.kill()
        proc.wait()
        took = time.monotonic() - began
        problems = [] if delay is not None or proc.returncode == 0 else ["the unkilled run failed"]
        env.run("domblklist", "vm")         # the next plain command (asserts: no traceback)
        for each in domain_names(env):
            problems += check(env, each)
        if name == "snapshot-delete":
            problems += half_deleted_snapshot(env)
        expected = list(regions)
        conn = driver(env)
        if running(env):
            guest_write(env, AFTER_KILL)
            expected.append(AFTER_KILL)
            conn.lookup_domain_by_name("vm").destroy()
        problems += data_problems(env, conn, expected)
        return took, ["%s killed at %s ms: %s" % (name, None if delay is None else int(delay * 1000), p)
                      for p in problems]
    finally:
        env.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def half_deleted_snapshot(env) -> list[str]:
    """A snapshot still listed keeps its pinned image unmerged, unless the merge job that
    deletes it is recorded with that intent (the next command that finds it ready pivots
    it and drops the snapshot)."""
    from lxml import etree
    meta = os.path.join(env.root, "state", "snapshots", "vm.xml")
    if not os.path.exists(meta) or b"<name>s1</name>" not in pathlib.Path(meta).read_bytes():
        return []
    status = os.path.join(env.root, "run", "vm.status.xml")
    if os.path.exists(status):
        for job in etree.parse(status).getroot().iterfind("job"):
            return [] if job.get("snapshot") == "s1" else ["merge job %s lacks the delete's intent"
                                                           % job.get("id")]
    off, _length, _pattern = SNAP_DATA
    proc = qemu_io(env.path("top.qcow2"), "read -P 0 %dM 1M" % off, readonly=True)
    if "Pattern verification failed" in proc.stdout or proc.returncode != 0:
        return ["s1 is still listed but its image top.qcow2 holds data merged from its overlay"]
    return []


def data_problems(env, conn, regions) -> list[str]:
    from pyvirsh.drivers.api import DriverError
    try:
        dom = conn.lookup_domain_by_name("vm")
        top = dom.get_definition(inactive=True).find_disk("vda").source
    except DriverError:
        top = env.path("top.qcow2")        # undefined: the images stay as they were
    # The first and last MiB of every region: a lost layer, write or merge shows there.
    reads = []
    for off, length, pattern in regions + [ZERO]:
        reads += ["read -P 0x%x %dM 1M" % (pattern, at) for at in sorted({off, off + length - 1})]
    proc = qemu_io(top, *reads, readonly=True)
    if proc.returncode != 0 or "Pattern verification failed" in proc.stdout or \
            proc.stdout.count("read ") != len(reads):
        return ["guest data wrong through %s: %s%s" % (top, proc.stdout, proc.stderr)]
    return []


# The snapshot commands' sweeps run from tests/test_kill_sweep_snapshots.py: a module of their
# own, which the other pytest-xdist worker can take while this one sweeps the rest.
SNAPSHOT_COMMANDS = ("snapshot-create", "snapshot-delete")


@pytest.mark.parametrize("name", [name for name in COMMANDS if name not in SNAPSHOT_COMMANDS])
def test_kill_point_sweep(name, prepared, tmp_path):
    sweep(name, prepared, tmp_path)


def sweep(name, prepared, tmp_path) -> None:
    began = time.monotonic()
    # The command's run time, the longer of two runs (the machine is noisy), so that the
    # points cover the whole of a slow run too.
    full, problems = one_point(str(tmp_path / "full"), prepared, name, None)
    again, more = one_point(str(tmp_path / "again"), prepared, name, None)
    full = max(full, again)
    assert problems + more == []
    points = [full * (i + 0.5) / POINTS for i in range(POINTS)]
    for n, delay in enumerate(points):
        _, found = one_point(str(tmp_path / ("p%d" % n)), prepared, name, delay)
        problems += found
    print("\n%s: run %.0f ms, %d kill points, sweep %.1f s" % (name, full * 1000, POINTS,
                                                               time.monotonic() - began))
    assert problems == [], "\n".join(problems)
