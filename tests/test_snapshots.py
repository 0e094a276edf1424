"""External and internal snapshots on real QEMU: create, list, delete and revert in
every topology, running and shut off, with the guest's data checked at each step.

The guest writes a different pattern after each snapshot (through QEMU's own
block layer, with HMP qemu-io on the disk's device), so each snapshot has its
own visible data and a wrong merge or revert shows up as a wrong pattern.
"""

from __future__ import annotations

import os

import pytest

from invariants import check_after_every_step
from qemuhelp import assert_cache_matches_disk, chain_from_xml, make_chain, qemu_img, qemu_io


def qmp_command(env, name, command, arguments=None):
    from pyvirsh.drivers.qemu.qmp import QMP
    with QMP(os.path.join(env.root, "run", name, "qmp.sock")) as q:
        return q.execute(command, arguments)


def guest_write(env, name, pattern: int, offset_mib: int) -> None:
    """A write by the guest: into whatever image is active for the disk right now."""
    cmd = 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x%x %dM 1M"' % (pattern, offset_mib)
    qmp_command(env, name, "human-monitor-command", {"command-line": cmd})
    flush = 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "flush"'
    qmp_command(env, name, "human-monitor-command", {"command-line": flush})


def top_image(env, name) -> str:
    return chain_from_xml(env.ok("dumpxml", name))[0][0]


def assert_view(env, name, view: dict[int, int]) -> None:
    """The guest-visible data: pattern per MiB offset (0 = never written)."""
    image = top_image(env, name)
    commands = ["read -P 0x%x %dM 1M" % (pattern, offset) for offset, pattern in sorted(view.items())]
    proc = qemu_io(image, *commands, readonly=True)
    assert proc.returncode == 0, proc.stderr
    assert "Pattern verification failed" not in proc.stdout, (image, view, proc.stdout)
    if env.run("domstate", name).stdout.startswith("running"):
        assert_cache_matches_disk(env.ok("dumpxml", name))


@pytest.fixture(autouse=True)
def checked(env):
    """The invariant check after every chain-altering command (tests/invariants.py)."""
    check_after_every_step(env)


@pytest.fixture
def vm(env):
    (base,) = make_chain(env, ["base.qcow2"])
    proc = qemu_io(base, "write -P 0x11 0 1M")
    assert proc.returncode == 0
    env.define("vm", [("vda", base, "qcow2")])
    return base


def test_external_snapshot_lifecycle_running(env, vm):
    env.ok("start", "vm", "--paused")
    view = {0: 0x11, 1: 0, 2: 0, 3: 0}
    # Three disk-only snapshots in a row, the guest writing after each.
    for k, name in enumerate(["s1", "s2", "s3"], start=1):
        assert env.ok("snapshot-create-as", "vm", name, "--disk-only") == "Domain snapshot %s created\n" % name
        guest_write(env, "vm", 0x20 + k, k)
        view[k] = 0x20 + k
    assert_view(env, "vm", view)
    assert env.ok("snapshot-list", "vm", "--tree") == "s1\n  |\n  +- s2\n      |\n      +- s3\n        \n\n"
    info = env.ok("snapshot-info", "vm", "s2")
    assert "State:          disk-snapshot" in info and "Location:       external" in info
    assert top_image(env, "vm") == env.path("base.s3")
    # Delete the middle one: its image merges with the next, nothing visible changes.
    assert env.ok("snapshot-delete", "vm", "s2") == "Domain snapshot s2 deleted\n\n"
    assert not os.path.exists(env.path("base.s2"))
    assert_view(env, "vm", view)
    assert env.ok("snapshot-list", "vm", "--parent", "--name") == "s1\ns3\n\n"
    # Revert to the first: the state at s1 (nothing written yet), domain shut off.
    assert env.ok("snapshot-revert", "vm", "s1") == "Domain snapshot s1 reverted\n\n"
    assert env.ok("domstate", "vm", "--reason") == "shut off (from snapshot)\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0, 2: 0, 3: 0})
    # A branch from s1.
    env.ok("start", "vm", "--paused")
    guest_write(env, "vm", 0x55, 2)
    env.ok("snapshot-create-as", "vm", "b1", "--disk-only")
    guest_write(env, "vm", 0x66, 3)
    assert env.ok("snapshot-list", "vm", "--tree") == \
        "s1\n  |\n  +- b1\n  +- s3\n    \n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0, 2: 0x55, 3: 0x66})
    # Revert across branches, running: s3 had 0x21, 0x22, 0x23 written before it was taken... and s3's state.
    env.ok("snapshot-revert", "vm", "s3", "--running")
    assert env.ok("domstate", "vm", "--reason") == "running (from snapshot)\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    # Delete a leaf (b1) and a non-leaf (s1, parent of s3): data stays.
    assert env.ok("snapshot-delete", "vm", "b1") == "Domain snapshot b1 deleted\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    assert env.ok("snapshot-delete", "vm", "s1") == "Domain snapshot s1 deleted\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    assert env.ok("snapshot-list", "vm", "--name") == "s3\n\n"
    # The current state can still be written and reverted away from.
    guest_write(env, "vm", 0x77, 3)
    env.ok("snapshot-revert", "vm", "s3", "--paused")
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    env.ok("snapshot-delete", "vm", "s3")
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    # Nothing pyvirsh made is left behind but the active chain.
    active = {os.path.basename(p) for p, _ in chain_from_xml(env.ok("dumpxml", "vm"))}
    env.ok("destroy", "vm")
    assert set(os.listdir(env.images)) == active


