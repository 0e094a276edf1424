"""Benchmark: pyvirsh's in-process chain probe vs ``qemu-img info --backing-chain``.

Run as ``python tests/bench/bench_probe.py`` (re-executes itself under the
project's .venv if pyvirsh is not importable).  Builds one 200-layer qcow2
chain with absolute backing names in a temporary directory, then measures
both probes side by side, in one run, on sub-chains of 1, 10, 100 and 200
layers (layer k of the chain has a k-layer chain below and including it).
Prints medians and the ratio; removes the temporary directory at the end.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import itertools

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

try:
    from pyvirsh.drivers.storage.chain import probe_chain
except ImportError:
    venv_python = os.path.join(REPO, ".venv", "bin", "python")
    if os.path.exists(venv_python) and not os.environ.get("PYVIRSH_BENCH_REEXEC"):
        os.environ["PYVIRSH_BENCH_REEXEC"] = "1"       # guards against an exec loop
        os.execv(venv_python, [venv_python, os.path.abspath(__file__), *sys.argv[1:]])
    raise

DEPTHS = (1, 10, 100, 200)
RUNS = {1: 201, 10: 101, 100: 31, 200: 21}       # in-process probe runs per depth
QEMU_RUNS = {1: 21, 10: 15, 100: 9, 200: 7}      # qemu-img runs per depth


def build_chain(d: str, n: int) -> list[str]:
    """l0 (base) .. l{n-1}; absolute backing names; -u with a size keeps each create O(1)."""
    paths = [os.path.join(d, "l%d.qcow2" % i) for i in range(n)]
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", paths[0], "64M"], check=True)
    for prev, cur in itertools.pairwise(paths):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", prev, "-F", "qcow2",
                        cur, "64M"], check=True)
    return paths


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> int:
    if shutil.which("qemu-img") is None:
        print("qemu-img not found; install qemu-utils", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="pyvirsh-bench-probe-")
    try:
        t = time.perf_counter()
        paths = build_chain(tmp, max(DEPTHS))
        print("built a %d-layer qcow2 chain in %.1f s (%s)" % (len(paths), time.perf_counter() - t, tmp))
        print()
        print("%7s  %16s  %16s  %9s  %12s" % ("layers", "probe_chain (ms)", "qemu-img (ms)", "ratio",
                                             "probe/layer"))
        for depth in DEPTHS:
            top = paths[depth - 1]
            chain = probe_chain(top, "qcow2")
            assert len(chain) == depth, (len(chain), depth)
            argv = ["qemu-img", "info", "--backing-chain", "--output=json", top]
            ours = median_ms(lambda top=top: probe_chain(top, "qcow2"), RUNS[depth])
            theirs = median_ms(lambda argv=argv: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL),
                               QEMU_RUNS[depth])
            print("%7d  %16.3f  %16.2f  %8.0fx  %9.1f us" % (depth, ours, theirs, theirs / ours,
                                                           ours * 1e3 / depth))
        print()
        print("medians of %s / %s runs; in-process probe vs one qemu-img process per run"
              % ("/".join(str(RUNS[d]) for d in DEPTHS), "/".join(str(QEMU_RUNS[d]) for d in DEPTHS)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
