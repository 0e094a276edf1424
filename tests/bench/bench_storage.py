#!/usr/bin/env python3
"""The QEMU driver's storage volumes measured against their peers, side by side in one run.

    python tests/bench/bench_storage.py [--runs N] [--size-mib N] [--volumes N] [--skip-copy] [--skip-list]
                                        [--pyvirsh PATH]

1. vol-upload / vol-download of a 1 GiB volume (whole one-shot processes) beside the tools a
   user would otherwise run on the same files (goal: pyvirsh >= 0.9x their speed):
   - without --sparse: a dense file (every block written) vs `dd bs=1M conv=notrunc` into
     the same volume file, and `dd bs=1M` out of it;
   - with --sparse: a file of 64 data extents of 4 MiB (a quarter of it) and holes vs
     `cp --sparse=always` into the same volume file and out of it.
   The volume is fully allocated before every upload (as `vol-create-as` leaves a raw volume),
   for pyvirsh and for the peer alike.
2. One-shot `vol-list` and `vol-list --details` of a pool of 1,000 volumes (raw files, qcow2
   images, qcow2 images over a backing volume) beside virsh with a libvirtd the bench starts
   (its own socket, the same directory as a transient pool; goal: pyvirsh at most 2x).

Every round runs each program once (and the same driver call in this process: the copy
without Python's start), in turns, so that load from elsewhere falls on all alike, and every other round in the opposite order; before each run the files are put back
as they were and os.sync() writes back what the runs before left dirty, so that every run
starts from the same state (the files it reads in the page cache, nothing of another run's
to write back) and pays only for its own work. The tables show medians. It measures; it
asserts nothing. Everything lives in a temporary directory that is removed.

--pyvirsh names the pyvirsh to run (default: this Python's). Measure a non-editable install
(`pip install .` into a venv): an editable one adds its import hook's own start-up (pathlib,
urllib.parse... at every process start, some 15 ms here) to every pyvirsh figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from difftool import pyvirsh_argv

PYVIRSH = pyvirsh_argv()          # --pyvirsh replaces it
from libvirtdref import Libvirtd

POOL = "pyvirsh-bench-pool"      # a transient pool of libvirtd's: gone when it is destroyed
MIB = 1 << 20


def bytecode_env(base: str) -> None:
    """pyvirsh's modules compiled once, as an installed package has them: a bytecode cache of
    the bench's own (PYTHONDONTWRITEBYTECODE would otherwise compile every module every run)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(base, "pycache")
    subprocess.run(PYVIRSH + ["-c", "test:///default", "version"], capture_output=True, check=True)


