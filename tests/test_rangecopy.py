"""drivers/storage/rangecopy.py: the kernel copy under vol-upload and vol-download, each of
its ways on real files - on one file system and across two (the test's temporary
directory and /dev/shm, a tmpfs), where copy_file_range refuses (EXDEV) and splice goes on."""

from __future__ import annotations

import os
import threading

import pytest

from pyvirsh.drivers.storage import rangecopy, voldir

MIB = 1 << 20
SHM = "/dev/shm"


def _source(path: str) -> bytes:
    """3 MiB + 5 bytes of data at 1 MiB, the rest holes; returns the whole file's bytes."""
    data = os.urandom(3 * MIB + 5)
    with open(path, "wb") as f:
        f.truncate(8 * MIB)
        f.seek(MIB)
        f.write(data)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def files(tmp_path):
    src = str(tmp_path / "src")
    content = _source(src)
    if not os.path.isdir(SHM):
        pytest.skip("no /dev/shm")
    other = os.path.join(SHM, "pyvirsh-rangecopy-%d" % os.getpid())
    yield src, content, str(tmp_path / "dst"), other
    if os.path.exists(other):
        os.unlink(other)


def _copy_with(ways, src: str, dst: str, src_off: int, dst_off: int, length: int):
    s = os.open(src, os.O_RDONLY)
    d = os.open(dst, os.O_RDWR | os.O_CREAT, 0o600)
    copier = rangecopy.RangeCopier(s, d)
    if ways is not None:
        copier.ways = list(ways)
    try:
        moved = copier.copy(src_off, dst_off, length)
        return moved, copier.ways
    finally:
        copier.close()
        os.close(s)
        os.close(d)


def test_each_way_copies_the_bytes_at_the_offsets_asked(files):
    src, content, same_fs, other_fs = files
    for ways, dst in ((["splice"], same_fs), (["copy_file_range"], same_fs), ([], same_fs),
                      (["splice"], other_fs)):
        if os.path.exists(dst):
            os.unlink(dst)
        # 2 MiB from 1 MiB - 7 (some hole, then data) to 3 bytes past the target's start
        moved, _ = _copy_with(ways, src, dst, MIB - 7, 3, 2 * MIB)
        assert moved == 2 * MIB
        with open(dst, "rb") as f:
            assert f.read() == b"\0" * 3 + content[MIB - 7:3 * MIB - 7], ways


def test_a_refused_way_gives_way_to_the_next_and_a_short_source_ends_the_copy(files):
    src, content, _, other_fs = files
    # copy_file_range across two file systems: EXDEV, then splice does it and stays chosen
    moved, ways = _copy_with(["copy_file_range", "splice"], src, other_fs, 0, 0, 16 * MIB)
    assert ways == ["splice"]
    assert moved == 8 * MIB          # the source ends first: its size, not the length asked
    with open(other_fs, "rb") as f:
        assert f.read() == content


def test_transfer_keeps_holes_across_file_systems(files):
    src, content, _, other_fs = files
    fd = os.open(other_fs, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        assert voldir.transfer(src, fd, 0, 0, None, True) == 8 * MIB
    finally:
        os.close(fd)
    with open(other_fs, "rb") as f:
        assert f.read() == content
    assert os.stat(other_fs).st_blocks * 512 < 5 * MIB      # the holes stayed holes


def _mount_types() -> dict[str, str]:
    """Mount point -> file system type, as /proc/mounts (another kernel table) lists them."""
    with open("/proc/mounts") as f:
        return {line.split()[1]: line.split()[2] for line in f}


def test_the_first_way_follows_the_file_systems(files, tmp_path):
    src, _, same_fs, other_fs = files
    if _mount_types().get(SHM) != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs mount here")
    # its type read from /proc/self/mountinfo by the device number
    assert rangecopy.fs_type(os.stat(SHM).st_dev) == b"tmpfs"
    assert rangecopy.fs_type(os.makedev(4095, 4095)) is None        # no such mount: unknown
    here = rangecopy.fs_type(os.stat(str(tmp_path)).st_dev)
    for dst, types in ((same_fs, {here}), (other_fs, {here, b"tmpfs"})):
        s = os.open(src, os.O_RDONLY)
        d = os.open(dst, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            ways = rangecopy.RangeCopier(s, d).ways
        finally:
            os.close(s)
            os.close(d)
        # plain local file systems: our 1 MiB pipe first; any other (or unknown) may copy by itself
        assert ways == (["splice"] if types <= rangecopy.SPLICE_FIRST else ["copy_file_range", "splice"]), types


def test_transfer_to_a_pipe_or_a_device_writes_every_byte_in_order(files):
    """vol-download to /dev/stdout (a pipe) or /dev/null: no offsets, no holes there; the
    holes go as zeros, from --offset on, as cp writes them (it used to fail: ESPIPE, EINVAL)."""
    src, content, _, _ = files
    read_end, write_end = os.pipe()
    got: list[bytes] = []

    def drain():
        with os.fdopen(read_end, "rb") as f:
            got.append(f.read())
    reader = threading.Thread(target=drain)
    reader.start()
    try:
        assert not rangecopy.positioned(write_end)
        assert voldir.transfer(src, write_end, 5, 0, 6 * MIB, True) == 6 * MIB
    finally:
        os.close(write_end)
        reader.join()
    assert got == [content[5:5 + 6 * MIB]]
    fd = os.open("/dev/null", os.O_WRONLY)
    try:
        assert voldir.transfer(src, fd, 0, 0, None, False) == 8 * MIB
    finally:
        os.close(fd)
