"""`logical` pools: what a machine without device-mapper allows.

The CI machine's kernel has no device-mapper (no 'device-mapper' in /proc/misc;
`dmsetup version` ends in "/dev/mapper/control: open failed: No such device"), so no
logical volume can be activated and the QEMU driver refuses logical pools with one
`unsupported configuration:` line. What can be tested is tested for real: lvm2's own
tools, run on a loop device in metadata-only mode (`--driverloaded n`), with the
command lines of drivers/storage/poollogical.py, and what they print read back.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from pyvirsh.drivers.api import DriverError
from pyvirsh.drivers.storage import poollogical as lvm

# Recorded on this machine (lvm2 2.03.16, activation impossible): a 60 MiB group with
# two volumes of 8 MiB and 12 MiB in 4 MiB extents.
RECORDED_VGS = "  62914560:41943040\n"
RECORDED_LVS = (
    "  lv1##yER71c-0fxd-vWWv-KIZO-vWuy-m3R0-vin1bl#/dev/loop0(0)#linear#1#8388608#4194304#8388608#-wi-XX----\n"
    "  lv2##wYoc1t-vL2H-0c3k-xURp-K3wU-jrnf-Oe4Ylw#/dev/loop0(2)#linear#1#12582912#4194304#12582912#-wi-XX----\n")


def test_recorded_vgs_and_lvs_output_read_as_libvirt_reads_it():
    assert lvm.parse_vgs(RECORDED_VGS) == (62914560, 41943040)
    vols = lvm.parse_lvs(RECORDED_LVS, "vg")
    assert [(v.name, v.key, v.path, v.capacity, v.allocation, v.origin, v.extents, v.active) for v in vols] == [
        ("lv1", "yER71c-0fxd-vWWv-KIZO-vWuy-m3R0-vin1bl", "/dev/vg/lv1", 8388608, 8388608, None,
         [("/dev/loop0", 0)], False),
        ("lv2", "wYoc1t-vL2H-0c3k-xURp-K3wU-jrnf-Oe4Ylw", "/dev/vg/lv2", 12582912, 12582912, None,
         [("/dev/loop0", 2)], False)]
    # a volume of two segments (one line each), a snapshot's origin, a thin pool and a hidden part
    text = ("  big##U1#/dev/sdb(0)#linear#1#4194304#4194304#8388608#-wi-a-----\n"
            "  big##U1#/dev/sdc(5)#linear#1#4194304#4194304#8388608#-wi-a-----\n"
            "  snap#big#U2#/dev/sdb(1)#linear#1#4194304#4194304#8388608#swi-a-s---\n"
            "  tp##U3#tp_tdata(0)#thin-pool#1#4194304#4194304#4194304#twi-a-tz--\n"
            "  [lvol0_pmspare]##U4#/dev/sdb(9)#linear#1#4194304#4194304#4194304#ewi-------\n")
    vols = lvm.parse_lvs(text, "vg")
    assert [(v.name, v.allocation, v.capacity, v.origin, v.extents, v.active) for v in vols] == [
        ("big", 8388608, 8388608, None, [("/dev/sdb", 0), ("/dev/sdc", 5)], True),
        ("snap", 4194304, 8388608, "big", [("/dev/sdb", 1)], True)]
    for bad in ("  x#y\n", "  a##U#/dev/sdb(0)#linear#one#1#1#1#-wi-a-----\n",
                "  a##U#/dev/sdb[0]#linear#1#1#1#1#-wi-a-----\n"):
        with pytest.raises(DriverError):
            lvm.parse_lvs(bad, "vg")
    for bad in ("", "1:2\n3:4\n", "  1:x\n", "  1:2:3\n"):
        with pytest.raises(DriverError):
            lvm.parse_vgs(bad)


def test_command_lines_are_libvirts():
    assert lvm.vgs_argv("vg") == ["vgs", "--separator", ":", "--noheadings", "--units", "b", "--unbuffered",
                                  "--nosuffix", "--options", "vg_size,vg_free", "vg"]
    assert lvm.lvs_argv("vg")[:3] == ["lvs", "--separator", "#"]
    assert lvm.lvs_argv("vg")[-2:] == [",".join(lvm.LVS_FIELDS), "vg"]
    assert lvm.build_argvs("vg", ["/dev/a", "/dev/b"]) == [["pvcreate", "/dev/a"], ["pvcreate", "/dev/b"],
                                                           ["vgcreate", "vg", "/dev/a", "/dev/b"]]
    assert lvm.create_volume_argv("vg", "v", 1025) == ["lvcreate", "--name", "v", "-L", "2K", "vg"]
    assert lvm.create_volume_argv("vg", "v", 1 << 30, 1 << 20) == \
        ["lvcreate", "--name", "v", "-L", "1024K", "--virtualsize", "1048576K", "vg"]
    assert lvm.delete_volume_argv("vg", "v") == ["lvremove", "-f", "vg/v"]
    assert lvm.delete_argvs("vg", ["/dev/a"]) == [["vgremove", "-f", "vg"], ["pvremove", "/dev/a"]]
    assert (lvm.start_argv("vg"), lvm.stop_argv("vg")) == (["vgchange", "-aay", "vg"], ["vgchange", "-aan", "vg"])
    with pytest.raises(DriverError, match="cannot contain '/'"):
        lvm.create_volume_argv("vg", "a/b", 1)
    with pytest.raises(DriverError, match="missing source device"):
        lvm.build_argvs("vg", [])


def test_device_mapper_is_read_from_proc_misc(tmp_path):
    with open("/proc/misc") as f:
        has_dm = "device-mapper" in f.read().split()
    assert (lvm.device_mapper_missing() is None) == has_dm
    misc = tmp_path / "misc"
    misc.write_text("237 loop-control\n236 device-mapper\n")
    assert lvm.device_mapper_missing(str(misc)) is None
    misc.write_text("237 loop-control\n")
    assert "no device-mapper" in lvm.device_mapper_missing(str(misc))
    assert "cannot read" in lvm.device_mapper_missing(str(tmp_path / "none"))


def _lvm(argv: list[str]) -> subprocess.CompletedProcess:
    """An lvm2 command in metadata-only mode: the group's metadata on the device, nothing activated."""
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
    return subprocess.run([argv[0], "--driverloaded", "n"] + argv[1:], capture_output=True, text=True, env=env)


