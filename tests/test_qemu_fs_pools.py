"""`fs` pools on the QEMU driver: an ext4 file system made by pool-build in an image file,
mounted on the target while the pool runs (root only, as in libvirt).

Expected texts were recorded from virsh 9.0 + libvirtd 9.0 running the same commands
(see test_qemu_pools.py for the masking)."""

from __future__ import annotations

import os
import subprocess

import pytest

from qemuhelp import qemu_io
from test_qemu_pools import Pools

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="fs pools mount file systems: root only")


def mounted(path: str) -> bool:
    return subprocess.run(["mountpoint", "-q", path], check=False).returncode == 0


@pytest.fixture
def fs_pool(env):
    pools = Pools(env)
    image = os.path.join(pools.base, "fs.img")
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    target = pools.dir("mnt")
    try:
        yield pools, image, target
    finally:
        if mounted(target):
            subprocess.run(["umount", target], check=False)


def test_fs_pool_lifecycle(fs_pool):
    pools, image, target = fs_pool
    assert pools.fails("pool-define-as", "f0", "fs", "--target", target) == (
        "error: Failed to define pool f0\nerror: XML error: missing storage pool source device name\n")
    assert pools.ok("pool-define-as", "f4", "fs", "--source-dev", image, "--source-format", "ext4", "--target",
                    target) == "Pool f4 defined\n\n"
    assert pools.ok("pool-dumpxml", "f4") == (
        "<pool type='fs'>\n  <name>f4</name>\n  <uuid>UUID</uuid>\n  <capacity unit='bytes'>N</capacity>\n"
        "  <allocation unit='bytes'>N</allocation>\n  <available unit='bytes'>N</available>\n  <source>\n"
        "    <device path='/POOLS/fs.img'/>\n    <format type='ext4'/>\n  </source>\n  <target>\n"
        "    <path>/POOLS/mnt</path>\n  </target>\n</pool>\n\n")
    assert pools.ok("pool-build", "f4", "--overwrite") == "Pool f4 built\n\n"
    assert subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", image], capture_output=True,
                          text=True, check=False).stdout.strip() == "ext4"
    assert pools.ok("pool-start", "f4") == "Pool f4 started\n\n"
    assert mounted(target)
    assert pools.ok("pool-info", "f4") == (
        "Name:           f4\nUUID:           UUID\nState:          running\nPersistent:     yes\n"
        "Autostart:      no\nCapacity:       SIZE\nAllocation:     SIZE\nAvailable:      SIZE\n\n")
    assert "Capacity:       25.24 MiB" in pools.env.ok("pool-info", "f4")
    assert pools.ok("vol-create-as", "f4", "v1.qcow2", "16M", "--format", "qcow2") == "Vol v1.qcow2 created\n\n"
    vol = os.path.join(target, "v1.qcow2")
    assert qemu_io(vol, "write -P 0x3c 0 1M").returncode == 0
    assert pools.fails("pool-build", "f4") == (
        "error: Failed to build pool f4\n"
        "error: Requested operation is not valid: storage pool 'f4' is already active\n")
    assert pools.ok("pool-destroy", "f4") == "Pool f4 destroyed\n\n"
    assert not mounted(target) and not os.path.exists(vol)
    assert pools.fails("pool-build", "f4", "--no-overwrite") == (
        "error: Failed to build pool f4\n"
        "error: Storage pool already built: Device '/POOLS/fs.img' already formatted using 'ext4'\n")
    assert pools.ok("pool-start", "f4") == "Pool f4 started\n\n"
    proc = qemu_io(vol, "read -P 0x3c 0 1M", readonly=True)
    assert proc.returncode == 0 and "Pattern verification failed" not in proc.stdout
    # lost+found is a volume too, as libvirt lists it
    assert [line.split()[:3] for line in pools.ok("vol-list", "f4", "--details").splitlines()[2:-1]] == \
        [["lost+found", "/POOLS/mnt/lost+found", "dir"], ["v1.qcow2", "/POOLS/mnt/v1.qcow2", "file"]]
    pools.ok("pool-destroy", "f4")
    assert pools.ok("pool-delete", "f4") == "Pool f4 deleted\n\n"
    assert not os.path.exists(target)
    assert pools.ok("pool-undefine", "f4") == "Pool f4 has been undefined\n\n"


def test_fs_pool_start_failure_leaves_nothing_mounted(fs_pool):
    pools, image, target = fs_pool
    pools.ok("pool-define-as", "f1", "fs", "--source-dev", image, "--target", target)
    pools.ok("pool-build", "f1")
    err = pools.fails("pool-start", "f1")
    assert err.startswith("error: Failed to start pool f1\nerror: internal error: Child process (mount -o "
                          "nodev,nosuid,noexec -t auto /POOLS/fs.img /POOLS/mnt) unexpected exit status 32: "), err
    assert not mounted(target)
    assert pools.ok("pool-list", "--inactive", "--name") == "f1                  \n\n"
