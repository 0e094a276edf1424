"""pyvirsh's image-header prober and chain probe, checked against real images.

Every image here is made by qemu-img (or patched from one, byte by byte, for
the hostile cases) and every good chain is compared field by field with
``qemu-img info --backing-chain --output=json``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys

import pytest

from pyvirsh.drivers.api import DriverError, ErrorCode
from pyvirsh.drivers.storage.chain import ChainLayer, probe_chain
from pyvirsh.drivers.storage.probe import FORMATS, detect_format, read_header

UIDGID = "(as uid:%d, gid:%d)" % (os.getuid(), os.getgid())
KBASE = ("was not specified in the image metadata (See "
         "https://libvirt.org/kbase/backing_chains.html for troubleshooting)")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def qimg(*args, cwd=None):
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True, cwd=cwd)


def create(path, fmt="qcow2", backing=None, bfmt=None, size="64M", opts=None, cwd=None):
    args = ["create", "-q", "-f", fmt]
    if opts:
        args += ["-o", opts]
    if backing is not None:
        args += ["-u", "-b", backing, "-F", bfmt]
    qimg(*args, path, size, cwd=cwd)
    return str(path)


def qemu_chain(path, cwd=None):
    out = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", "--output=json", str(path)],
                         check=True, capture_output=True, text=True, cwd=cwd).stdout
    data = json.loads(out)
    return data if isinstance(data, list) else [data]


def assert_same_as_qemu(chain, info):
    """Field-by-field comparison of probe_chain's layers with qemu-img's view."""
    assert [q["filename"] for q in info] == [layer.path for layer in chain]
    assert len(chain) == len(info)
    for i, (layer, q) in enumerate(zip(chain, info)):
        assert isinstance(layer, ChainLayer)
        assert layer.format == q["format"], layer.path
        assert layer.virtual_size == q["virtual-size"], layer.path
        assert layer.backing_name == q.get("backing-filename"), layer.path
        if layer.format == "vmdk" and layer.backing_name is not None:
            # QEMU assumes vmdk for a vmdk parent; libvirt (and pyvirsh) treat it as unrecorded
            assert layer.backing_format is None
            assert q["backing-filename-format"] == chain[i + 1].format == "vmdk"
        else:
            assert layer.backing_format == q.get("backing-filename-format"), layer.path
        if layer.backing_name is not None:
            assert q["full-backing-filename"] == chain[i + 1].path
        else:
            assert "full-backing-filename" not in q
            assert i == len(chain) - 1
        if "cluster-size" in q:
            assert layer.cluster_size == q["cluster-size"], layer.path
        spec = (q.get("format-specific") or {}).get("data", {})
        if layer.format == "qcow2":
            assert layer.header.compat == spec["compat"]
            assert layer.data_file_name == spec.get("data-file")
            assert layer.header.data_file_raw == spec.get("data-file-raw", False)
        assert layer.type == "file"


def check_against_qemu(top, fmt="qcow2", cwd=None, n=None):
    chain = probe_chain(str(top), fmt)
    assert_same_as_qemu(chain, qemu_chain(top, cwd=cwd))
    if n is not None:
        assert len(chain) == n
    return chain


def find_ext(path, ext_type):
    """Offset of the qcow2 header extension *ext_type* (8-byte aligned TLV list after the header)."""
    with open(path, "rb") as f:
        buf = f.read(65536)
    version = struct.unpack_from(">I", buf, 4)[0]
    off = 72 if version == 2 else struct.unpack_from(">I", buf, 100)[0]
    while True:
        etype, elen = struct.unpack_from(">II", buf, off)
        if etype == ext_type:
            return off
        assert etype != 0, "extension 0x%x not found" % ext_type
        off += 8 + ((elen + 7) & ~7)


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def drop_backing_format(src, dst):
    """Copy a qcow2 made with -F and make its backing format unrecorded."""
    shutil.copyfile(src, dst)
    patch(dst, find_ext(dst, 0xE2792ACA), struct.pack(">I", 0x0BADF00D))
    return str(dst)


def err(fn, *args, **kw) -> DriverError:
    with pytest.raises(DriverError) as exc:
        fn(*args, **kw)
    return exc.value


@pytest.fixture
def chain3(tmp_path):
    base = create(tmp_path / "base.qcow2")
    mid = create(tmp_path / "mid.qcow2", backing=base, bfmt="qcow2")
    top = create(tmp_path / "top.qcow2", backing=mid, bfmt="qcow2")
    return base, mid, top


# ---------------------------------------------------------------------------
# good chains, compared with qemu-img
# ---------------------------------------------------------------------------

def test_formats_in_libvirt_order():
    assert list(FORMATS) == ["none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi",
                             "fat", "vhd", "ploop", "cow", "qcow", "qcow2", "qed", "vmdk"]


def test_qcow2_v3_absolute_chain(chain3):
    base, mid, top = chain3
    chain = check_against_qemu(top, n=3)
    assert [c.path for c in chain] == [top, mid, base]
    assert [c.backing_name for c in chain] == [mid, base, None]
    assert chain[0].header.version == 3 and chain[0].header.compat == "1.1"
    assert not any(c.probed for c in chain)


def test_qcow2_v2_relative_names_raw_base_spaces_commas(tmp_path):
    d = tmp_path / "d, x"
    (tmp_path / "sub dir").mkdir()
    d.mkdir()
    create(d / "ba,se 1.raw", fmt="raw", size="16M")
    create(d / "mid.qcow2", backing="ba,se 1.raw", bfmt="raw", opts="compat=0.10", size="16M")
    top = create(tmp_path / "sub dir" / "top,1.qcow2", backing="../d, x/mid.qcow2", bfmt="qcow2",
                 size="16M")
    chain = check_against_qemu(top, n=3)
    assert chain[1].path == str(tmp_path / "sub dir" / "../d, x/mid.qcow2")   # not normalised
    assert chain[1].header.compat == "0.10" and chain[1].header.version == 2
    assert chain[2].format == "raw" and chain[1].backing_name == "ba,se 1.raw"
    assert chain[2].virtual_size == 16 << 20


def test_qed_layers(tmp_path):
    create(tmp_path / "base.raw", fmt="raw", size="16M")
    qed = create(tmp_path / "mid.qed", fmt="qed", backing="base.raw", bfmt="raw", size="16M")
    top = create(tmp_path / "top.qcow2", backing="mid.qed", bfmt="qed", size="16M")
    chain = check_against_qemu(top, n=3)
    assert read_header(qed, "qed").backing_format == "raw"      # QED_F_BACKING_FORMAT_NO_PROBE
    assert chain[1].cluster_size == 65536

    # QED with a non-raw backing records no format: the leaf is probed and accepted
    leaf = create(tmp_path / "leaf.qcow2", size="16M")
    q2 = create(tmp_path / "q2.qed", fmt="qed", backing="leaf.qcow2", bfmt="qcow2", size="16M")
    chain = check_against_qemu(q2, fmt="qed", n=2)
    assert chain[0].backing_format is None
    assert chain[1].format == "qcow2" and chain[1].probed and chain[1].path == leaf

    # ... but not when the probed image has a backing file of its own
    q3 = create(tmp_path / "q3.qed", fmt="qed", backing="top.qcow2", bfmt="qcow2", size="16M")
    e = err(probe_chain, q3, "qed")
    assert e.code is ErrorCode.OPERATION_INVALID
    assert e.message.startswith("format of backing image 'top.qcow2' of image '%s' %s" % (q3, KBASE))


def test_vmdk_layers(tmp_path):
    create(tmp_path / "base.vmdk", fmt="vmdk")
    ov = create(tmp_path / "ov.vmdk", fmt="vmdk", backing="base.vmdk", bfmt="vmdk")
    top = create(tmp_path / "top.qcow2", backing="ov.vmdk", bfmt="vmdk")
    chain = check_against_qemu(top, n=3)
    assert chain[1].backing_format is None and chain[2].probed     # vmdk records no format
    assert detect_format(ov) == "vmdk"


def test_vmdk_text_descriptor(tmp_path):
    flat = create(tmp_path / "flat.vmdk", fmt="vmdk", opts="subformat=monolithicFlat", size="32M")
    hdr = read_header(flat, "vmdk")
    assert hdr.virtual_size == qemu_chain(flat)[0]["virtual-size"] == 32 << 20
    assert hdr.backing_name is None
    assert detect_format(flat) == "raw"          # libvirt only knows the KDMV magic
    text = pathlib.Path(flat).read_text()
    text = text.replace('createType="monolithicFlat"',
                        'createType="monolithicFlat"\nparentFileNameHint="p a,r.vmdk"')
    with open(tmp_path / "child.vmdk", "w") as f:
        f.write(text)
    assert read_header(str(tmp_path / "child.vmdk"), "vmdk").backing_name == "p a,r.vmdk"


def test_qcow_v1_with_backing(tmp_path):
    create(tmp_path / "b.raw", fmt="raw", size="16M")
    q = create(tmp_path / "q.qcow", fmt="qcow", backing="b.raw", bfmt="raw", size="16M")
    chain = check_against_qemu(q, fmt="qcow", n=2)
    assert chain[0].backing_format is None and chain[1].probed and chain[1].format == "raw"
    assert detect_format(q) == "qcow"


def test_symlinked_overlay(tmp_path):
    real = tmp_path / "real"
    links = tmp_path / "links"
    real.mkdir()
    links.mkdir()
    create(real / "base.qcow2")
    create(real / "top.qcow2", backing="base.qcow2", bfmt="qcow2")
    os.symlink("top.qcow2", real / "same-dir-link.qcow2")
    chain = check_against_qemu(real / "same-dir-link.qcow2", n=2)
    assert chain[0].path == str(real / "same-dir-link.qcow2")
    assert chain[1].path == str(real / "base.qcow2")

    # A link elsewhere: the relative name resolves against the link's directory
    # (no symlink resolution), so both QEMU and pyvirsh look in links/.
    os.symlink("../real/top.qcow2", links / "top.qcow2")
    e = err(probe_chain, str(links / "top.qcow2"), "qcow2")
    assert e.code is ErrorCode.SYSTEM_ERROR
    assert str(e) == ("Cannot access backing file '%s' of storage file '%s' %s: No such file or directory"
                      % (links / "base.qcow2", links / "top.qcow2", UIDGID))
    r = subprocess.run(["qemu-img", "info", "--backing-chain", str(links / "top.qcow2")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and str(links / "base.qcow2") in r.stderr


def test_external_data_file(tmp_path):
    base = create(tmp_path / "base.qcow2", size="32M")
    # relative data file name: QEMU 7.2 resolves it against its CWD, so run qemu-img there
    top = create(tmp_path / "top.qcow2", backing=base, bfmt="qcow2", size="32M",
                 opts="data_file=top.data", cwd=tmp_path)
    chain = check_against_qemu(top, cwd=tmp_path, n=2)
    assert chain[0].data_file_name == "top.data"
    assert chain[0].data_file == str(tmp_path / "top.data")
    assert chain[0].header.data_file_raw is False
    assert chain[1].data_file is None

    # absolute name, data_file_raw (QEMU allows that only without a backing file)
    absdf = create(tmp_path / "abs.qcow2", size="32M",
                   opts="data_file=%s,data_file_raw=on" % (tmp_path / "a b.data"))
    chain = check_against_qemu(absdf, n=1)
    assert chain[0].data_file == str(tmp_path / "a b.data") and chain[0].header.data_file_raw


def test_top_format_is_never_probed(chain3):
    top = chain3[-1]
    chain = probe_chain(top, None)              # no <driver type>: raw, whatever the magic says
    assert len(chain) == 1 and chain[0].format == "raw" and not chain[0].probed
    assert chain[0].virtual_size == os.path.getsize(top)
    assert probe_chain(top, "raw")[0].backing_name is None


def test_encrypted_qcow2(tmp_path):
    path = tmp_path / "enc.qcow2"
    # qemu-img times a key-derivation benchmark with getrusage() and gives up with
    # "Unable to get accurate CPU usage" when the machine is busy; that is about the
    # host, not the image, so try again a few times.
    for attempt in range(10):
        proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=abc",
                               "-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10",
                               str(path), "16M"], capture_output=True, text=True)
        if proc.returncode == 0 or "accurate CPU usage" not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr
    hdr = read_header(str(path), "qcow2")
    assert hdr.encrypted and hdr.encryption == "luks" and hdr.virtual_size == 16 << 20


def test_relative_top_and_dirname(tmp_path, monkeypatch, chain3):
    top = chain3[-1]
    monkeypatch.chdir(tmp_path)
    chain = probe_chain("top.qcow2", "qcow2")
    assert chain[0].path == top and len(chain) == 3


# ---------------------------------------------------------------------------
# magic probing
# ---------------------------------------------------------------------------

def test_detect_format_real_images(tmp_path):
    for fmt in ("qcow2", "qed", "vmdk", "vpc", "vdi", "raw"):
        p = create(tmp_path / ("x." + fmt), fmt=fmt, size="16M")
        assert detect_format(p) == fmt
        assert read_header(p, fmt).virtual_size == qemu_chain(p)[0]["virtual-size"]
    p = create(tmp_path / "v2.qcow2", opts="compat=0.10")
    assert detect_format(p) == "qcow2"
    assert detect_format(str(tmp_path)) == "dir"
    assert read_header(str(tmp_path), "dir").virtual_size is None
    chain = probe_chain(str(tmp_path), "dir")
    assert [(c.format, c.type, c.backing_name) for c in chain] == [("dir", "dir", None)]


def test_detect_format_crafted(tmp_path):
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0" * 32769 + b"CD001" + b"\0" * 2042)
    assert detect_format(str(iso)) == "iso"
    assert read_header(str(iso), "iso").virtual_size == 34816
    ploop = tmp_path / "x.hds"
    ploop.write_bytes(b"WithouFreSpacExt" + b"\0" * 20 + struct.pack("<Q", 2048) + b"\0" * 4000)
    assert detect_format(str(ploop)) == "ploop"
    assert read_header(str(ploop), "ploop").virtual_size == 2048 * 512
    cow = tmp_path / "x.cow"
    cow.write_bytes(b"OOOM" + struct.pack(">I", 2) + b"base.raw".ljust(1024, b"\0")
                    + struct.pack(">IQI", 0, 1 << 20, 512) + b"\0" * 100)
    assert detect_format(str(cow)) == "cow"
    hdr = read_header(str(cow), "cow")
    assert (hdr.backing_name, hdr.backing_format, hdr.virtual_size) == ("base.raw", None, 1 << 20)
    wrong = tmp_path / "v9.qcow2"
    wrong.write_bytes(b"QFI\xfb" + struct.pack(">I", 9) + b"\0" * 200)
    assert detect_format(str(wrong)) == "raw"       # magic with unknown version → raw


def test_cow_chain_probes_its_leaf(tmp_path):
    create(tmp_path / "base.raw", fmt="raw", size="1M")
    cow = tmp_path / "x.cow"
    cow.write_bytes(b"OOOM" + struct.pack(">I", 2) + b"base.raw".ljust(1024, b"\0")
                    + struct.pack(">IQI", 0, 1 << 20, 512) + b"\0" * 100)
    chain = probe_chain(str(cow), "cow")
    assert [c.format for c in chain] == ["cow", "raw"] and chain[1].probed


# ---------------------------------------------------------------------------
# libvirt's refusals
# ---------------------------------------------------------------------------

def test_unrecorded_format_with_further_backing_is_refused(chain3, tmp_path):
    _, mid, top = chain3
    top2 = drop_backing_format(top, tmp_path / "top2.qcow2")
    assert "backing-filename-format" not in qemu_chain(top2)[0]
    assert read_header(top2, "qcow2").backing_format is None
    e = err(probe_chain, top2, "qcow2")
    assert e.code is ErrorCode.OPERATION_INVALID
    assert str(e) == (
        "Requested operation is not valid: format of backing image '%s' of image '%s' %s"
        " If '%s' is trusted and really is a qcow2 image, record its format with: "
        "qemu-img rebase -u -f qcow2 -F qcow2 -b %s %s" % (mid, top2, KBASE, mid, mid, top2))


def test_unrecorded_format_hint_quotes_names(tmp_path):
    d = tmp_path / "a dir"
    d.mkdir()
    create(d / "base.qcow2")
    create(d / "m id.qcow2", backing="base.qcow2", bfmt="qcow2")
    top = drop_backing_format(create(d / "t.qcow2", backing="m id.qcow2", bfmt="qcow2"), d / "t2.qcow2")
    e = err(probe_chain, top, "qcow2")
    assert e.message.endswith("qemu-img rebase -u -f qcow2 -F qcow2 -b 'm id.qcow2' '%s'" % top)


def test_unrecorded_format_of_leaf_is_probed(chain3, tmp_path):
    base, mid, _ = chain3
    mid2 = drop_backing_format(mid, tmp_path / "mid2.qcow2")
    chain = probe_chain(mid2, "qcow2")
    assert [c.format for c in chain] == ["qcow2", "qcow2"]
    assert chain[1].probed and chain[1].path == base and chain[0].backing_format is None

    create(tmp_path / "leaf.raw", fmt="raw", size="1M")
    ov = create(tmp_path / "ov.qcow2", backing="leaf.raw", bfmt="raw", size="1M")
    ov2 = drop_backing_format(ov, tmp_path / "ov2.qcow2")
    chain = probe_chain(ov2, "qcow2")
    assert chain[1].format == "raw" and chain[1].probed


def test_guest_written_header_cannot_reach_host_files(tmp_path, monkeypatch):
    """CVE-2010-2237: a 'raw' disk whose content is a qcow2 header naming a host file."""
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"top secret")
    disk = create(tmp_path / "guest.img", backing=str(secret), bfmt="raw", size="1M")
    top = drop_backing_format(create(tmp_path / "top.qcow2", backing="guest.img", bfmt="raw",
                                     size="1M"), tmp_path / "top2.qcow2")
    audit = tmp_path / "audit.log"
    monkeypatch.setenv("PYVIRSH_PROBE_AUDIT", str(audit))
    e = err(probe_chain, top, "qcow2")
    assert e.code is ErrorCode.OPERATION_INVALID and "'guest.img'" in e.message
    assert audit.read_text().splitlines() == [top, disk]          # the secret was never opened
    # with the format recorded as raw, the guest's header is just data
    ok = create(tmp_path / "ok.qcow2", backing="guest.img", bfmt="raw", size="1M")
    chain = probe_chain(ok, "qcow2")
    assert [c.format for c in chain] == ["qcow2", "raw"] and chain[1].backing_name is None


def test_loop_two_images(tmp_path):
    a = create(tmp_path / "a.qcow2")
    b = create(tmp_path / "b.qcow2", backing="a.qcow2", bfmt="qcow2")
    qimg("rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", "b.qcow2", a)
    e = err(probe_chain, b, "qcow2")
    assert e.code is ErrorCode.INTERNAL_ERROR
    assert str(e) == "internal error: backing store for %s is self-referential or too deeply nested" % a


def test_loop_self_and_via_symlink(tmp_path):
    a = create(tmp_path / "a.qcow2")
    qimg("rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", "a.qcow2", a)
    assert "self-referential" in err(probe_chain, a, "qcow2").message
    c = create(tmp_path / "c.qcow2", backing="c-link.qcow2", bfmt="qcow2")
    os.symlink("c.qcow2", tmp_path / "c-link.qcow2")
    assert err(probe_chain, c, "qcow2").message == (
        "backing store for %s is self-referential or too deeply nested" % c)


def test_depth_limit_small(chain3):
    top = chain3[-1]
    e = err(probe_chain, top, "qcow2", disk="vdb", max_depth=2)
    assert e.code is ErrorCode.OPERATION_UNSUPPORTED
    assert str(e) == ("Operation not supported: backing chains more than 2 layers deep are not "
                      "supported for disk 'vdb'")
    assert len(probe_chain(top, "qcow2", max_depth=3)) == 3


def test_depth_limit_real_201_layers(tmp_path):
    script = ('qemu-img create -q -f qcow2 l0.qcow2 1M && i=1 && while [ $i -le 200 ]; do '
              'qemu-img create -q -f qcow2 -u -b "$PWD/l$((i-1)).qcow2" -F qcow2 l$i.qcow2 1M '
              '|| exit 1; i=$((i+1)); done')
    subprocess.run(["sh", "-c", script], cwd=tmp_path, check=True)
    e = err(probe_chain, str(tmp_path / "l200.qcow2"), "qcow2", disk="sda")
    assert str(e) == ("Operation not supported: backing chains more than 200 layers deep are not "
                      "supported for disk 'sda'")
    chain = probe_chain(str(tmp_path / "l199.qcow2"), "qcow2")
    assert len(chain) == 200 and chain[-1].path == str(tmp_path / "l0.qcow2")


def test_missing_top_and_backing(tmp_path):
    e = err(probe_chain, str(tmp_path / "nope.qcow2"), "qcow2")
    assert e.code is ErrorCode.SYSTEM_ERROR
    assert str(e) == ("Cannot access storage file '%s' %s: No such file or directory"
                      % (tmp_path / "nope.qcow2", UIDGID))
    base = create(tmp_path / "base.qcow2")
    mid = create(tmp_path / "mid.qcow2", backing="base.qcow2", bfmt="qcow2")
    top = create(tmp_path / "top.qcow2", backing=mid, bfmt="qcow2")
    os.unlink(base)
    e = err(probe_chain, top, "qcow2")
    assert str(e) == ("Cannot access backing file '%s' of storage file '%s' %s: No such file or directory"
                      % (base, top, UIDGID))
    # a directory where an image should be
    os.unlink(mid)
    os.mkdir(mid)
    e = err(probe_chain, top, "qcow2")
    assert e.message == "'%s' is a directory, not a qcow2 image" % mid


def test_not_a_directory_strerror(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"")
    top = create(tmp_path / "top.qcow2", backing="file/base.qcow2", bfmt="qcow2")
    e = err(probe_chain, top, "qcow2")
    assert e.message.endswith(": Not a directory")


@pytest.mark.parametrize("name, proto", [
    ("nbd:localhost:10809", "nbd"),
    ("http://example.com/disk.img", "http"),
    ('json:{"driver":"file","filename":"/x"}', "json"),
])
def test_non_local_backing_is_refused(tmp_path, name, proto):
    top = create(tmp_path / "top.qcow2", backing=name, bfmt="raw", size="1M")
    e = err(probe_chain, top, "qcow2")
    assert e.code is ErrorCode.CONFIG_UNSUPPORTED
    assert e.message == ("backing store '%s' of image '%s' is not a local file (protocol '%s'); "
                         "pyvirsh only supports local backing files" % (name, top, proto))


def test_fifo_backing_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    top = create(tmp_path / "top.qcow2", backing="fifo", bfmt="raw", size="1M")
    e = err(probe_chain, top, "qcow2")
    assert e.message == "'%s' is not a regular file or block device" % (tmp_path / "fifo")


# ---------------------------------------------------------------------------
# corrupt and hostile headers
# ---------------------------------------------------------------------------

def _hostile(tmp_path, kind):
    """Build one damaged image; return its path."""
    base = create(tmp_path / "base.qcow2", size="1M")
    p = create(tmp_path / "bad.qcow2", backing=base, bfmt="qcow2", size="1M")
    bofs = struct.unpack_from(">Q", pathlib.Path(p).read_bytes()[:16], 8)[0]
    if kind == "truncated-50":
        os.truncate(p, 50)
    elif kind == "truncated-v3":
        os.truncate(p, 90)
    elif kind == "empty":
        os.truncate(p, 0)
    elif kind == "backing-offset-beyond-cluster":
        patch(p, 8, struct.pack(">Q", 1 << 20))
    elif kind == "backing-offset-beyond-file":
        patch(p, 20, struct.pack(">I", 21))         # 2 MiB clusters
        patch(p, 8, struct.pack(">Q", 2 * 1024 * 1024 - 100))
    elif kind == "backing-name-huge":
        patch(p, 16, struct.pack(">I", 5000))
    elif kind == "backing-offset-in-header":
        patch(p, 8, struct.pack(">Q", 16))
    elif kind == "extension-too-long":
        patch(p, find_ext(p, 0xE2792ACA) + 4, struct.pack(">I", 0xFFFFFF00))
    elif kind == "format-ext-too-long":
        patch(p, find_ext(p, 0xE2792ACA) + 4, struct.pack(">I", 40))
    elif kind == "header-length-huge":
        patch(p, 100, struct.pack(">I", 1 << 30))
    elif kind == "header-length-odd":
        patch(p, 100, struct.pack(">I", 105))
    elif kind == "unknown-incompat":
        patch(p, 72, struct.pack(">Q", 1 << 5 | 1 << 63))
    elif kind == "corrupt-bit":
        patch(p, 72, struct.pack(">Q", 2))
    elif kind == "absurd-size":
        patch(p, 24, struct.pack(">Q", 1 << 63))
    elif kind == "cluster-bits":
        patch(p, 20, struct.pack(">I", 40))
    elif kind == "version":
        patch(p, 4, struct.pack(">I", 7))
    elif kind == "non-utf8-name":
        patch(p, bofs, b"\xff\xfe")
    elif kind == "nul-in-name":
        patch(p, bofs + 3, b"\0")
    elif kind == "data-file-bit-without-name":
        patch(p, 72, struct.pack(">Q", 4))
    elif kind == "encryption":
        patch(p, 32, struct.pack(">I", 9))
    return p


HOSTILE = {
    "truncated-50": "the file is truncated (50 bytes, a header needs at least 72)",
    "truncated-v3": "the file is truncated (90 bytes, a v3 header needs at least 104)",
    "empty": "the file is truncated (0 bytes",
    "backing-offset-beyond-cluster": "backing file name offset 1048576 lies beyond the first cluster",
    "backing-offset-beyond-file": "lies beyond the end of the file",
    "backing-name-huge": "backing file name length 5000 exceeds 1023 bytes",
    "backing-offset-in-header": "backing file name offset 16 lies inside the header",
    "extension-too-long": "runs past the extension area",
    "format-ext-too-long": "backing format extension is 40 bytes long",
    "header-length-huge": "header length 1073741824 exceeds the cluster size 65536",
    "header-length-odd": "header length 105 is invalid",
    "unknown-incompat": "uses unknown incompatible features (bits 5, 63, mask 0x8000000000000020)",
    "corrupt-bit": "is marked corrupt; check and repair it with 'qemu-img check -r all'",
    "absurd-size": "absurd virtual size 9223372036854775808",
    "cluster-bits": "unsupported cluster size 2^40",
    "version": "unsupported qcow2 version 7",
    "non-utf8-name": "the backing file name is not valid UTF-8",
    "nul-in-name": "the backing file name contains a NUL byte",
    "data-file-bit-without-name": "uses an external data file but does not record its name",
    "encryption": "unknown encryption method 9",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_qcow2_headers(tmp_path, kind):
    p = _hostile(tmp_path, kind)
    for e in (err(read_header, p, "qcow2"), err(probe_chain, p, "qcow2")):
        assert e.code is ErrorCode.CONFIG_UNSUPPORTED
        assert HOSTILE[kind] in e.message
        assert p in e.message


def test_hostile_header_in_a_backing_layer(tmp_path):
    p = _hostile(tmp_path, "backing-name-huge")
    top = create(tmp_path / "top.qcow2", backing=p, bfmt="qcow2", size="1M")
    e = err(probe_chain, top, "qcow2")
    assert "invalid qcow2 header in image '%s'" % p in e.message


def test_hostile_other_formats(tmp_path):
    qed = create(tmp_path / "b.qed", fmt="qed", backing="x.raw", bfmt="raw", size="1M")
    patch(qed, 56, struct.pack("<I", 70000))                 # backing name offset
    assert "lies outside the header" in err(read_header, qed, "qed").message
    patch(qed, 16, struct.pack("<Q", 1 << 40 | 1))
    assert "unknown features" in err(read_header, qed, "qed").message
    vmdk = create(tmp_path / "b.vmdk", fmt="vmdk", size="1M")
    patch(vmdk, 28, struct.pack("<QQ", 1 << 50, 1))
    assert "out of range" in err(read_header, vmdk, "vmdk").message
    (tmp_path / "short.vmdk").write_bytes(b"KDMV\x01\0\0\0")
    assert "truncated" in err(read_header, str(tmp_path / "short.vmdk"), "vmdk").message
    (tmp_path / "junk").write_bytes(b"\xff" * 100)
    for fmt in ("qcow2", "qcow", "qed", "vmdk", "cow", "vdi", "vpc", "ploop"):
        assert isinstance(err(read_header, str(tmp_path / "junk"), fmt), DriverError)
    assert err(read_header, str(tmp_path / "junk"), "vhdx").code is ErrorCode.CONFIG_UNSUPPORTED


def test_random_garbage_never_crashes(tmp_path):
    import random
    rnd = random.Random(1234)
    seed = create(tmp_path / "seed.qcow2", backing="base.raw", bfmt="raw", size="1M")
    src = pathlib.Path(seed).read_bytes()
    p = tmp_path / "fuzz.qcow2"
    for _ in range(300):
        data = bytearray(src[:4096])
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(0, 700)] = rnd.randrange(256)
        p.write_bytes(data[:rnd.choice([48, 72, 104, 300, 4096])])
        for fmt in ("qcow2", "qcow", "qed", "vmdk", "cow"):
            try:
                read_header(str(p), fmt)
            except DriverError:
                pass


# ---------------------------------------------------------------------------
# the audit hook
# ---------------------------------------------------------------------------

def test_audit_file_records_every_opened_path(chain3, tmp_path, monkeypatch):
    base, mid, top = chain3
    audit = tmp_path / "audit.log"
    monkeypatch.setenv("PYVIRSH_PROBE_AUDIT", str(audit))
    probe_chain(top, "qcow2")
    assert audit.read_text().splitlines() == [top, mid, base]
    detect_format(base)
    read_header(mid, "qcow2")
    assert audit.read_text().splitlines() == [top, mid, base, base, mid]
    monkeypatch.delenv("PYVIRSH_PROBE_AUDIT")
    probe_chain(top, "qcow2")
    assert len(audit.read_text().splitlines()) == 5


def test_audit_file_from_another_process(chain3, tmp_path):
    _, mid, top = chain3
    audit = tmp_path / "audit2.log"
    code = ("import sys; from pyvirsh.drivers.storage.chain import probe_chain; "
            "probe_chain(sys.argv[1], 'qcow2', max_depth=2)")
    env = dict(os.environ, PYVIRSH_PROBE_AUDIT=str(audit))
    r = subprocess.run([sys.executable, "-c", code, top], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "more than 2 layers" in r.stderr
    assert audit.read_text().splitlines() == [top, mid]      # refused before opening base


def test_import_is_cheap():
    """probe/chain add only os, stat and struct (and the format names) to what pyvirsh.drivers
    already imports."""
    code = ("import sys; import pyvirsh.drivers.api; before = set(sys.modules); "
            "import pyvirsh.drivers.storage.chain; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    new = set(r.stdout.split())
    assert new <= {"pyvirsh.drivers.storage", "pyvirsh.drivers.storage.probe", "pyvirsh.drivers.storage.imageformats",
                   "pyvirsh.drivers.storage.chain", "struct", "_struct", "stat", "_stat"}, new
