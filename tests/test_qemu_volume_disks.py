"""<disk type='volume'> on real QEMU: the pool and volume resolve at start, the chain is
probed and cached like a file disk's, and the guest sees the volume's data."""

from __future__ import annotations

import os

from qemuhelp import MiB, chain_from_xml, qemu_io
from test_qemu_pools import Pools


def volume_domain(env, name: str, pool: str, volume: str, fmt: str) -> str:
    xml = ("<domain type='kvm'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64'>hvm</type></os><devices><disk type='volume' device='disk'>"
           "<driver name='qemu' type='%s'/><source pool='%s' volume='%s'/><target dev='vda' bus='virtio'/>"
           "</disk></devices></domain>" % (name, fmt, pool, volume))
    path = os.path.join(env.base, name + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    env.ok("define", path)
    return path


def test_volume_disk_starts_with_its_chain(env):
    pools = Pools(env)
    pools.ok("pool-define-as", "p1", "dir", "--target", pools.dir("p1"))
    pools.ok("pool-build", "p1")
    pools.ok("pool-start", "p1")
    pools.ok("vol-create-as", "p1", "base.qcow2", "64M", "--format", "qcow2")
    base = os.path.join(pools.dir("p1"), "base.qcow2")
    assert qemu_io(base, "write -P 0x5a 0 1M").returncode == 0
    pools.ok("vol-create-as", "p1", "top.qcow2", "64M", "--format", "qcow2", "--backing-vol", "base.qcow2",
             "--backing-vol-format", "qcow2")
    top = os.path.join(pools.dir("p1"), "top.qcow2")
    volume_domain(env, "vm1", "p1", "top.qcow2", "qcow2")
    assert env.ok("domblklist", "vm1") == (" Target   Source\n---------------------\n vda      top.qcow2\n\n")
    # an inactive pool without autostart: libvirt's refusal, and nothing runs
    pools.ok("pool-destroy", "p1")
    proc = env.run("start", "vm1")
    assert (proc.returncode, proc.stderr) == (1, (
        "error: Failed to start domain 'vm1'\nerror: Requested operation is not valid: storage pool 'p1' "
        "containing volume 'top.qcow2' referenced by disk 'vda' is not active\n"))
    assert env.qemu_pids() == []
    # autostart without a daemon: the start starts the pool first
    pools.ok("pool-autostart", "p1")
    assert env.ok("start", "vm1") == "Domain 'vm1' started\n\n"
    assert pools.ok("pool-list", "--name") == "p1                  \n\n"
    live = env.ok("dumpxml", "vm1")
    assert [p for p, _ in chain_from_xml(live)] == [top, base]
    assert "<source pool='p1' volume='top.qcow2'/>" in env.ok("dumpxml", "vm1", "--inactive")
    assert env.ok("domblkinfo", "vm1", "vda", "--human").splitlines()[0] == "Capacity:       64.000 MiB"
    env.ok("destroy", "vm1")
    assert env.qemu_pids() == []
    # the volume's chain still reads the base's data
    proc = qemu_io(top, "read -P 0x5a 0 1M", readonly=True)
    assert proc.returncode == 0 and "Pattern verification failed" not in proc.stdout, proc.stdout
    # an unknown volume: libvirt's not-found error
    volume_domain(env, "vm2", "p1", "nosuch", "qcow2")
    proc = env.run("start", "vm2")
    assert (proc.returncode, proc.stderr) == (1, (
        "error: Failed to start domain 'vm2'\n"
        "error: Storage volume not found: no storage vol with matching name 'nosuch'\n"))
    assert os.path.getsize(top) < MiB
