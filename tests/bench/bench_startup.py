#!/usr/bin/env python3
"""One-shot command wall time: pyvirsh vs virsh on test:///default, side by side.

    python tests/bench/bench_startup.py [--runs N] [--pyvirsh PATH]

Each command runs N times for each program, interleaved, after warm-up runs;
the table shows medians and the pyvirsh/virsh ratio (goal: at most 3x).
This measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["list"],
    ["list", "--all"],
    ["dominfo", "test"],
    ["domstate", "test", "--reason"],
    ["dumpxml", "test"],
    ["domblklist", "test"],
    ["snapshot-list", "test"],
    ["help", "domstate"],
]


def _time(argv, env) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return (time.perf_counter() - start) * 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pyvirsh", default=shutil.which("pyvirsh", path=os.path.dirname(sys.executable))
                        or shutil.which("pyvirsh"))
    args = parser.parse_args()
    virsh = shutil.which("virsh")
    if not virsh or not args.pyvirsh:
        print("needs both virsh (libvirt-clients) and pyvirsh on PATH", file=sys.stderr)
        return 1
    env = dict(os.environ, LANG="C")
    print("one-shot commands on test:///default, median of %d runs (ms)" % args.runs)
    print("%-28s %10s %10s %8s" % ("command", "virsh", "pyvirsh", "ratio"))
    ratios = []
    for command in COMMANDS:
        theirs = [virsh, "-c", "test:///default"] + command
        ours = [args.pyvirsh, "-c", "test:///default"] + command
        for _ in range(3):
            _time(theirs, env)
            _time(ours, env)
        a, b = [], []
        for _ in range(args.runs):
            a.append(_time(theirs, env))
            b.append(_time(ours, env))
        va, vb = statistics.median(a), statistics.median(b)
        ratios.append(vb / va)
        print("%-28s %10.1f %10.1f %7.2fx" % (" ".join(command), va, vb, vb / va))
    print("%-28s %10s %10s %7.2fx" % ("geometric mean", "", "", statistics.geometric_mean(ratios)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