def test_external_snapshots_shut_off(env, vm):
    env.ok("snapshot-create-as", "vm", "o1", "--disk-only")
    assert env.ok("snapshot-list", "vm", "--name", "--inactive") == "o1\n\n"
    assert top_image(env, "vm") == env.path("base.o1")
    proc = qemu_io(env.path("base.o1"), "write -P 0x31 1M 1M")
    assert proc.returncode == 0
    env.ok("snapshot-create-as", "vm", "o2", "--disk-only")
    proc = qemu_io(env.path("base.o2"), "write -P 0x32 2M 1M")
    assert proc.returncode == 0
    assert_view(env, "vm", {0: 0x11, 1: 0x31, 2: 0x32})
    env.ok("snapshot-delete", "vm", "o1")
    assert_view(env, "vm", {0: 0x11, 1: 0x31, 2: 0x32})
    env.ok("snapshot-revert", "vm", "o2")
    assert_view(env, "vm", {0: 0x11, 1: 0x31, 2: 0})
    env.ok("start", "vm")
    assert_view(env, "vm", {0: 0x11, 1: 0x31, 2: 0})
    env.ok("snapshot-delete", "vm", "o2")
    assert_view(env, "vm", {0: 0x11, 1: 0x31, 2: 0})
    env.ok("destroy", "vm")


def test_delete_children_and_metadata_only(env, vm):
    env.ok("start", "vm", "--paused")
    for name in ("a", "b", "c"):
        env.ok("snapshot-create-as", "vm", name, "--disk-only")
    guest_write(env, "vm", 0x42, 1)
    assert env.ok("snapshot-delete", "vm", "a", "--children-only") == "Domain snapshot a children deleted\n\n"
    assert env.ok("snapshot-list", "vm", "--name") == "a\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x42})
    assert env.ok("snapshot-delete", "vm", "a", "--metadata") == "Domain snapshot a deleted\n\n"
    assert env.ok("snapshot-list", "vm", "--name") == "\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x42})
    env.ok("destroy", "vm")


def test_internal_snapshots(env, vm):
    env.ok("start", "vm", "--paused")
    out = env.ok("snapshot-create-as", "vm", "i1")
    assert out == "Domain snapshot i1 created\n"
    info = env.ok("snapshot-info", "vm", "i1")
    assert "State:          paused" in info and "Location:       internal" in info
    guest_write(env, "vm", 0x99, 1)
    env.ok("snapshot-revert", "vm", "i1")
    assert env.ok("domstate", "vm", "--reason") == "paused (from snapshot)\n\n"
    env.ok("destroy", "vm")
    assert_view(env, "vm", {0: 0x11, 1: 0})
    assert "i1" in qemu_img("snapshot", "-l", vm)
    env.ok("snapshot-delete", "vm", "i1")
    assert "i1" not in qemu_img("snapshot", "-l", vm)
    # Shut off: an internal disk snapshot with qemu-img.
    env.ok("snapshot-create-as", "vm", "i2")
    assert "State:          shutoff" in env.ok("snapshot-info", "vm", "i2")
    qemu_io(vm, "write -P 0x33 1M 1M")
    env.ok("snapshot-revert", "vm", "i2")
    assert_view(env, "vm", {0: 0x11, 1: 0})


def test_two_disks_atomic_failure_changes_nothing(env):
    a, b = env.path("a.qcow2"), env.path("b.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", a, "16M")
    qemu_img("create", "-q", "-f", "qcow2", b, "16M")
    env.define("two", [("vda", a, "qcow2"), ("vdb", b, "qcow2")])
    env.ok("start", "two", "--paused")
    before = env.ok("domblklist", "two")
    missing = os.path.join(env.base, "no-such-dir", "b.snap")
    result = env.run("snapshot-create-as", "two", "bad", "--disk-only", "--atomic",
                     "--diskspec", "vda,file=%s" % env.path("a.snap"), "--diskspec", "vdb,file=%s" % missing)
    assert result.returncode == 1 and result.stderr.startswith("error: ")
    assert env.ok("domblklist", "two") == before
    assert not os.path.exists(env.path("a.snap"))
    assert env.ok("snapshot-list", "two", "--name") == "\n"
    # And the same snapshot succeeds once the path is fine: both disks switch together.
    env.ok("snapshot-create-as", "two", "good", "--disk-only", "--atomic")
    listed = env.ok("domblklist", "two")
    assert env.path("a.good") in listed and env.path("b.good") in listed
    assert_cache_matches_disk(env.ok("dumpxml", "two"), "vdb")
    env.ok("destroy", "two")


