#!/usr/bin/env python3
"""`domstats` of 20 running domains in one one-shot command: pyvirsh vs virsh + libvirtd,
side by side in one run (goal: pyvirsh at most 1.5x).

    python tests/bench/bench_domstats.py [--runs N] [--domains N]

Each side runs the same N (default 20) firmware-only guests (no kernel, started paused
under TCG: cheap, and every statistic is there), each with a 3-layer qcow2 chain, a raw
disk and an empty cdrom. pyvirsh's run in its own embedded driver (qemu:///embed?root=...),
libvirtd's under a libvirtd the bench starts (tests/bench/libvirtdref.py). The commands
alternate in every round, so load from elsewhere falls on both alike; medians and their ratio
are printed for `domstats` (every group), `domstats --block --backing` and
`domstats --state`. It measures; it asserts nothing. Everything lives in a temporary
directory that is removed, and every domain is destroyed and undefined at the end.
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from difftool import pyvirsh_argv
from libvirtdref import Libvirtd

NAME = "pyvirsh-stats-bench-%02d"
DOMAIN_XML = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>32</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='%(dir)s/top.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='%(dir)s/data.raw'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""
COMMANDS = (["domstats"], ["domstats", "--block", "--backing"], ["domstats", "--state"])


def images(folder: str) -> None:
    os.makedirs(folder)
    create = ["qemu-img", "create", "-q", "-f", "qcow2"]
    subprocess.run(create + [folder + "/base.qcow2", "16M"], check=True)
    subprocess.run(create + ["-b", folder + "/base.qcow2", "-F", "qcow2", folder + "/mid.qcow2"], check=True)
    subprocess.run(create + ["-b", folder + "/mid.qcow2", "-F", "qcow2", folder + "/top.qcow2"], check=True)
    with open(folder + "/data.raw", "wb") as f:
        f.truncate(8 << 20)
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o666)


def define_all(argv: list[str], base: str, side: str, count: int) -> None:
    for n in range(count):
        folder = os.path.join(base, side, "d%d" % n)
        images(folder)
        xml = os.path.join(base, side, "d%d.xml" % n)
        with open(xml, "w") as f:
            f.write(DOMAIN_XML % {"name": NAME % n, "dir": folder})
        subprocess.run(argv + ["define", xml], check=True, capture_output=True)
        for _attempt in range(10):
            started = subprocess.run(argv + ["start", NAME % n, "--paused"], capture_output=True, text=True)
            # A libvirtd just started may come up before its virtlogd listens: wait for it.
            if started.returncode == 0 or "virtlogd-sock" not in started.stderr:
                break
            time.sleep(0.5)
        if started.returncode != 0:
            raise SystemExit("%s could not start %s: %s" % (side, NAME % n, started.stderr.strip()))


def forget_all(argv: list[str], count: int) -> None:
    for n in range(count):
        subprocess.run(argv + ["destroy", NAME % n], capture_output=True)
        subprocess.run(argv + ["undefine", NAME % n], capture_output=True)


# An installed pyvirsh has its bytecode compiled; a checkout gets it on the first (warm-up) run,
# whatever PYTHONDONTWRITEBYTECODE the caller's environment has.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, env=ENV)
    elapsed = (time.perf_counter() - start) * 1000.0
    if not proc.stdout.startswith(b"Domain: "):
        raise SystemExit("%s printed no statistics" % argv)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--domains", type=int, default=20)
    args = parser.parse_args()
    if not os.path.exists("/usr/sbin/libvirtd"):
        raise SystemExit("libvirtd is not installed (libvirt-daemon-driver-qemu): nothing to compare with")
    base = tempfile.mkdtemp(prefix="bench-domstats-")
    os.chmod(base, 0o755)           # libvirtd's QEMU may run as another user (qemu.conf)
    ours = pyvirsh_argv() + ["-c", "qemu:///embed?root=%s" % os.path.join(base, "root")]
    daemon = Libvirtd(os.path.join(base, "libvirtd"))
    os.makedirs(daemon.dir)
    theirs: list[str] = []
    try:
        define_all(ours, base, "pyvirsh", args.domains)
        daemon.start()
        theirs = ["virsh", "-c", daemon.uri]
        define_all(theirs, base, "libvirtd", args.domains)
        print("one-shot domstats of %d running (paused, firmware-only) domains, median of %d runs (ms)"
              % (args.domains, args.runs))
        print("  %-32s %10s %16s %8s" % ("command", "pyvirsh", "virsh+libvirtd", "ratio"))
        for command in COMMANDS:
            timed(ours + command)           # warm-up: bytecode written, files in the page cache
            timed(theirs + command)
            mine: list[float] = []
            peer: list[float] = []
            for _ in range(args.runs):
                mine.append(timed(ours + command))
                peer.append(timed(theirs + command))
            a, b = statistics.median(mine), statistics.median(peer)
            print("  %-32s %10.1f %16.1f %7.2fx" % (" ".join(command), a, b, a / b))
    finally:
        forget_all(ours, args.domains)
        if theirs:
            forget_all(theirs, args.domains)
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
