#!/usr/bin/env python3
"""pyvirsh's own QMP client vs QEMU's qemu.qmp library, side by side in one run.

    python tests/bench/bench_qmp.py [--runs N] [--round-trips N]

Against one bare QEMU (-S, no guest) it measures:
1. a fresh Python process that imports the client, connects, negotiates and runs
   one `query-status` (what a one-shot pyvirsh command pays), and
2. in one process, `query-status` round trips on an open connection.

qemu.qmp is in pyvirsh's `bench` extra (pip install '.[bench]'); without it only
pyvirsh's client is measured. This measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

OURS = """
from pyvirsh.drivers.qemu.qmp import QMP
with QMP(%(sock)r) as q:
    q.execute("query-status")
"""

THEIRS = """
from qemu.qmp.legacy import QEMUMonitorProtocol
m = QEMUMonitorProtocol(%(sock)r)
m.connect()
m.cmd("query-status")
m.close()
"""

OURS_LOOP = """
import time
from pyvirsh.drivers.qemu.qmp import QMP
with QMP(%(sock)r) as q:
    start = time.perf_counter()
    for _ in range(%(n)d):
        q.execute("query-status")
    print((time.perf_counter() - start) * 1000.0 / %(n)d)
"""

THEIRS_LOOP = """
import time
from qemu.qmp.legacy import QEMUMonitorProtocol
m = QEMUMonitorProtocol(%(sock)r)
m.connect()
start = time.perf_counter()
for _ in range(%(n)d):
    m.cmd("query-status")
print((time.perf_counter() - start) * 1000.0 / %(n)d)
m.close()
"""


def have_qemu_qmp() -> bool:
    return subprocess.run([sys.executable, "-c", "import qemu.qmp"], capture_output=True).returncode == 0


def start_qemu(base: str) -> tuple[subprocess.Popen, str]:
    sock = os.path.join(base, "qmp.sock")
    emulator = shutil.which("qemu-system-x86_64")
    if emulator is None:
        raise SystemExit("qemu-system-x86_64 is not installed (apt-get install -y qemu-system-x86)")
    proc = subprocess.Popen([emulator, "-S", "-display", "none", "-nodefaults", "-machine", "none",
                             "-qmp", "unix:%s,server=on,wait=off" % sock],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("QEMU did not start")
        time.sleep(0.01)
    return proc, sock


def fresh_process_ms(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def round_trip_ms(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--round-trips", type=int, default=2000)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="pyvirsh-bench-qmp-")
    proc = None
    try:
        proc, sock = start_qemu(base)
        theirs = have_qemu_qmp()
        values = {"sock": sock, "n": args.round_trips}
        python_floor = fresh_process_ms("pass", args.runs)
        ours_proc = fresh_process_ms(OURS % values, args.runs)
        ours_rt = round_trip_ms(OURS_LOOP % values)
        print("QMP clients against one bare QEMU (ms, medians of %d processes)" % args.runs)
        print("  %-52s %8.1f" % ("python -c pass (floor)", python_floor))
        print("  %-52s %8.1f" % ("pyvirsh qmp: import + connect + query-status", ours_proc))
        if theirs:
            theirs_proc = fresh_process_ms(THEIRS % values, args.runs)
            print("  %-52s %8.1f   pyvirsh's is %.1fx faster" % ("qemu.qmp.legacy: import + connect + query-status",
                                                                 theirs_proc, theirs_proc / ours_proc))
        print("query-status round trip on an open connection, mean of %d (ms)" % args.round_trips)
        print("  %-52s %8.3f" % ("pyvirsh qmp", ours_rt))
        if theirs:
            theirs_rt = round_trip_ms(THEIRS_LOOP % values)
            print("  %-52s %8.3f   ratio %.2fx" % ("qemu.qmp.legacy", theirs_rt, theirs_rt / ours_rt))
        else:
            print("qemu.qmp is not installed: pip install '.[bench]' to compare")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