def test_real_lvm_on_a_loop_device(tmp_path):
    """pool-build's, vol-create-as's, pool-refresh's and vol-delete's command lines run by the
    real lvm2 on a loop device; what vgs and lvs print is read back."""
    if os.geteuid() != 0 or not shutil.which("losetup") or not shutil.which("vgcreate"):
        pytest.skip("needs root, losetup and lvm2")
    image = tmp_path / "pv.img"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    made = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip("no loop device: " + made.stderr.strip())
    loop = made.stdout.strip()
    vg = "pyvirshtest%d" % os.getpid()
    try:
        for argv in lvm.build_argvs(vg, [loop]):
            done = _lvm(argv)
            assert done.returncode == 0, (argv, done.stderr)
        capacity, free = lvm.parse_vgs(_lvm(lvm.vgs_argv(vg)).stdout)
        assert capacity == free and 56 << 20 <= capacity < 64 << 20
        # 8 KiB asked for: lvm2 rounds up to one extent (4 MiB), as libvirt then reports
        for name, size in (("a", 8192), ("b", 12 << 20)):
            done = _lvm(lvm.create_volume_argv(vg, name, size))
            assert done.returncode == 0, done.stderr
        vols = lvm.parse_lvs(_lvm(lvm.lvs_argv(vg)).stdout, vg)
        assert [(v.name, v.path, v.capacity, v.allocation, v.extents, v.active) for v in vols] == [
            ("a", "/dev/%s/a" % vg, 4 << 20, 4 << 20, [(loop, 0)], False),
            ("b", "/dev/%s/b" % vg, 12 << 20, 12 << 20, [(loop, 1)], False)]
        assert len({v.key for v in vols}) == 2 and all(len(v.key) == 38 for v in vols)
        assert lvm.parse_vgs(_lvm(lvm.vgs_argv(vg)).stdout) == (capacity, capacity - (16 << 20))
        # activation is what a kernel without device-mapper cannot do: the start fails here
        if lvm.device_mapper_missing() is not None:
            started = subprocess.run(lvm.start_argv(vg), capture_output=True, text=True,
                                     env=dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1"))
            assert started.returncode != 0 and "device-mapper" in started.stderr
            assert not os.path.exists("/dev/%s/a" % vg)
        assert _lvm(lvm.delete_volume_argv(vg, "a")).returncode == 0
        assert [v.name for v in lvm.parse_lvs(_lvm(lvm.lvs_argv(vg)).stdout, vg)] == ["b"]
    finally:
        for argv in lvm.delete_argvs(vg, [loop]):
            _lvm(argv)
        subprocess.run(["losetup", "--detach", loop])
    assert _lvm(["vgs", vg]).returncode != 0


def test_logical_pools_are_refused_in_one_line(env):
    """Without a logical backend the QEMU driver refuses the type by name, before any change."""
    for args in (["pool-define-as", "lv", "logical", "--source-dev", "/dev/loop7"],
                 ["pool-create-as", "lv", "logical", "--source-dev", "/dev/loop7", "--build"]):
        proc = env.run(*args)
        assert (proc.returncode, proc.stdout) == (1, "\n"), args
        assert proc.stderr.splitlines()[1:] == [
            ("error: unsupported configuration: storage pool type 'logical' is not supported by pyvirsh "
            "(supported: dir, fs)")], proc.stderr
    assert env.ok("pool-list", "--all", "--name") == "\n"
