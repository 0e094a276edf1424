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


def test_volumes_in_use_are_refused(env):
    """vol-delete, vol-wipe, vol-resize --shrink and pool-delete refuse any layer of a running
    domain's cached chain (a volume deep in the chain too), and a volume another volume is
    backed by unless --force; each refusal names the user and changes nothing."""
    from test_qemu_pools import state_files

    pools = Pools(env)
    pools.ok("pool-define-as", "p1", "dir", "--target", pools.dir("p1"))
    pools.ok("pool-start", "p1", "--build")
    pools.ok("vol-create-as", "p1", "base.qcow2", "64M", "--format", "qcow2")
    pools.ok("vol-create-as", "p1", "mid.qcow2", "64M", "--format", "qcow2", "--backing-vol", "base.qcow2")
    pools.ok("vol-create-as", "p1", "top.qcow2", "64M", "--format", "qcow2", "--backing-vol", "mid.qcow2")
    pools.ok("vol-create-as", "p1", "spare.raw", "1M")
    volume_domain(env, "vm1", "p1", "top.qcow2", "qcow2")
    env.ok("start", "vm1")
    pools.ok("pool-destroy", "p1")
    assert pools.fails("pool-delete", "p1") == (
        "error: Failed to delete pool p1\nerror: Requested operation is not valid: cannot delete pool 'p1': its "
        "directory holds an image of running domain 'vm1' (vda, layer 1 of its chain)\n")
    pools.ok("pool-start", "p1")
    before = state_files(env)
    running = "it is in use by running domain 'vm1' (%s, layer %d of its chain)"
    cases = {
        ("vol-delete", "base.qcow2", "--pool", "p1", "--force"):
            "error: Failed to delete vol base.qcow2\nerror: Requested operation is not valid: cannot delete volume "
            "'/POOLS/p1/base.qcow2': " + running % ("vda[3]", 3) + "\n",
        ("vol-wipe", "mid.qcow2", "--pool", "p1"):
            "error: Failed to wipe vol mid.qcow2\nerror: Requested operation is not valid: cannot wipe volume "
            "'/POOLS/p1/mid.qcow2': " + running % ("vda[2]", 2) + "\n",
        ("vol-resize", "top.qcow2", "32M", "--pool", "p1", "--shrink"):
            "error: Failed to change size of volume 'top.qcow2' to 32M\nerror: Requested operation is not valid: "
            "cannot shrink volume '/POOLS/p1/top.qcow2': " + running % ("vda", 1) + "\n",
        ("vol-delete", os.path.join(pools.dir("p1"), "top.qcow2")):
            "error: Failed to delete vol /POOLS/p1/top.qcow2\nerror: Requested operation is not valid: cannot "
            "delete volume '/POOLS/p1/top.qcow2': " + running % ("vda", 1) + "\n",
    }
    for args, expected in cases.items():
        assert pools.fails(*args) == expected, args
    assert state_files(env) == before
    # an unrelated volume goes as usual
    assert pools.ok("vol-delete", "spare.raw", "--pool", "p1") == "Vol spare.raw deleted\n\n"
    env.ok("destroy", "vm1")
    # shut off: a backing file of another volume needs --force
    before = state_files(env)
    assert pools.fails("vol-delete", "base.qcow2", "--pool", "p1") == (
        "error: Failed to delete vol base.qcow2\nerror: Requested operation is not valid: cannot delete volume "
        "'/POOLS/p1/base.qcow2': it is the backing file of volume 'mid.qcow2' in pool 'p1' (--force to delete it "
        "anyway)\n")
    assert pools.fails("vol-resize", "mid.qcow2", "1M", "--pool", "p1", "--shrink") == (
        "error: Failed to change size of volume 'mid.qcow2' to 1M\nerror: Requested operation is not valid: cannot "
        "shrink volume '/POOLS/p1/mid.qcow2': it is the backing file of volume 'top.qcow2' in pool 'p1' (--force "
        "to shrink it anyway)\n")
    assert state_files(env) == before
    assert pools.ok("vol-resize", "mid.qcow2", "128M", "--pool", "p1") == \
        "Size of volume 'mid.qcow2' successfully changed to 128M\n\n"
    assert pools.ok("vol-delete", "top.qcow2", "--pool", "p1") == "Vol top.qcow2 deleted\n\n"
    assert pools.ok("vol-wipe", "base.qcow2", "--pool", "p1", "--force") == "Vol base.qcow2 wiped\n\n"
    assert pools.ok("vol-delete", "base.qcow2", "--pool", "p1", "--force") == "Vol base.qcow2 deleted\n\n"
    assert sorted(os.listdir(pools.dir("p1"))) == ["mid.qcow2"]


def test_undefine_removes_the_storage_pools_hold(env):
    """undefine --remove-all-storage / --storage on the QEMU driver: each disk's image that a
    pool holds (by path, or a volume disk's pool and volume) is removed after the undefine,
    with --wipe-storage zeroed first; an image no pool holds is reported and kept. The words
    are virsh's (compared byte for byte on test:///default in test_domain_storage_removal)."""
    pools = Pools(env)
    pools.ok("pool-define-as", "p1", "dir", "--target", pools.dir("p1"))
    pools.ok("pool-start", "p1", "--build")
    for name in ("a.qcow2", "b.qcow2", "c.raw"):
        pools.ok("vol-create-as", "p1", name, "4M", "--format", "qcow2" if name.endswith("qcow2") else "raw")
    outside = os.path.join(env.base, "outside.raw")
    with open(outside, "wb") as f:
        f.truncate(MiB)
    a, c = os.path.join(pools.dir("p1"), "a.qcow2"), os.path.join(pools.dir("p1"), "c.raw")
    assert qemu_io(c, "write -P 0x77 0 64k", fmt="raw").returncode == 0
    xml = ("<domain type='kvm'><name>vm3</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices>"
           "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
           "<target dev='vda' bus='virtio'/></disk>"
           "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
           "<source pool='p1' volume='b.qcow2'/><target dev='vdb' bus='virtio'/></disk>"
           "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
           "<target dev='vdc' bus='virtio'/></disk>"
           "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
           "<target dev='vdd' bus='virtio'/></disk></devices></domain>" % (a, c, outside))
    path = os.path.join(env.base, "vm3.xml")
    with open(path, "w") as f:
        f.write(xml)
    env.ok("define", path)
    # a word naming no disk stops it before anything changes
    proc = env.run("undefine", "vm3", "--storage", "vda,nosuch")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "\n", "error: Volume 'nosuch' was not found in domain's definition.\n\n")
    assert os.path.exists(a) and "vm3" in env.ok("list", "--all", "--name")
    proc = env.run("undefine", "vm3", "--remove-all-storage", "--wipe-storage")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "Domain 'vm3' has been undefined\n"
        "Wiping volume 'vda'(%s) ... Done.\nVolume 'vda'(%s) removed.\n"
        "Wiping volume 'vdb'(b.qcow2) ... Done.\nVolume 'vdb'(b.qcow2) removed.\n"
        "Wiping volume 'vdc'(%s) ... Done.\nVolume 'vdc'(%s) removed.\n\n" % (a, a, c, c))
    assert proc.stderr == ("error: Storage volume 'vdd'(%s) is not managed by libvirt. Remove it manually.\n\n"
                           % outside)
    assert os.listdir(pools.dir("p1")) == []
    assert " Name   Path\n" in pools.ok("vol-list", "p1") and "qcow2" not in pools.ok("vol-list", "p1")
    assert os.path.exists(outside)
    assert "vm3" not in env.ok("list", "--all", "--name")
