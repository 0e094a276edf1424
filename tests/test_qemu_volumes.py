"""Volumes of `dir` pools on the QEMU driver: real files, real qemu-img images, data
checked with qemu-io patterns.

Expected texts were recorded from virsh 9.0 + libvirtd 9.0 running the same
commands (see test_qemu_pools.py for the masking of UUIDs, sizes and paths).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from qemuhelp import qemu_img, qemu_io
from test_qemu_pools import Pools, masked, state_files
from test_read_views import PROBE
from test_storage_probe import drop_backing_format

MiB = 1 << 20


@pytest.fixture
def pool(env):
    pools = Pools(env)
    pools.ok("pool-create-as", "p1", "dir", "--target", pools.dir("p1"), "--build")
    return pools


def vpath(pools, name: str, pool_name: str = "p1") -> str:
    return os.path.join(pools.dir(pool_name), name)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def info(path: str) -> dict:
    return json.loads(qemu_img("info", "-U", "--output=json", path))


def pattern(path: str, fmt: str, *commands: str) -> None:
    proc = qemu_io(path, *commands, fmt=fmt)
    assert proc.returncode == 0 and "failed" not in proc.stdout.lower() and "error" not in proc.stdout.lower(), \
        proc.stdout + proc.stderr


def test_create_list_info_as_libvirtd(pool):
    assert pool.ok("vol-create-as", "p1", "base.qcow2", "64M", "--format", "qcow2") == "Vol base.qcow2 created\n\n"
    assert pool.ok("vol-create-as", "p1", "raw1", "10M") == "Vol raw1 created\n\n"
    assert pool.ok("vol-create-as", "p1", "raw2", "10M", "--allocation", "1M", "--format", "raw") == \
        "Vol raw2 created\n\n"
    assert pool.ok("vol-create-as", "p1", "top.qcow2", "128M", "--format", "qcow2", "--backing-vol", "base.qcow2",
                   "--backing-vol-format", "qcow2") == "Vol top.qcow2 created\n\n"
    assert pool.ok("vol-create-as", "p1", "pre.qcow2", "16M", "--format", "qcow2", "--prealloc-metadata") == \
        "Vol pre.qcow2 created\n\n"
    # libvirt 9.0 makes qcow2 v2 images; --prealloc-metadata with the whole capacity allocated is falloc
    assert info(vpath(pool, "base.qcow2"))["format-specific"]["data"]["compat"] == "0.10"
    assert os.stat(vpath(pool, "pre.qcow2")).st_blocks * 512 >= 16 * MiB
    assert os.stat(vpath(pool, "raw1")).st_blocks * 512 == 10 * MiB
    top = info(vpath(pool, "top.qcow2"))
    assert (top["backing-filename"], top["backing-filename-format"]) == (vpath(pool, "base.qcow2"), "qcow2")
    path = "/POOLS/p1/"
    assert pool.ok("vol-list", "p1") == (
        " Name         Path\n"
        "-------------------------------------\n"
        " base.qcow2   /POOLS/p1/base.qcow2\n"
        " pre.qcow2    /POOLS/p1/pre.qcow2\n"
        " raw1         /POOLS/p1/raw1\n"
        " raw2         /POOLS/p1/raw2\n"
        " top.qcow2    /POOLS/p1/top.qcow2\n\n").replace("-" * 37, "-" * (37 + len(pool.base) - len("/tmp/pr")))
    details = pool.env.ok("vol-list", "p1", "--details")
    assert " base.qcow2   %sbase.qcow2   file   64.00 MiB    196.00 KiB\n" % vpath(pool, "") in details
    assert " raw1         %sraw1         file   10.00 MiB    10.00 MiB\n" % vpath(pool, "") in details
    assert " raw2         %sraw2         file   10.00 MiB    1.00 MiB\n" % vpath(pool, "") in details
    assert " top.qcow2    %stop.qcow2    file   128.00 MiB   196.00 KiB\n" % vpath(pool, "") in details
    assert pool.ok("vol-info", "top.qcow2", "--pool", "p1") == (
        "Name:           top.qcow2\nType:           file\nCapacity:       SIZE\nAllocation:     SIZE\n\n")
    assert pool.env.ok("vol-info", "--bytes", vpath(pool, "raw2")) == (
        "Name:           raw2\nType:           file\nCapacity:       10485760 bytes\n"
        "Allocation:     1048576 bytes\n\n")
    xml = pool.ok("vol-dumpxml", "top.qcow2", "--pool", "p1")
    st = os.stat(vpath(pool, "top.qcow2"))
    owner = "      <owner>%d</owner>\n      <group>%d</group>\n" % (st.st_uid, st.st_gid)
    assert xml.startswith(
        "<volume type='file'>\n  <name>top.qcow2</name>\n  <key>%stop.qcow2</key>\n"
        "  <capacity unit='bytes'>N</capacity>\n  <allocation unit='bytes'>N</allocation>\n"
        "  <physical unit='bytes'>N</physical>\n  <target>\n    <path>%stop.qcow2</path>\n"
        "    <format type='qcow2'/>\n    <permissions>\n      <mode>0600</mode>\n%s    </permissions>\n"
        "    <timestamps>\n" % (path, path, owner)), xml
    assert xml.endswith(
        "  </target>\n  <backingStore>\n    <path>%sbase.qcow2</path>\n    <format type='qcow2'/>\n"
        "    <permissions>\n      <mode>0600</mode>\n%s    </permissions>\n    <timestamps>\n" % (path, owner)
        + xml[xml.rindex("      <atime>"):]), xml
    assert "<capacity unit='bytes'>134217728</capacity>" in pool.env.ok("vol-dumpxml", vpath(pool, "top.qcow2"))
    assert pool.ok("vol-path", "raw1", "--pool", "p1") == "/POOLS/p1/raw1\n\n"
    assert pool.ok("vol-name", vpath(pool, "raw1")) == "raw1\n\n"
    assert pool.ok("vol-key", "raw1", "--pool", "p1") == "/POOLS/p1/raw1\n\n"
    assert pool.ok("vol-pool", vpath(pool, "raw1")) == "p1\n\n"
    assert pool.ok("vol-pool", vpath(pool, "raw1"), "--uuid") == "UUID\n\n"


def test_bad_volume_input_changes_nothing(pool, tmp_path):
    pool.ok("vol-create-as", "p1", "raw1", "10M")
    pool.ok("vol-create-as", "p1", "b.qcow2", "8M", "--format", "qcow2")
    pool.ok("pool-create-as", "q1", "dir", "--target", pool.dir("q1"), "--build")
    pool.ok("pool-define-as", "off", "dir", "--target", pool.dir("off"))
    before = state_files(pool.env)
    xml = tmp_path / "v.xml"
    xml.write_text("<volume><name>x</name><capacity>1</capacity><source><extent/></source></volume>")
    cases = {
        ("vol-create-as", "p1", "raw1", "10M"):
            "error: Failed to create vol raw1\nerror: storage volume 'raw1' exists already\n",
        ("vol-create-as", "p1", "a/b", "10M"):
            "error: Failed to create vol a/b\n"
            "error: Requested operation is not valid: volume name 'a/b' cannot contain '/'\n",
        ("vol-create-as", "p1", "big", "99999999999999999999"): "error: Malformed size 99999999999999999999\n",
        ("vol-create-as", "p1", "big2", "16E"):
            "error: Malformed size 16E\nerror: numerical overflow: value too large: 16E\n",
        ("vol-create-as", "p1", "huge", "9000P"):
            "error: Failed to create vol huge\n"
            "error: numerical overflow: value too large: 10133099161583616000\n",
        ("vol-create-as", "nosuch", "x", "1M"):
            "error: failed to get pool 'nosuch'\n"
            "error: Storage pool not found: no storage pool with matching name 'nosuch'\n",
        ("vol-create-as", "off", "x", "1M"):
            "error: Failed to create vol x\n"
            "error: Requested operation is not valid: storage pool 'off' is not active\n",
        ("vol-create-as", "p1", "e.bad", "8M", "--format", "bogus"):
            "error: Failed to create vol e.bad\nerror: unsupported configuration: unknown volume format type bogus\n",
        ("vol-create-as", "q1", "cross.qcow2", "64M", "--format", "qcow2", "--backing-vol", "b.qcow2"):
            "error: failed to get vol 'b.qcow2'\n"
            "error: Storage volume not found: no storage vol with matching path 'b.qcow2'\n",
        ("vol-create-as", "q1", "cross.qcow2", "64M", "--format", "qcow2", "--backing-vol",
         vpath(pool, "b.qcow2"), "--backing-vol-format", "qcow2"):
            "error: Failed to create vol cross.qcow2\n"
            "error: Requested operation is not valid: backing volume '/POOLS/p1/b.qcow2' is not in pool 'q1' "
            "(its target is '/POOLS/q1')\n",
        ("vol-create-as", "p1", "r.img", "8M", "--backing-vol", "b.qcow2"):
            "error: Failed to create vol r.img\n"
            "error: unsupported configuration: backing storage not supported for raw volumes\n",
        ("vol-info", "nosuch", "--pool", "p1"):
            "error: failed to get vol 'nosuch'\n"
            "error: Storage volume not found: no storage vol with matching path 'nosuch'\n",
        ("vol-delete", "nosuch", "--pool", "p1"):
            "error: failed to get vol 'nosuch'\n"
            "error: Storage volume not found: no storage vol with matching path 'nosuch'\n",
        ("vol-info", "raw1", "--pool", "off"): "error: pool 'off' is not active\n",
        ("vol-wipe", "raw1", "--pool", "p1", "--algorithm", "foo"): "error: Unsupported algorithm 'foo'\n",
        ("vol-wipe", "raw1", "--pool", "p1", "--algorithm", "nnsa"):
            "error: Failed to wipe vol raw1\n"
            "error: Operation not supported: wiping algorithm 'nnsa' is not supported by pyvirsh (only zero)\n",
        ("vol-resize", "raw1", "5M", "--pool", "p1"):
            "error: Failed to change size of volume 'raw1' to 5M\n"
            "error: invalid argument: Can't shrink capacity below current capacity unless shrink flag "
            "explicitly specified\n",
        ("vol-resize", "raw1", "0", "--pool", "p1", "--shrink"):
            "error: Failed to change size of volume 'raw1' to 0\n"
            "error: invalid argument: can't shrink capacity below existing allocation\n",
        ("vol-resize", "raw1", "abc", "--pool", "p1"): "error: Malformed size abc\n",
        ("vol-resize", "raw1", "-1M", "--pool", "p1"): "error: negative size requires --shrink\n",
        ("vol-upload", "raw1", "/nonexistent", "--pool", "p1"): "error: cannot read /nonexistent\n",
        ("vol-download", "raw1", "/nonexistent/x", "--pool", "p1"): "error: cannot create /nonexistent/x\n",
        ("vol-create", "p1", str(xml)):
            "error: Failed to create vol from %s\nerror: unsupported configuration: volume XML element <source> "
            "in <volume> is not supported by pyvirsh\n" % xml,
        ("vol-name", "nosuch"):
            "error: failed to get vol 'nosuch'\n"
            "error: Storage volume not found: no storage vol with matching path 'nosuch'\n",
    }
    for args, expected in cases.items():
        assert pool.fails(*args) == expected.replace(pool.base, "/POOLS"), args
    assert state_files(pool.env) == before


def test_concurrent_creates_of_one_name(pool):
    results = []

    def create(k):
        results.append(pool.env.run("vol-create-as", "p1", "same", "%dM" % (k + 1), "--format",
                                    "qcow2" if k % 2 else "raw"))

    threads = [threading.Thread(target=create, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.returncode for r in results) == [0, 1, 1, 1]
    winner = next(k for k, r in enumerate(results) if r.returncode == 0)
    for r in results:
        if r.returncode:
            assert r.stderr == "error: Failed to create vol same\nerror: storage volume 'same' exists already\n"
    assert "Vol same created" in results[winner].stdout
    assert os.listdir(pool.dir("p1")) == ["same"]
    assert info(vpath(pool, "same"))["format"] in ("raw", "qcow2")


def test_clone_and_create_from_keep_the_data(pool, tmp_path):
    pool.ok("vol-create-as", "p1", "base.qcow2", "64M", "--format", "qcow2")
    pattern(vpath(pool, "base.qcow2"), "qcow2", "write -P 0x11 0 1M", "write -P 0x22 10M 1M")
    pool.ok("vol-create-as", "p1", "top.qcow2", "64M", "--format", "qcow2", "--backing-vol", "base.qcow2")
    # without --backing-vol-format the pool's own view of the base is recorded (libvirt writes raw)
    assert info(vpath(pool, "top.qcow2"))["backing-filename-format"] == "qcow2"
    pattern(vpath(pool, "top.qcow2"), "qcow2", "write -P 0x33 20M 1M")
    assert pool.ok("vol-clone", "top.qcow2", "clone.qcow2", "--pool", "p1") == \
        "Vol clone.qcow2 cloned from top.qcow2\n\n"
    clone = info(vpath(pool, "clone.qcow2"))
    assert clone["format"] == "qcow2" and "backing-filename" not in clone
    assert clone["virtual-size"] == 64 * MiB
    pattern(vpath(pool, "clone.qcow2"), "qcow2", "read -P 0x11 0 1M", "read -P 0x22 10M 1M", "read -P 0x33 20M 1M",
            "read -P 0 30M 1M")
    spec = tmp_path / "copy.xml"
    spec.write_text("<volume>\n  <name>copy.raw</name>\n  <capacity>0</capacity>\n"
                    "  <target><format type='raw'/></target>\n</volume>\n")
    assert pool.ok("vol-create-from", "p1", str(spec), "top.qcow2", "--inputpool", "p1") == \
        "Vol copy.raw created from input vol top.qcow2\n\n"
    assert pool.env.ok("vol-info", "copy.raw", "--pool", "p1", "--bytes").splitlines()[2] == \
        "Capacity:       67108864 bytes"
    pattern(vpath(pool, "copy.raw"), "raw", "read -P 0x11 0 1M", "read -P 0x22 10M 1M", "read -P 0x33 20M 1M")
    assert os.stat(vpath(pool, "copy.raw")).st_blocks * 512 < 8 * MiB      # holes stay holes
    spec.write_text("<volume><name>fromxml.qcow2</name><capacity unit='M'>16</capacity>"
                    "<target><format type='qcow2'/><compat>1.1</compat></target></volume>")
    assert pool.ok("vol-create", "p1", str(spec)) == "Vol fromxml.qcow2 created from %s\n\n" % spec
    made = info(vpath(pool, "fromxml.qcow2"))
    assert (made["virtual-size"], made["format-specific"]["data"]["compat"]) == (16 * MiB, "1.1")
    assert pool.fails("vol-create", "p1", str(spec)) == (
        "error: Failed to create vol from %s\nerror: storage volume 'fromxml.qcow2' exists already\n" % spec)


def test_resize_wipe_delete(pool):
    pool.ok("vol-create-as", "p1", "raw2", "10M", "--allocation", "1M", "--format", "raw")
    pattern(vpath(pool, "raw2"), "raw", "write -P 0x44 0 1M")
    assert pool.ok("vol-resize", "raw2", "20M", "--pool", "p1") == \
        "Size of volume 'raw2' successfully changed to 20M\n\n"
    assert os.path.getsize(vpath(pool, "raw2")) == 20 * MiB
    assert pool.ok("vol-resize", "raw2", "1M", "--pool", "p1", "--delta", "--allocate") == \
        "Size of volume 'raw2' successfully changed by 1M\n\n"
    assert os.path.getsize(vpath(pool, "raw2")) == 21 * MiB
    assert os.stat(vpath(pool, "raw2")).st_blocks * 512 >= 2 * MiB
    assert pool.ok("vol-resize", "raw2", "--capacity", "-3M", "--pool", "p1", "--delta", "--shrink") == \
        "Size of volume 'raw2' successfully changed by 3M\n\n"
    assert os.path.getsize(vpath(pool, "raw2")) == 18 * MiB
    pattern(vpath(pool, "raw2"), "raw", "read -P 0x44 0 1M")
    pool.ok("vol-create-as", "p1", "q.qcow2", "64M", "--format", "qcow2")
    pattern(vpath(pool, "q.qcow2"), "qcow2", "write -P 0x55 0 1M")
    assert pool.ok("vol-resize", "q.qcow2", "128M", "--pool", "p1") == \
        "Size of volume 'q.qcow2' successfully changed to 128M\n\n"
    assert pool.ok("vol-resize", "q.qcow2", "32M", "--pool", "p1", "--shrink") == \
        "Size of volume 'q.qcow2' successfully changed to 32M\n\n"
    assert info(vpath(pool, "q.qcow2"))["virtual-size"] == 32 * MiB
    pattern(vpath(pool, "q.qcow2"), "qcow2", "read -P 0x55 0 1M")
    # wipe: a raw volume reads as zeros, keeps its size and releases its blocks
    assert pool.ok("vol-wipe", "raw2", "--pool", "p1") == "Vol raw2 wiped\n\n"
    assert os.path.getsize(vpath(pool, "raw2")) == 18 * MiB and os.stat(vpath(pool, "raw2")).st_blocks == 0
    pattern(vpath(pool, "raw2"), "raw", "read -P 0 0 1M")
    # a qcow2 volume stays a qcow2 image of its size, empty (libvirt leaves a raw file of zeros)
    assert pool.ok("vol-wipe", "q.qcow2", "--pool", "p1", "--algorithm", "zero") == "Vol q.qcow2 wiped\n\n"
    wiped = info(vpath(pool, "q.qcow2"))
    assert (wiped["format"], wiped["virtual-size"]) == ("qcow2", 32 * MiB)
    pattern(vpath(pool, "q.qcow2"), "qcow2", "read -P 0 0 1M")
    assert pool.ok("vol-delete", "q.qcow2", "--pool", "p1") == "Vol q.qcow2 deleted\n\n"
    assert not os.path.exists(vpath(pool, "q.qcow2"))
    assert pool.fails("vol-delete", "q.qcow2", "--pool", "p1") == (
        "error: failed to get vol 'q.qcow2'\n"
        "error: Storage volume not found: no storage vol with matching path 'q.qcow2'\n")


def test_upload_download_sparse_and_ranges(pool, tmp_path):
    image = str(tmp_path / "image.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", image, "64M")
    pattern(image, "qcow2", "write -P 0x66 0 1M", "write -P 0x77 40M 1M")
    pool.ok("vol-create-as", "p1", "up.qcow2", "1M", "--format", "raw")
    assert pool.ok("vol-upload", "up.qcow2", image, "--pool", "p1") == "\n"
    pattern(vpath(pool, "up.qcow2"), "qcow2", "read -P 0x66 0 1M", "read -P 0x77 40M 1M")
    assert pool.ok("vol-info", "up.qcow2", "--pool", "p1").splitlines()[2] == "Capacity:       SIZE"
    assert pool.env.ok("vol-info", "up.qcow2", "--pool", "p1").splitlines()[2] == "Capacity:       64.00 MiB"
    down = str(tmp_path / "down.qcow2")
    assert pool.ok("vol-download", "up.qcow2", down, "--pool", "p1", "--sparse") == "\n"
    assert read(down) == read(vpath(pool, "up.qcow2"))
    pattern(down, "qcow2", "read -P 0x66 0 1M", "read -P 0x77 40M 1M")
    # ranges: 4 KiB of a raw volume from 1 MiB on, both ways
    raw = str(tmp_path / "raw.img")
    with open(raw, "wb") as f:
        f.truncate(4 * MiB)
    pattern(raw, "raw", "write -P 0x12 1M 4k")
    pool.ok("vol-create-as", "p1", "r", "4M", "--allocation", "0")
    chunk = str(tmp_path / "chunk")
    assert pool.ok("vol-download", "r", chunk, "--pool", "p1", "--offset", "0", "--length", "4096") == "\n"
    assert read(chunk) == bytes(4096)
    pattern(raw, "raw", "write -P 0x12 0 4k")
    with open(chunk, "wb") as f:
        f.write(read(raw)[:4096])
    assert pool.ok("vol-upload", "r", chunk, "--pool", "p1", "--offset", str(MiB), "--length", "4096") == "\n"
    pattern(vpath(pool, "r"), "raw", "read -P 0 0 1M", "read -P 0x12 1M 4k", "read -P 0 1052672 1M")
    assert pool.ok("vol-download", "r", chunk, "--pool", "p1", "--offset", str(MiB), "--length", "4096") == "\n"
    assert read(chunk) == bytes([0x12]) * 4096
    # more data than --length: refused before a byte is written (libvirt writes part, then fails)
    before = read(vpath(pool, "r"))
    assert pool.fails("vol-upload", "r", image, "--pool", "p1", "--length", "4096") == (
        "error: cannot send data to volume r\nerror: cannot write to stream: No space left on device\n")
    assert read(vpath(pool, "r")) == before
    # from a pipe (no size to stat): read to its end, as virsh's stream does; --offset and
    # --length as for a file, more than --length refused
    from difftool import pyvirsh_argv
    piped = bytes(range(256)) * 48 + b"end"
    for args, data, expect in ((["--offset", str(MiB)], piped, (0, "\n")),
                               (["--offset", str(2 * MiB), "--length", "100"], piped[:100], (0, "\n")),
                               (["--offset", str(3 * MiB), "--length", "10"], piped,
                                (1, ("error: cannot send data to volume r\nerror: cannot write to stream: No space "
                                     "left on device\n")))):
        done = subprocess.run(pyvirsh_argv() + ["-c", pool.env.uri, "vol-upload", "r", "/dev/stdin", "--pool", "p1"]
                              + args, input=data, capture_output=True)
        assert (done.returncode, done.stderr.decode() if done.returncode else done.stdout.decode()) == expect
    assert read(vpath(pool, "r"))[MiB:MiB + len(piped)] == piped
    assert read(vpath(pool, "r"))[2 * MiB:2 * MiB + 101] == piped[:100] + b"\0"
    pattern(vpath(pool, "r"), "raw", "write -P 0 1M 4k")       # as it was for what follows
    # a sparse upload over data makes the holes read as zeros again
    pattern(vpath(pool, "r"), "raw", "write -P 0x99 3M 64k")
    pool.ok("vol-upload", "r", raw, "--pool", "p1", "--sparse")
    pattern(vpath(pool, "r"), "raw", "read -P 0x12 0 4k", "read -P 0x12 1M 4k", "read -P 0 3M 64k")
    assert os.stat(vpath(pool, "r")).st_blocks * 512 < MiB
    # inside the volume (--offset): the source's holes punched, the bytes around them kept
    pattern(vpath(pool, "r"), "raw", "write -P 0x99 0 4M")
    pool.ok("vol-upload", "r", raw, "--pool", "p1", "--sparse", "--offset", str(MiB // 2), "--length",
            str(4 * MiB))
    pattern(vpath(pool, "r"), "raw", "read -P 0x99 0 512k", "read -P 0x12 512k 4k", "read -P 0 516k 1020k",
            "read -P 0x12 1536k 4k", "read -P 0 1540k 2556k")
    assert os.stat(vpath(pool, "r")).st_size == 4 * MiB + MiB // 2
    assert os.stat(vpath(pool, "r")).st_blocks * 512 < MiB
    # without --sparse the holes come out as allocated zeros, inside the target and past its end
    pool.ok("vol-upload", "r", raw, "--pool", "p1", "--offset", str(MiB // 2), "--length", str(4 * MiB))
    pattern(vpath(pool, "r"), "raw", "read -P 0 516k 1020k", "read -P 0x12 1536k 4k")
    assert os.stat(vpath(pool, "r")).st_blocks * 512 >= 4 * MiB
    pool.ok("vol-download", "r", down, "--pool", "p1")
    assert read(down) == read(vpath(pool, "r")) and os.stat(down).st_blocks * 512 >= 4 * MiB
    pool.ok("vol-download", "r", down, "--pool", "p1", "--sparse")
    assert read(down) == read(vpath(pool, "r"))
    # the pool files pyvirsh wrote are read without lxml: these one-shot commands never load it
    for args in (["vol-list", "p1", "--details"], ["vol-path", "r", "--pool", "p1"], ["pool-info", "p1"],
                 ["vol-upload", "r", raw, "--pool", "p1", "--sparse"], ["vol-download", "r", down, "--pool", "p1"]):
        proc = subprocess.run([sys.executable, "-c", PROBE, "-c", pool.env.uri] + args, capture_output=True,
                              text=True)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)
    assert masked(pool.env.run("vol-download", "r", down, "--pool", "p1", "--offset", "x").stderr, pool.base) == \
        "error: Numeric value 'x' for <offset> option is malformed or out of range\n"


def test_dumpxml_backing_format_follows_the_start_rule(pool, tmp_path):
    """A backing format the header does not record is probed only for an image without a
    backing file of its own (the rule of a domain start); otherwise none is shown."""
    d = pool.dir("p1")
    qemu_img("create", "-q", "-f", "qcow2", os.path.join(d, "base.qcow2"), "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", os.path.join(d, "mid.qcow2"))
    # headers naming their backing file without its format
    for name, backing in (("probed.qcow2", "base.qcow2"), ("unsafe.qcow2", "mid.qcow2")):
        made = os.path.join(tmp_path, name)
        qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2", made, "16M")
        drop_backing_format(made, os.path.join(d, name))
    probed = pool.ok("vol-dumpxml", "probed.qcow2", "--pool", "p1")
    assert "<backingStore>\n    <path>/POOLS/p1/base.qcow2</path>\n    <format type='qcow2'/>\n" in probed
    unsafe = pool.ok("vol-dumpxml", "unsafe.qcow2", "--pool", "p1")
    assert "<backingStore>\n    <path>/POOLS/p1/mid.qcow2</path>\n    <permissions>\n" in unsafe
    recorded = pool.ok("vol-dumpxml", "mid.qcow2", "--pool", "p1")
    assert "<backingStore>\n    <path>/POOLS/p1/base.qcow2</path>\n    <format type='qcow2'/>\n" in recorded


def test_directories_and_hidden_files_are_volumes_as_in_libvirt(pool):
    d = pool.dir("p1")
    os.mkdir(os.path.join(d, "sub"))
    open(os.path.join(d, "sub", "f"), "w").close()
    open(os.path.join(d, ".hidden"), "w").close()
    open(os.path.join(d, ".pyvirsh-scratch"), "w").close()      # pyvirsh's own temporaries are not
    rows = [line.split()[:3] for line in pool.ok("vol-list", "p1", "--details").splitlines()[2:-1]]
    assert rows == [[".hidden", "/POOLS/p1/.hidden", "file"], ["sub", "/POOLS/p1/sub", "dir"]]
    assert pool.ok("vol-info", "sub", "--pool", "p1") == (
        "Name:           sub\nType:           dir\nCapacity:       SIZE\nAllocation:     SIZE\n\n")
    xml = pool.ok("vol-dumpxml", "sub", "--pool", "p1")
    assert xml.startswith("<volume type='dir'>\n  <name>sub</name>\n  <key>/POOLS/p1/sub</key>\n"
                          "  <capacity unit='bytes'>N</capacity>\n  <allocation unit='bytes'>N</allocation>\n"
                          "  <target>\n    <path>/POOLS/p1/sub</path>\n    <format type='dir'/>\n"), xml
    assert pool.fails("vol-delete", "sub", "--pool", "p1") == (
        "error: Failed to delete vol sub\n"
        "error: cannot remove directory '/POOLS/p1/sub': Directory not empty\n")
    assert pool.fails("vol-wipe", "sub", "--pool", "p1") == (
        "error: Failed to wipe vol sub\n"
        "error: Failed to open storage volume with path '/POOLS/p1/sub': Is a directory\n")
    os.unlink(os.path.join(d, "sub", "f"))
    assert pool.ok("vol-delete", "sub", "--pool", "p1") == "Vol sub deleted\n\n"
    assert not os.path.exists(os.path.join(d, "sub"))