def _cpu() -> float:
    """CPU time (ms, user and system) of this process and its waited-for children so far."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime) * 1000.0


def timed(job) -> tuple[float, float]:
    """Wall and CPU time (ms) of a program (an argv) or of a call in this process. The CPU
    time varies less with the machine's load than the wall time does."""
    cpu = _cpu()
    start = time.perf_counter()
    if callable(job):
        job()
    else:
        subprocess.run(job, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000.0, _cpu() - cpu


def settle(before=None) -> None:
    """The files as the next run expects them, and nothing dirty left to write back."""
    if before is not None:
        before()
    os.sync()


def rounds(runs: int, jobs: list, before=None, cpu: list | None = None) -> list[float]:
    """Median wall time (ms) of each job (see timed), their median CPU times appended to cpu;
    every round runs each once, in turns, every other round in the opposite order (neither
    always runs just after the other)."""
    times: list[list[tuple[float, float]]] = [[] for _ in jobs]
    for n in range(runs):
        order = list(range(len(jobs)))
        for k in order if n % 2 == 0 else order[::-1]:
            settle(before)
            times[k].append(timed(jobs[k]))
    if cpu is not None:
        cpu.extend(statistics.median(c for _, c in t) for t in times)
    return [statistics.median(w for w, _ in t) for t in times]


def write_dense(path: str, size: int) -> None:
    block = os.urandom(4 * MIB)
    with open(path, "wb") as f:
        f.writelines(block for _ in range(size // len(block)))


def write_sparse(path: str, size: int) -> None:
    """64 data extents of 4 MiB spread evenly, holes between them."""
    block = os.urandom(4 * MIB)
    with open(path, "wb") as f:
        f.truncate(size)
        for k in range(64):
            f.seek(k * (size // 64))
            f.write(block)


def allocate(path: str, size: int) -> None:
    """The volume as vol-create-as leaves a raw one: every block allocated."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        os.posix_fallocate(fd, 0, size)
    finally:
        os.close(fd)


def bench_copy(base: str, runs: int, size: int) -> None:
    os.makedirs(base)
    root = os.path.join(base, "root")
    pool_dir = os.path.join(base, "pool")
    shell = PYVIRSH + ["-c", "qemu:///embed?root=%s" % root]
    subprocess.run(shell + ["pool-create-as", "bp", "dir", "--target", pool_dir, "--build"], check=True,
                   capture_output=True)
    subprocess.run(shell + ["vol-create-as", "bp", "v", str(size)], check=True, capture_output=True)
    subprocess.run(shell + ["vol-list", "bp", "--details"], check=True, capture_output=True)   # compiled
    vol = os.path.join(pool_dir, "v")
    dense, sparse, out = (os.path.join(base, n) for n in ("dense.img", "sparse.img", "out.img"))
    write_dense(dense, size)
    write_sparse(sparse, size)

    def fresh_volume():
        allocate(vol, size)

    def no_output():
        if os.path.exists(out):
            os.unlink(out)

    dd = ["dd", "bs=1M", "status=none"]
    cases = [
        ("vol-upload", [shell + ["vol-upload", "v", dense, "--pool", "bp"],
                        dd + ["if=" + dense, "of=" + vol, "conv=notrunc"]], fresh_volume, "dd"),
        ("vol-download", [shell + ["vol-download", "v", out, "--pool", "bp"],
                          dd + ["if=" + vol, "of=" + out]], no_output, "dd"),
        ("vol-upload --sparse", [shell + ["vol-upload", "v", sparse, "--pool", "bp", "--sparse"],
                                 ["cp", "--sparse=always", sparse, vol]], fresh_volume, "cp --sparse=always"),
        ("vol-download --sparse", [shell + ["vol-download", "v", out, "--pool", "bp", "--sparse"],
                                   ["cp", "--sparse=always", vol, out]], no_output, "cp --sparse=always"),
    ]
    # The same calls in this process: the copy without Python's start and imports.
    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.api import VolStreamFlags
    handle = open_connection("qemu:///embed?root=%s" % root).lookup_storage_pool_by_name("bp") \
        .lookup_vol_by_name("v")
    SPARSE = VolStreamFlags.SPARSE_STREAM

    def download(flags):
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            handle.download(fd, 0, 0, flags)
        finally:
            os.close(fd)
    calls = [lambda: handle.upload(dense, 0, 0, 0), lambda: download(0),
             lambda: handle.upload(sparse, 0, 0, SPARSE), lambda: download(SPARSE)]
    print("vol-upload / vol-download of %d MiB, median of %d (ms); ratio = peer time / pyvirsh "
          "time (goal >= 0.9); cpu: the one-shot's CPU time beside the peer's" % (size // MIB, runs))
    print("  %-24s %9s %9s %8s %11s %8s %6s %6s %8s   %s" % (
        "command", "pyvirsh", "peer", "ratio", "in-process", "ratio", "cpu", "peer", "ratio", "peer"))
    for (label, argvs, before, peer), call in zip(cases, calls):
        if label == "vol-download --sparse":
            # the volume holds the sparse file's data and holes, as after an upload with --sparse
            subprocess.run(shell + ["vol-upload", "v", sparse, "--pool", "bp", "--sparse"], check=True,
                           capture_output=True)
        # the call in this process runs in the same rounds: load from elsewhere falls on it alike
        cpu: list[float] = []
        ours, theirs, mid = rounds(runs, argvs + [call], before, cpu)
        print("  %-24s %9.0f %9.0f %7.2fx %11.0f %7.2fx %6.0f %6.0f %7.2fx   %s" % (
            label, ours, theirs, theirs / ours, mid, theirs / mid, cpu[0], cpu[1], cpu[1] / cpu[0], peer))
    # pyvirsh's own start and lookup (the part of every one-shot figure above no copy can save)
    interpreter = _interpreter(PYVIRSH)
    start, bare = rounds(runs, [shell + ["vol-path", "v", "--pool", "bp"], [interpreter, "-c", "pass"]])
    print("  %-24s %9.0f   (one-shot start and lookup, in every pyvirsh figure)" % ("vol-path", start))
    print("  %-24s %9.0f   (the interpreter's own start, in every pyvirsh figure)" % ("python -c pass", bare))
    subprocess.run(shell + ["pool-destroy", "bp"], check=True, capture_output=True)


def _interpreter(argv: list[str]) -> str:
    """The Python that runs pyvirsh: argv's first word, or the #! line of a pyvirsh script."""
    try:
        with open(argv[0], "rb") as f:
            line = f.readline()
    except OSError:
        return argv[0]
    return line[2:].decode().split()[0] if line.startswith(b"#!") else argv[0]


def make_volumes(pool_dir: str, count: int) -> None:
    """count volumes: sparse raw files (a third), qcow2 images, qcow2 images over one of the
    raw ones (its name relative to the pool, its format recorded); a few MiB on disk in all."""
    os.makedirs(pool_dir)
    templates = {"q": os.path.join(pool_dir, "q0001.qcow2"), "o": os.path.join(pool_dir, "o0002.qcow2")}
    with open(os.path.join(pool_dir, "r0000.img"), "wb") as f:
        f.truncate(64 * MIB)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", templates["q"], "1G"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "r0000.img", "-F", "raw", templates["o"]],
                   check=True, cwd=pool_dir)
    for n in range(3, count):
        kind = "rqo"[n % 3]
        path = os.path.join(pool_dir, "%s%04d.%s" % (kind, n, "img" if kind == "r" else "qcow2"))
        if kind == "r":
            with open(path, "wb") as f:
                f.truncate(64 * MIB)
        else:
            shutil.copyfile(templates[kind], path)
    for name in os.listdir(pool_dir):
        os.chmod(os.path.join(pool_dir, name), 0o644)


def bench_list(base: str, runs: int, count: int) -> None:
    os.makedirs(base)
    os.chmod(base, 0o755)
    root = os.path.join(base, "root")
    pool_dir = os.path.join(base, "pool")
    make_volumes(pool_dir, count)
    shell = PYVIRSH + ["-c", "qemu:///embed?root=%s" % root]
    subprocess.run(shell + ["pool-create-as", "bp", "dir", "--target", pool_dir], check=True,
                   capture_output=True)
    subprocess.run(shell + ["vol-list", "bp", "--details"], check=True, capture_output=True)   # compiled
    daemon = None
    virsh = None
    why = ""
    if not os.path.exists("/usr/sbin/libvirtd"):
        why = "libvirtd is not installed (libvirt-daemon-driver-qemu)"
    else:
        daemon = Libvirtd(os.path.join(base, "libvirtd"))
        os.makedirs(daemon.dir)
        daemon.start()
        virsh = ["virsh", "-c", daemon.uri]
        subprocess.run(virsh + ["pool-create-as", POOL, "dir", "--target", pool_dir], check=True,
                       capture_output=True)
    try:
        print("one-shot vol-list of a pool of %d volumes, median of %d (ms)" % (count, runs))
        if virsh is None:
            print("  (no virsh + libvirtd column: %s)" % why)
        print("  %-24s %9s %15s %8s" % ("command", "pyvirsh", "virsh+libvirtd", "ratio"))
        for extra in ([], ["--details"]):
            argvs = [shell + ["vol-list", "bp"] + extra]
            if virsh is not None:
                argvs.append(virsh + ["vol-list", POOL] + extra)
            medians = rounds(runs, argvs)
            if virsh is None:
                print("  %-24s %9.0f" % (" ".join(["vol-list"] + extra), medians[0]))
            else:
                print("  %-24s %9.0f %15.0f %7.2fx   (goal <= 2)" % (
                    " ".join(["vol-list"] + extra), medians[0], medians[1], medians[0] / medians[1]))
    finally:
        if virsh is not None:
            subprocess.run(virsh + ["pool-destroy", POOL], capture_output=True)
        if daemon is not None:
            daemon.stop()
        subprocess.run(shell + ["pool-destroy", "bp"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--volumes", type=int, default=1000)
    parser.add_argument("--skip-copy", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    parser.add_argument("--pyvirsh", help="the pyvirsh program to measure (a non-editable install)")
    args = parser.parse_args()
    if args.pyvirsh:
        PYVIRSH[:] = [args.pyvirsh]
    base = tempfile.mkdtemp(prefix="pyvirsh-bench-storage-")
    print("pyvirsh: %s; load average %.2f %.2f %.2f" % ((" ".join(PYVIRSH),) + os.getloadavg()))
    try:
        os.chmod(base, 0o755)       # libvirtd may read the pool as another user
        bytecode_env(base)
        if not args.skip_copy:
            bench_copy(os.path.join(base, "copy"), args.runs, args.size_mib * MIB)
            print()
        if not args.skip_list:
            bench_list(os.path.join(base, "list"), args.runs, args.volumes)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("load average at the end %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
