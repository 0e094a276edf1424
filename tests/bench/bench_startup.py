#!/usr/bin/env python3
"""One-shot command wall time: pyvirsh vs virsh on test:///default, side by side.

    python tests/bench/bench_startup.py [--runs N] [--pyvirsh PATH] [--baseline PATH]

Each command runs N times for each program, interleaved, after warm-up runs;
the table shows medians and the pyvirsh/virsh ratio (goal: at most 2.5x).
--baseline names another pyvirsh (say, an install of main) measured in the
same rounds, for a before/after column. Then the same commands run in one
process (a session's command strings, as the shell runs them): the cost of one
command after start-up (goal: at most 1 ms). Measure a non-editable install:
an editable one adds its import hook's own start-up.
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
    parser.add_argument("--baseline", help="another pyvirsh to measure in the same rounds")
    args = parser.parse_args()
    virsh = shutil.which("virsh")
    if not virsh or not args.pyvirsh:
        print("needs both virsh (libvirt-clients) and pyvirsh on PATH", file=sys.stderr)
        return 1
    env = dict(os.environ, LANG="C")
    programs = [virsh, args.pyvirsh] + ([args.baseline] if args.baseline else [])
    print("one-shot commands on test:///default, median of %d runs (ms)" % args.runs)
    print("%-28s %10s %10s %8s" % ("command", "virsh", "pyvirsh", "ratio")
          + ("%10s %8s" % ("baseline", "ratio") if args.baseline else ""))
    ratios: list[list[float]] = [[] for _ in programs[1:]]
    for command in COMMANDS:
        argvs = [[program, "-c", "test:///default"] + command for program in programs]
        for _ in range(3):
            for argv in argvs:
                _time(argv, env)
        times: list[list[float]] = [[] for _ in argvs]
        for _ in range(args.runs):
            for argv, measured in zip(argvs, times, strict=True):
                measured.append(_time(argv, env))
        medians = [statistics.median(t) for t in times]
        row = "%-28s %10.1f" % (" ".join(command), medians[0])
        for i, median in enumerate(medians[1:]):
            ratios[i].append(median / medians[0])
            row += " %10.1f %7.2fx" % (median, median / medians[0])
        print(row)
    print("%-28s %10s" % ("geometric mean", "") + "".join(" %10s %7.2fx" % ("", statistics.geometric_mean(r))
                                                           for r in ratios))
    in_process(args.runs)
    return 0


def in_process(runs: int) -> None:
    """Each command string run again and again in one session, as the shell runs it
    (with the pyvirsh that this Python imports)."""
    from pyvirsh.output import Output
    from pyvirsh.runner import parse_string, run_commands
    from pyvirsh.session import Session

    with open(os.devnull, "w") as sink:
        ctl = Session("test:///default", output=Output(stdout=sink, stderr=sink))
        ctl.connect()
        print("\nin one process (a session's command strings), median of %d rounds of 100 (ms per command)"
              % runs)
        for command in COMMANDS:
            text = " ".join(command)
            run_commands(ctl, parse_string(text))       # the command's module is loaded once
            rounds = []
            for _ in range(runs):
                start = time.perf_counter()
                for _ in range(100):
                    run_commands(ctl, parse_string(text))
                rounds.append((time.perf_counter() - start) * 10.0)
            print("%-28s %10.3f" % (text, statistics.median(rounds)))
        ctl.close()


if __name__ == "__main__":
    sys.exit(main())
