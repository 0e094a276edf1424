#!/usr/bin/env python3
"""The concurrency and crash program of issue 17: many pyvirsh processes at once on a few
real QEMU domains, some of them killed (SIGKILL) at random points, QEMU itself sometimes
killed from outside during a block job; then every invariant is checked.

    python3 tests/stress/stress.py                       # N=16 processes, 4 domains, 10 minutes
    python3 tests/stress/stress.py --seconds 120         # the CI length (tests/test_stress.py)
    python3 tests/stress/stress.py --procs 32 --kill-rate 0.2 --seed 7

Each of the N workers loops: pick a domain and an operation (define, start --paused, destroy,
undefine, snapshot-create-as --disk-only, snapshot-delete, blockcommit --active --pivot or
--shallow, blockpull, a guest write through QEMU, a read such as domblklist), run it as its
own pyvirsh process, and record its exit status and first error line. Several workers act
on the same domain at once. At the end, after one plain command per domain and again after
every domain is stopped (tests/invariants.py):

- the persistent XML, the status XML, the snapshot metadata and the cached chain agree
  with each other and with the files (qemu-img info --backing-chain), and QEMU has open
  exactly the cached layers;
- every pattern a guest write reported done, and the data the images started with, read
  back through the persistent definition's top (qemu-io);
- no QEMU runs that pyvirsh does not show running, none at all once every domain is
  stopped; no temporary file is left, no lock is held;
- every failed command failed with one clear `error:` (no traceback, no Python exception
  dressed as an internal error), and none was killed by a signal it did not get from us.

It prints the operations run, kills, throughput, failures grouped by message, and the
violations; the exit status is 1 when there is any violation.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))           # tests/: qemuhelp, invariants, difftool

from difftool import pyvirsh_argv
from invariants import check, domain_names
from qemuhelp import Env, domain_xml, qemu_img, qemu_io

MiB = 1 << 20
BASE_DATA = (0, 8)              # MiB offset and length written into base.qcow2 before the run
TOP_DATA = (8, 8)               # ... and into top.qcow2
FIRST_SLOT, SLOTS = 16, 48      # guest writes: 1 MiB slots 16..63, the last pattern of each must stay
PYTHON_ERROR = re.compile(r"internal error: [A-Za-z_.]*(Error|Exception)\b|Traceback")

# Operation weights: chain-altering ones dominate; reads keep the lookup paths busy too.
OPERATIONS = {
    "start": 6, "destroy": 3, "snapshot": 8, "snapshot-delete": 4, "commit-active": 4,
    "commit-shallow": 2, "pull": 3, "guest-write": 8, "read": 6, "define-undefine": 2,
}
# Operations a kill may hit (they change state); reads and guest writes are never killed.
KILLABLE = {"start", "destroy", "snapshot", "snapshot-delete", "commit-active", "commit-shallow", "pull",
            "define-undefine"}


class Domain:
    def __init__(self, env: Env, index: int):
        self.name = "stress%d" % index
        self.base = env.path("%s-base.qcow2" % self.name)
        self.top = env.path("%s-top.qcow2" % self.name)
        self.xml = domain_xml(self.name, [("vda", self.top, "qcow2")], dom_type="kvm")
        self.patterns = {"base": 0x10 + index, "top": 0x30 + index}
        self.written: dict[int, int] = {}       # slot -> pattern of the last guest write that succeeded
        self.lock = threading.Lock()
        self.writes = 0
        self.snapshots = 0

    def prepare(self) -> None:
        qemu_img("create", "-q", "-f", "qcow2", self.base, "64M")
        qemu_img("create", "-q", "-f", "qcow2", "-b", self.base, "-F", "qcow2", self.top)
        for path, (off, length), pattern in ((self.base, BASE_DATA, self.patterns["base"]),
                                             (self.top, TOP_DATA, self.patterns["top"])):
            proc = qemu_io(path, "write -P 0x%x %dM %dM" % (pattern, off, length))
            if proc.returncode != 0:
                raise SystemExit("qemu-io: %s" % proc.stderr)

    def next_write(self, rnd: random.Random) -> tuple[int, int]:
        """A slot and a pattern (never 0, never the slot's current one)."""
        with self.lock:
            self.writes += 1
            return FIRST_SLOT + rnd.randrange(SLOTS), 1 + self.writes % 255


class Stress:
    def __init__(self, args, base: str):
        self.args = args
        self.env = Env(base)
        self.domains = [Domain(self.env, i) for i in range(args.domains)]
        self.deadline = time.monotonic() + args.seconds
        self.ops = 0
        self.kills = 0
        self.qemu_kills = 0
        self.scratch = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.unclear: list[str] = []
        self.mutex = threading.Lock()
        self.xml_files = {}
        for dom in self.domains:
            path = os.path.join(self.env.base, dom.name + ".xml")
            with open(path, "w") as f:
                f.write(dom.xml)
            self.xml_files[dom.name] = path

    # --- one pyvirsh process -----------------------------------------------------------

    def pyvirsh(self, rnd: random.Random, op: str, *args: str) -> tuple[int | None, str]:
        """Run one command; maybe kill it. Returns (exit status or None when we killed it, stderr)."""
        env = dict(os.environ, LANG="C")
        env.pop("PYVIRSH_DEFAULT_URI", None)
        proc = subprocess.Popen(pyvirsh_argv() + ["-c", self.env.uri, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)
        killed = False
        if op in KILLABLE and rnd.random() < self.args.kill_rate:
            try:
                proc.wait(timeout=rnd.uniform(0.0, 1.5))
            except subprocess.TimeoutExpired:
                proc.kill()
                killed = True
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            self.record_unclear("%s timed out after 300 s" % " ".join(args))
            return 1, ""
        text = err.decode("utf-8", "replace")
        if killed and proc.returncode == -signal.SIGKILL:
            with self.mutex:
                self.kills += 1
            return None, text
        self.judge(args, proc.returncode, text)
        return proc.returncode, text

    def judge(self, args, status: int, err: str) -> None:
        if status == 0:
            key = "ok"
        else:
            # a repair the driver made on its own comes first as `warning: ...` (drivers/notices.py)
            lines = [line for line in err.splitlines() if line and not line.startswith("warning: ")]
            key = _shape(lines[-1] if lines else "(no message)")
            if status != 1 or not lines or not all(line.startswith("error: ") for line in lines):
                self.record_unclear("%s -> exit %s: %r" % (" ".join(args), status, err[-300:]))
        if PYTHON_ERROR.search(err):
            self.record_unclear("%s -> %r" % (" ".join(args), err[-300:]))
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        with self.mutex:
            self.ops += 1
            self.outcomes[key] += 1
            for line in warnings:
                self.outcomes[_shape(line)] += 1

    def record_unclear(self, text: str) -> None:
        with self.mutex:
            self.unclear.append(text)

    # --- operations ----------------------------------------------------------------------

    def step(self, rnd: random.Random) -> None:
        dom = rnd.choice(self.domains)
        op = rnd.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        name = dom.name
        if op == "start":
            self.pyvirsh(rnd, op, "start", name, "--paused")
        elif op == "destroy":
            self.pyvirsh(rnd, op, "destroy", name)
        elif op == "snapshot":
            with dom.lock:
                dom.snapshots += 1
                snap = "s%d" % dom.snapshots
            self.pyvirsh(rnd, op, "snapshot-create-as", name, snap, "--disk-only", "--atomic")
        elif op == "snapshot-delete":
            snaps = self.snapshot_names(name)
            if snaps:
                self.pyvirsh(rnd, op, "snapshot-delete", name, rnd.choice(snaps))
        elif op == "commit-active":
            self.pyvirsh(rnd, op, "blockcommit", name, "vda", "--active", "--pivot", "--wait")
        elif op == "commit-shallow":
            self.pyvirsh(rnd, op, "blockcommit", name, "vda", "--shallow", "--wait")
        elif op == "pull":
            self.pyvirsh(rnd, op, "blockpull", name, "vda", "--wait")
            if rnd.random() < self.args.qemu_kill_rate:
                self.kill_qemu(dom)
        elif op == "guest-write":
            self.guest_write(dom, rnd)
        elif op == "define-undefine":
            # a domain of its own that comes and goes beside the others (driver lock, names)
            with self.mutex:
                self.scratch += 1
                scratch = "scratch%d" % self.scratch
            path = os.path.join(self.env.base, scratch + ".xml")
            with open(path, "w") as f:
                f.write(domain_xml(scratch, [], dom_type="kvm"))
            if self.pyvirsh(rnd, op, "define", path)[0] == 0:
                self.pyvirsh(rnd, op, "undefine", scratch)
        else:
            args = rnd.choice((["domblklist", name], ["dumpxml", name], ["list", "--all"], ["domstate", name],
                               ["snapshot-list", name], ["domblkinfo", name, "vda"]))
            self.pyvirsh(rnd, "read", *args)

    def snapshot_names(self, name: str) -> list[str]:
        proc = subprocess.run(pyvirsh_argv() + ["-c", self.env.uri, "snapshot-list", name, "--name"],
                              capture_output=True, text=True, env=dict(os.environ, LANG="C"))
        self.judge(["snapshot-list", name, "--name"], proc.returncode, proc.stderr)
        return [line for line in proc.stdout.splitlines() if line.strip()]

    def guest_write(self, dom: Domain, rnd: random.Random) -> None:
        """A write by the guest through QEMU's block layer into the active image, flushed: once
        it reports done, its data must survive whatever comes after."""
        from pyvirsh.drivers import open_connection
        from pyvirsh.drivers.api import DriverError
        from pyvirsh.drivers.qemu.qmp import QMP

        slot, pattern = dom.next_write(rnd)
        conn = open_connection(self.env.uri)
        sock = os.path.join(self.env.root, "run", dom.name, "qmp.sock")
        try:
            with conn.domain_lock(dom.name):      # one QMP client at a time, as pyvirsh itself
                if not os.path.exists(os.path.join(self.env.root, "run", dom.name + ".status.xml")):
                    return
                with QMP(sock) as q:
                    for line in ("write -P 0x%x %dM 1M" % (pattern, slot), "flush"):
                        reply = q.execute("human-monitor-command", {
                            "command-line": 'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "%s"'
                                            % line})
                        if reply:       # qemu-io prints only on failure
                            return
                with dom.lock:          # recorded under the domain lock: the last write is the last recorded
                    dom.written[slot] = pattern
        except (DriverError, OSError):
            return
        with self.mutex:
            self.ops += 1
            self.outcomes["ok (guest write)"] += 1

    def kill_qemu(self, dom: Domain) -> None:
        pidfile = os.path.join(self.env.root, "run", dom.name, "qemu.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            return
        with self.mutex:
            self.qemu_kills += 1

    # --- the run -------------------------------------------------------------------------

    def worker(self, seed: int) -> None:
        rnd = random.Random(seed)
        while time.monotonic() < self.deadline and (not self.args.ops or self.ops < self.args.ops):
            self.step(rnd)

    def run(self) -> list[str]:
        for dom in self.domains:
            dom.prepare()
            self.env.ok("define", self.xml_files[dom.name])
        started = time.monotonic()
        threads = [threading.Thread(target=self.worker, args=(self.args.seed * 1000 + i,))
                   for i in range(self.args.procs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.monotonic() - started
        return self.verify()

    def verify(self) -> list[str]:
        problems = list(self.unclear)
        # One plain command per domain reconciles what kills left; then the invariants hold.
        for dom in self.domains:
            self.env.run("domblklist", dom.name)
        for name in domain_names(self.env):
            problems += check(self.env, name)
        for dom in self.domains:
            if dom.name in self.env.ok("list", "--name"):
                self.env.ok("destroy", dom.name)
        for name in domain_names(self.env):
            problems += check(self.env, name)
        problems += self.stray_qemu() + self.held_locks()
        for dom in self.domains:
            problems += self.data_problems(dom)
        return problems

    def stray_qemu(self) -> list[str]:
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if b"qemu-system" in argv and self.env.root.encode() in argv:
                out.append("QEMU %s still runs after every domain was stopped" % entry)
        return out

    def held_locks(self) -> list[str]:
        out = []
        for directory, _dirs, files in os.walk(self.env.root):
            for entry in files:
                if not entry.endswith(".lock"):
                    continue
                path = os.path.join(directory, entry)
                fd = os.open(path, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    out.append("lock still held: %s" % path)
                finally:
                    os.close(fd)
        return out

    def data_problems(self, dom: Domain) -> list[str]:
        """Every pattern read back through the persistent definition's top."""
        from lxml import etree

        proc = self.env.run("dumpxml", dom.name, "--inactive")
        if proc.returncode != 0:
            return ["%s: dumpxml --inactive failed: %s" % (dom.name, proc.stderr.strip())]
        top = etree.fromstring(proc.stdout.encode()).find("devices/disk/source").get("file")
        regions = [(BASE_DATA, dom.patterns["base"]), (TOP_DATA, dom.patterns["top"])]
        regions += [((slot, 1), pattern) for slot, pattern in sorted(dom.written.items())]
        out = []
        for (off, length), pattern in regions:
            read = qemu_io(top, "read -P 0x%x %dM %dM" % (pattern, off, length), readonly=True)
            if read.returncode != 0 or "Pattern verification failed" in read.stdout:
                out.append("%s: pattern 0x%x at %d MiB lost (top %s): %s" % (
                    dom.name, pattern, off, top, (read.stdout + read.stderr).strip()[-200:]))
        return out

    def report(self, problems: list[str], out=print) -> None:
        out("pyvirsh stress: %d processes, %d domains, %.0f s" % (self.args.procs, self.args.domains, self.elapsed))
        out("operations: %d (%.1f/s), pyvirsh killed: %d, QEMU killed: %d"
            % (self.ops, self.ops / max(self.elapsed, 1e-9), self.kills, self.qemu_kills))
        out("outcomes by message:")
        for key, count in self.outcomes.most_common():
            out("  %6d  %s" % (count, key))
        out("violations: %d" % len(problems))
        for p in problems:
            out("  " + p)


def _shape(message: str) -> str:
    """A failure message with its names and numbers blanked, to group alike failures."""
    message = re.sub(r"'[^']*'", "'…'", message)
    return re.sub(r"\d+", "N", message)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=16, help="parallel pyvirsh processes (default 16)")
    parser.add_argument("--domains", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--ops", type=int, default=0, help="stop after this many operations (0: no limit)")
    parser.add_argument("--kill-rate", type=float, default=0.1, help="share of state-changing commands killed")
    parser.add_argument("--qemu-kill-rate", type=float, default=0.2, help="share of pulls after which QEMU is killed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="work directory (default: a new temporary one, removed after)")
    args = parser.parse_args(argv)
    base = args.dir or tempfile.mkdtemp(prefix="pyvirsh-stress-")
    stress = Stress(args, base)
    try:
        problems = stress.run()
    finally:
        for dom in stress.domains:      # never leave a QEMU behind, whatever happened
            subprocess.run(pyvirsh_argv() + ["-c", stress.env.uri, "destroy", dom.name], capture_output=True)
    stress.report(problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