def test_snapshot_messages(env, vm):
    env.ok("start", "vm", "--paused")
    result = env.run("snapshot-create-as", "vm", "q", "--disk-only", "--quiesce")
    # libvirt 9.0 (run for real): the agent is asked for only when the guest runs
    assert result.stderr == "error: Requested operation is not valid: domain is not running\n"
    env.ok("snapshot-create-as", "vm", "s1", "--disk-only")
    result = env.run("snapshot-create-as", "vm", "s1", "--disk-only")
    assert result.stderr == "error: operation failed: domain moment s1 already exists\n"
    result = env.run("snapshot-create-as", "vm", "s2", "--disk-only", "--diskspec",
                     "vda,file=%s" % env.path("base.s1"))
    assert result.stderr == ("error: Requested operation is not valid: external snapshot file for disk vda "
                             "already exists and is not a block device: %s\n" % env.path("base.s1"))
    env.ok("destroy", "vm")
    result = env.run("undefine", "vm")
    assert result.stderr == ("error: Failed to undefine domain 'vm'\n"
                             "error: Requested operation is not valid: cannot delete inactive domain with "
                             "1 snapshots\n")
    assert env.ok("undefine", "vm", "--snapshots-metadata") == "Domain 'vm' has been undefined\n\n"


def _config_chain_is_whole(env, name) -> None:
    """Every image the persistent definition's disk needs is there (qemu-img walks it all)."""
    top = env.ok("domblklist", name, "--inactive").split()[-1]
    proc = qemu_io(top, "read 0 512", readonly=True)
    assert proc.returncode == 0 and "Could not open" not in proc.stderr, proc.stderr


def test_revert_after_blockcopy_pivot_and_a_merged_delete(env):
    """Issue 10: blockcopy --pivot, snapshot s3, snapshot-delete s2, snapshot-revert s1. The
    images of s1 and s2 are off the live chain after the pivot; deleting s2 merges and removes
    b2.s1, the name s1's revert overlay takes. The revert must leave a definition whose every
    image exists; one that cannot succeed must fail before it stops the domain."""
    b1, b2 = make_chain(env, ["b1.qcow2", "b2.qcow2"])
    assert qemu_io(b1, "write -P 0x11 0 1M").returncode == 0
    env.define("vm", [("vda", b2, "qcow2")])
    env.ok("start", "vm", "--paused")
    env.ok("snapshot-create-as", "vm", "s1", "--disk-only")
    guest_write(env, "vm", 0x21, 1)
    env.ok("snapshot-create-as", "vm", "s2", "--disk-only")
    guest_write(env, "vm", 0x22, 2)
    copy = env.path("copy.qcow2")
    assert env.ok("blockcopy", "vm", "vda", copy, "--wait", "--pivot").startswith("\nSuccessfully pivoted")
    env.ok("snapshot-create-as", "vm", "s3", "--disk-only")
    guest_write(env, "vm", 0x23, 3)
    assert env.ok("snapshot-delete", "vm", "s2") == "Domain snapshot s2 deleted\n\n"
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0x23})
    # A layer below s1's image goes missing (s1's chain is not QEMU's any more): the revert
    # fails with libvirt's words before anything changes; the guest runs on.
    before = (env.ok("domblklist", "vm"), env.ok("domblklist", "vm", "--inactive"),
              sorted(os.listdir(env.images)))
    os.rename(b1, b1 + ".away")
    r = env.run("snapshot-revert", "vm", "s1")
    assert (r.returncode, r.stderr) == (1, "error: Failed to revert snapshot s1\nerror: Cannot access backing file "
                                           "'%s' of storage file '%s' (as uid:%d, gid:%d): No such file or directory\n"
                                        % (b1, b2, os.getuid(), os.getgid()))
    os.rename(b1 + ".away", b1)
    assert env.ok("domstate", "vm").strip() == "paused"
    assert (env.ok("domblklist", "vm"), env.ok("domblklist", "vm", "--inactive"),
            sorted(os.listdir(env.images))) == before
    # With the chain whole, the revert goes through; the definition names images that exist.
    assert env.ok("snapshot-revert", "vm", "s1") == "Domain snapshot s1 reverted\n\n"
    _config_chain_is_whole(env, "vm")
    assert_view(env, "vm", {0: 0x11, 1: 0, 2: 0, 3: 0})
    env.ok("start", "vm", "--paused")
    assert_view(env, "vm", {0: 0x11, 1: 0, 2: 0, 3: 0})
    env.ok("snapshot-revert", "vm", "s3", "--running")
    _config_chain_is_whole(env, "vm")
    assert_view(env, "vm", {0: 0x11, 1: 0x21, 2: 0x22, 3: 0})
    env.ok("snapshot-revert", "vm", "s1")
    _config_chain_is_whole(env, "vm")
    assert_view(env, "vm", {0: 0x11, 1: 0, 2: 0, 3: 0})
