"""A cached chain that disagrees with QEMU's block graph is rebuilt from the graph (issue 17,
item 4; drivers/qemu/chainrepair.py).

The disagreement is made the way it happens to users: the running domain's status file is
rolled back (saved before a chain change, put back after it), so the cache names a top
QEMU no longer writes to. The next chain-altering command must notice, say so with one
`warning:` line on stderr, rebuild the cache from QEMU's graph and then do its own work on
the right images: the invariants hold (tests/invariants.py: QEMU has open exactly the
cached layers, the cache equals qemu-img's chain, the persistent top is the live one) and
the guest's data reads back through the persistent top.
"""

from __future__ import annotations

import os
import shutil

import pytest

from invariants import check
from qemuhelp import Env, backing_chain, chain_from_xml, qemu_img, qemu_io

NAME = "rep"
BASE = (0, 4, 0x11)
TOP = (4, 4, 0x22)
WARNING = "warning: cached backing chain of disk 'vda' disagreed with QEMU's block graph"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("repair"))
    base, top = e.path("base.qcow2"), e.path("top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "32M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    for path, (off, length, pattern) in ((base, BASE), (top, TOP)):
        assert qemu_io(path, "write -P 0x%x %dM %dM" % (pattern, off, length)).returncode == 0
    e.define(NAME, [("vda", top, "qcow2")])
    e.ok("start", NAME, "--paused")
    yield e
    e.run("destroy", NAME)
    e.cleanup()


def _rolled_back(env: Env, *command: str) -> None:
    """Run a chain-changing command, then put the status file back as it was before it."""
    status = os.path.join(env.root, "run", NAME + ".status.xml")
    saved = status + ".saved"
    shutil.copyfile(status, saved)
    env.ok(*command)
    os.replace(saved, status)


def _assert_data(env: Env) -> None:
    from lxml import etree
    top = etree.fromstring(env.ok("dumpxml", NAME, "--inactive").encode()).find("devices/disk/source").get("file")
    proc = qemu_io(top, *("read -P 0x%x %dM %dM" % (p, off, n) for off, n, p in (BASE, TOP)), readonly=True)
    assert proc.returncode == 0 and "Pattern verification failed" not in proc.stdout, proc.stdout + proc.stderr


def test_snapshot_after_rolled_back_status_goes_over_qemus_top(env):
    s1, s2 = env.path("s1.qcow2"), env.path("s2.qcow2")
    _rolled_back(env, "snapshot-create-as", NAME, "s1", "--disk-only", "--diskspec", "vda,file=%s" % s1)
    assert chain_from_xml(env.ok("dumpxml", NAME))[0][0] == env.path("top.qcow2")    # the stale cache
    proc = env.run("snapshot-create-as", NAME, "s2", "--disk-only", "--diskspec", "vda,file=%s" % s2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(WARNING) and proc.stderr.count("\n") == 1, proc.stderr
    assert check(env, NAME) == []
    want = [s2, s1, env.path("top.qcow2"), env.path("base.qcow2")]
    assert [path for path, _ in chain_from_xml(env.ok("dumpxml", NAME))] == want
    assert [layer["filename"] for layer in backing_chain(s2)] == want
    # repaired once: the next command has nothing to say
    assert env.run("blockpull", NAME, "vda", "--base", "vda[1]", "--wait").stderr == ""
    _assert_data(env)


def test_commit_after_rolled_back_status_commits_what_qemu_has(env):
    s3 = env.path("s3.qcow2")
    _rolled_back(env, "snapshot-create-as", NAME, "s3", "--disk-only", "--diskspec", "vda,file=%s" % s3)
    proc = env.run("blockcommit", NAME, "vda", "--active", "--pivot", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(WARNING), proc.stderr
    assert check(env, NAME) == []
    assert [path for path, _ in chain_from_xml(env.ok("dumpxml", NAME))] == [env.path("base.qcow2")]
    _assert_data(env)


def test_qcow2_data_file_is_given_to_qemu_and_cached(env):
    """A qcow2 with an external data file (qemu-img create -o data_file=..., a relative name):
    the probe resolves it against the image's directory, QEMU gets it as a node of its own
    (QEMU 7.2 would resolve the name against its CWD, '/'), the cache keeps it as libvirt's
    <dataStore> through a snapshot and an active commit, and QEMU has open exactly that."""
    import subprocess
    name, top, data = "df", env.path("df.qcow2"), env.path("df.data")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=df.data", top, "16M"], check=True,
                   cwd=env.images)

    def qemu_io_here(*commands: str) -> str:
        argv = ["qemu-io", "-f", "qcow2"] + [a for c in commands for a in ("-c", c)] + [top]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=env.images)   # 7.2: data_file by CWD
        assert proc.returncode == 0 and "verification failed" not in proc.stdout, proc.stdout + proc.stderr
        return proc.stdout

    qemu_io_here("write -P 0x5a 1M 2M")
    assert os.path.getsize(data) >= 3 << 20         # the data went to the data file
    env.define(name, [("vda", top, "qcow2")])
    env.ok("start", name, "--paused")
    try:
        live = env.ok("dumpxml", name)
        assert ("<source file='%s' index='1'>\n        <dataStore type='file'>\n          <format type='raw'/>\n"
                "          <source file='%s'/>\n        </dataStore>\n      </source>" % (top, data)) in live, live
        assert "dataStore" not in env.ok("dumpxml", name, "--inactive")
        assert check(env, name) == []
        snap = env.path("df-s1.qcow2")
        env.ok("snapshot-create-as", name, "s1", "--disk-only", "--diskspec", "vda,file=%s" % snap)
        live = env.ok("dumpxml", name)
        assert live.count("<dataStore") == 1 and "<backingStore type='file' index='1'>" in live, live
        assert check(env, name) == []
        env.ok("blockcommit", name, "vda", "--active", "--pivot", "--wait")
        live = env.ok("dumpxml", name)
        assert chain_from_xml(live) == [(top, "qcow2")] and live.count("<dataStore") == 1, live
        assert check(env, name) == []
    finally:
        env.run("destroy", name)
    qemu_io_here("read -P 0x5a 1M 2M", "read -P 0 0 1M")
