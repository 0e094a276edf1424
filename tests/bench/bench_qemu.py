#!/usr/bin/env python3
"""The QEMU driver measured against its peers, side by side in one run.

    python tests/bench/bench_qemu.py [--runs N] [--job-runs N] [--jobs-size-mib N] [--skip-jobs]
                                     [--skip-start] [--skip-listing] [--baseline PATH]

1. `pyvirsh start` (a whole one-shot process: Python start, probe, spawn, QMP) vs a bare
   `qemu-system-x86_64` spawn of the same command line to QMP-ready (goal: pyvirsh adds <= 100 ms).
2. One-shot `list`, `list --all`, `domblklist`, `dumpxml`, `dominfo` and `domstate` with
   1 running and 50 defined domains, beside virsh with a libvirtd the bench starts (its own
   socket; the same domains, one running; goal: pyvirsh at most 2.5x) and virsh on
   test:///default as a floor.
3. Block jobs on N MiB of written data (default 1024): blockcommit and blockpull --wait vs
   the same job issued bare over QMP (pyvirsh's own cost), the bare jobs vs `qemu-img convert`
   of the same data (QEMU's figure; the reference measured commit ~1.0x, stream ~0.70x), and
   the offline variants vs `qemu-img commit` / `qemu-img rebase` run directly.

It measures; it asserts nothing. Everything lives in a temporary directory that is removed.
pyvirsh runs from bytecode compiled once into that directory, as an installed package does
(PYTHONDONTWRITEBYTECODE in the caller's shell would otherwise compile every module every run).
"""

from __future__ import annotations

import argparse
import os
import shlex
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

# libvirtd (as root) keeps definitions under /etc/libvirt/qemu: a name no real domain has,
# and every one undefined when the bench ends.
NAME = "pyvirsh-bench-%02d"
DOMAIN_XML = ("<domain type='kvm'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
              "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
              "<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>")


def timed(argv, env=None, check=True) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=check)
    return (time.perf_counter() - start) * 1000.0


def bytecode_env(base: str) -> None:
    """pyvirsh's modules compiled once, into a bytecode cache of the bench's own."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(base, "pycache")
    import pyvirsh
    import pyvirsh.drivers
    for package in (pyvirsh, pyvirsh.drivers):       # every module, the lazily imported ones too
        subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(package.__file__)], check=True)
    subprocess.run(pyvirsh_argv() + ["-c", "test:///default", "version"], capture_output=True, check=True)


def evict(paths) -> None:
    """Written to disk, then out of the page cache: the images a job reads start cold on
    both sides. Only these files: dropping every cache (drop_caches) would also evict
    pyvirsh's own modules, which the bare QMP client (this process) has loaded already."""
    subprocess.run(["sync"])
    for path in paths:
        if os.path.exists(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


class Driver:
    def __init__(self, base: str):
        self.root = os.path.join(base, "root")
        self.uri = "qemu:///embed?root=%s" % self.root
        self.argv = pyvirsh_argv() + ["-c", self.uri]

    def run(self, *args, check=True):
        return subprocess.run(self.argv + list(args), capture_output=True, text=True, check=check)

    def define(self, base: str, name: str, image: str) -> None:
        xml = os.path.join(base, name + ".xml")
        with open(xml, "w") as f:
            f.write(DOMAIN_XML % (name, image))
        self.run("define", xml)


def bench_start(base: str, runs: int) -> None:
    from pyvirsh.drivers.qemu.qmp import QMP
    drv = Driver(base)
    images = os.path.join(base, "img")
    os.makedirs(images)
    layers = []
    for k in range(3):
        path = os.path.join(images, "l%d.qcow2" % k)
        cmd = ["qemu-img", "create", "-q", "-f", "qcow2", path, "64M"] if not layers else \
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", layers[-1], "-F", "qcow2", path]
        subprocess.run(cmd, check=True)
        layers.append(path)
    drv.define(base, "bench", layers[-1])
    ours, bare = [], []
    for _ in range(runs):
        ours.append(timed(drv.argv + ["start", "bench", "--paused"]))
        status = os.path.join(drv.root, "run", "bench.status.xml")
        drv.run("destroy", "bench")
        assert not os.path.exists(status)
        # The same QEMU command line pyvirsh used (from the domain log), spawned bare and
        # waited for until QMP answers.
        words = _logged_argv(drv)
        sock = os.path.join(base, "bare.sock")
        # pyvirsh passes the monitor as a listening fd: the bare QEMU listens on a path instead.
        words = [w if not w.startswith("socket,id=charmonitor,") else
                 "socket,id=charmonitor,path=%s,server=on,wait=off" % sock for w in words]
        pidfile = os.path.join(base, "bare.pid")
        words[words.index("-pidfile") + 1] = pidfile
        # its event listener monitors bind in the domain's run directory, which the destroy removed
        os.makedirs(os.path.join(drv.root, "run", "bench"), exist_ok=True)
        start = time.perf_counter()
        proc = subprocess.Popen(words, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            if proc.poll() is not None or time.perf_counter() - start > 30:
                raise SystemExit("the bare QEMU did not start: %s" % " ".join(words))
            try:
                with QMP(sock, timeout=5) as q:
                    q.execute("query-status")
                break
            except Exception:       # noqa: BLE001 - not up yet
                time.sleep(0.002)
        bare.append((time.perf_counter() - start) * 1000.0)
        proc.kill()
        proc.wait()
    a, b = statistics.median(ours), statistics.median(bare)
    print("start of a 3-layer-chain domain, median of %d (ms)" % runs)
    print("  %-44s %8.1f" % ("bare qemu-system-x86_64 spawn to QMP-ready", b))
    print("  %-44s %8.1f" % ("pyvirsh start (whole one-shot process)", a))
    print("  %-44s %8.1f   (goal <= 100)" % ("pyvirsh adds", a - b))


def _logged_argv(drv: Driver) -> list[str]:
    """The last QEMU command line pyvirsh wrote to the domain log (it logs argv as one line)."""
    with open(os.path.join(drv.root, "log", "bench.log")) as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith("starting up")]
    return shlex.split(lines[starts[-1] + 1])


def _libvirtd_peer(base: str, images: list[str]):
    """virsh + a libvirtd of the bench's own with the same 50 domains (on copies of the
    images: QEMU locks them) and the same one running, or None with the reason."""
    if not os.path.exists("/usr/sbin/libvirtd"):
        return None, "libvirtd is not installed (libvirt-daemon-driver-qemu)"
    daemon = Libvirtd(os.path.join(base, "libvirtd"))      # in a namespace of its own if another runs
    os.makedirs(daemon.dir)
    daemon.start()
    virsh = ["virsh", "-c", daemon.uri]
    for folder in (os.path.dirname(base), base):
        os.chmod(folder, 0o755)         # libvirtd's QEMU may run as another user (qemu.conf)
    try:
        for n, image in enumerate(images):
            copy = os.path.join(os.path.dirname(image), "v%d.qcow2" % n)
            shutil.copyfile(image, copy)
            os.chmod(copy, 0o666)
            xml = os.path.join(base, "v%d.xml" % n)
            with open(xml, "w") as f:
                f.write(DOMAIN_XML % (NAME % n, copy))
            subprocess.run(virsh + ["define", xml], check=True, capture_output=True)
        started = subprocess.run(virsh + ["start", NAME % 0, "--paused"], capture_output=True, text=True)
    except BaseException:
        _forget(virsh, daemon, len(images))
        raise
    if started.returncode != 0:
        _forget(virsh, daemon, len(images))
        return None, "libvirtd could not start %s: " % (NAME % 0) + started.stderr.strip()
    return (daemon, virsh), None


def _forget(virsh: list[str], daemon: Libvirtd, count: int) -> None:
    """Stop libvirtd's domains, undefine them and stop the daemon (nothing left in /etc)."""
    subprocess.run(virsh + ["destroy", NAME % 0], capture_output=True)
    for n in range(count):
        subprocess.run(virsh + ["undefine", NAME % n], capture_output=True)
    daemon.stop()


def bench_listing(base: str, runs: int, baseline: str | None = None) -> None:
    drv = Driver(base)
    images = os.path.join(base, "img2")
    os.makedirs(images)
    paths = []
    for n in range(51):
        path = os.path.join(images, "d%d.qcow2" % n)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "16M"], check=True)
        drv.define(base, NAME % n, path)
        paths.append(path)
    drv.run("start", NAME % 0, "--paused")
    peer, why = _libvirtd_peer(base, paths)
    virsh = shutil.which("virsh")
    print("one-shot commands with 1 running and 50 defined domains, median of %d (ms)" % runs)
    if peer is None:
        print("  (no virsh + libvirtd column: %s)" % why)
    print("  %-28s %10s %14s %8s %16s" % ("command", "pyvirsh", "virsh+libvirtd", "ratio", "virsh test:///")
          + (" %10s" % "baseline" if baseline else ""))
    try:
        for args in (["list"], ["list", "--all"], ["domblklist", NAME % 0], ["dumpxml", NAME % 0],
                     ["dominfo", NAME % 0], ["domstate", NAME % 0]):
            # The programs take turns in every round, so that load from elsewhere falls on all alike.
            argvs = [drv.argv + args]
            if peer is not None:
                argvs.append(peer[1] + args)
            if virsh:
                test_args = [args[0], "test"] if args[1:] == [NAME % 0] else args
                argvs.append([virsh, "-c", "test:///default"] + test_args)
            if baseline:
                argvs.append([baseline, "-c", drv.uri] + args)
            times: list[list[float]] = [[] for _ in argvs]
            for _ in range(runs):
                for argv, measured in zip(argvs, times, strict=True):
                    measured.append(timed(argv))
            medians = iter(statistics.median(t) for t in times)
            ours = next(medians)
            theirs = next(medians) if peer is not None else None
            floor = next(medians) if virsh else None
            print("  %-28s %10.1f %14s %8s %16s" % (
                " ".join(args), ours, "%.1f" % theirs if theirs else "-",
                "%.2fx" % (ours / theirs) if theirs else "-", "%.1f" % floor if floor else "-")
                + (" %10.1f" % next(medians) if baseline else ""))
        in_process(drv.uri, [["list"], ["list", "--all"], ["domblklist", NAME % 0], ["dumpxml", NAME % 0],
                             ["dominfo", NAME % 0], ["domstate", NAME % 0]], runs)
    finally:
        drv.run("destroy", NAME % 0)
        if peer is not None:
            _forget(peer[1], peer[0], len(paths))


def in_process(uri: str, commands: list[list[str]], runs: int) -> None:
    """The same commands run again and again in one session on pyvirsh's driver, as the
    shell runs them (the pyvirsh this Python imports; goal: at most 1 ms a command)."""
    from pyvirsh.output import Output
    from pyvirsh.runner import parse_string, run_commands
    from pyvirsh.session import Session

    print("  in one process (a session's command strings), median of %d rounds of 50 (ms per command)" % runs)
    with open(os.devnull, "w") as sink:
        ctl = Session(uri, output=Output(stdout=sink, stderr=sink))
        ctl.connect()
        for args in commands:
            text = " ".join(args)
            run_commands(ctl, parse_string(text))       # the command's module is loaded once
            rounds = []
            for _ in range(runs):
                start = time.perf_counter()
                for _ in range(50):
                    run_commands(ctl, parse_string(text))
                rounds.append((time.perf_counter() - start) * 1000.0 / 50)
            print("  %-28s %10.3f" % (text, statistics.median(rounds)))
        ctl.close()


def bare_qmp_job(drv: Driver, name: str, command: str, top_file: str | None, base_file: str | None) -> float:
    """The same job issued straight over QMP on pyvirsh's running domain, waited for
    by polling query-jobs every 10 ms: QEMU's own figure, with no pyvirsh around it."""
    from pyvirsh.drivers.qemu.qmp import QMP
    sock = os.path.join(drv.root, "run", name, "qmp.sock")
    with QMP(sock) as q:
        nodes = {n["file"]: n["node-name"] for n in q.execute("query-named-block-nodes")
                 if n["drv"] == "qcow2"}
        device = q.execute("query-block")[0]["inserted"]["node-name"]
        args = {"job-id": "bare", "device": device, "auto-finalize": True, "auto-dismiss": False}
        if top_file is not None:
            args.update({"top-node": nodes[top_file], "base-node": nodes[base_file]})
        start = time.perf_counter()
        q.execute(command, args)
        while q.execute("query-jobs")[0]["status"] != "concluded":
            time.sleep(0.01)
        subprocess.run(["sync"])
        return time.perf_counter() - start


def bench_jobs(base: str, size_mib: int, runs: int) -> None:
    drv = Driver(base)
    images = os.path.join(base, "img3")
    os.makedirs(images)
    data = os.path.join(images, "data.raw")
    subprocess.run(["dd", "if=/dev/urandom", "of=%s" % data, "bs=1M", "count=%d" % size_mib, "status=none"],
                   check=True)
    base_img, mid, top = (os.path.join(images, n) for n in ("base.qcow2", "mid.qcow2", "top.qcow2"))

    def chain(data_in: str, names=("base", "mid", "top")) -> None:
        """Fresh qcow2 layers (base first), the random data written into one of them."""
        for path in (base_img, mid, top):
            if os.path.exists(path):
                os.unlink(path)
        below = None
        for layer in names:
            path = os.path.join(images, layer + ".qcow2")
            cmd = ["qemu-img", "create", "-q", "-f", "qcow2", path, "%dM" % (2 * size_mib)] if below is None else \
                ["qemu-img", "create", "-q", "-f", "qcow2", "-b", below, "-F", "qcow2", path]
            subprocess.run(cmd, check=True)
            if layer == data_in:
                subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -s %s 0 %dM" % (data, size_mib), path],
                               check=True, capture_output=True)
            below = path
        evict((base_img, mid, top))

    def timed_run(*args) -> float:
        start = time.perf_counter()
        drv.run(*args)
        subprocess.run(["sync"])
        return time.perf_counter() - start

    def online(measure) -> float:
        drv.run("start", "job", "--paused")
        evict((base_img, mid, top))
        try:
            return measure()
        finally:
            drv.run("destroy", "job")

    results = {k: [] for k in ("convert", "commit", "bare commit", "pull", "bare stream", "offline-commit",
                               "qemu-img commit", "offline-pull", "qemu-img rebase")}
    commit_args = ("blockcommit", "job", "vda", "--top", "vda[2]", "--wait")
    drv.define(base, "job", top)
    for _ in range(runs):
        # convert: the same amount of data read and written by qemu-img.
        chain("base", ("base",))
        out = os.path.join(images, "conv.qcow2")
        start = time.perf_counter()
        subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", base_img, out], check=True)
        subprocess.run(["sync"])
        results["convert"].append(time.perf_counter() - start)
        os.unlink(out)
        # Online: intermediate commit of a full mid into an empty base, and a pull of a
        # full base into an empty top; through pyvirsh and bare over QMP.
        chain("mid")
        results["commit"].append(online(lambda: timed_run(*commit_args)))
        chain("mid")
        results["bare commit"].append(online(lambda: bare_qmp_job(drv, "job", "block-commit", mid, base_img)))
        chain("base", ("base", "top"))
        results["pull"].append(online(lambda: timed_run("blockpull", "job", "vda", "--wait")))
        chain("base", ("base", "top"))
        results["bare stream"].append(online(lambda: bare_qmp_job(drv, "job", "block-stream", None, None)))
        # Offline: pyvirsh on the shut-off domain vs qemu-img itself on the same images.
        chain("mid")
        results["offline-commit"].append(timed_run(*commit_args))
        chain("mid")
        start = time.perf_counter()
        subprocess.run(["qemu-img", "commit", "-q", "-d", "-f", "qcow2", "-b", base_img, mid], check=True)
        subprocess.run(["qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-b", base_img, "-F", "qcow2", top],
                       check=True)
        subprocess.run(["sync"])
        results["qemu-img commit"].append(time.perf_counter() - start)
        chain("base", ("base", "top"))
        results["offline-pull"].append(timed_run("blockpull", "job", "vda", "--wait"))
        chain("base", ("base", "top"))
        start = time.perf_counter()
        subprocess.run(["qemu-img", "rebase", "-q", "-f", "qcow2", "-b", "", top], check=True)
        subprocess.run(["sync"])
        results["qemu-img rebase"].append(time.perf_counter() - start)
    drv.run("undefine", "job")
    med = {k: statistics.median(v) for k, v in results.items()}
    mib = float(size_mib)
    print("block jobs on %d MiB of written data, median of %d (s, MiB/s, throughput ratio vs the peer named)"
          % (size_mib, runs))
    rows = (("qemu-img convert (+sync)", "convert", None, ""),
            ("bare QMP block-commit (+sync)", "bare commit", "convert", "QEMU's own: reference ~1.0x"),
            ("pyvirsh blockcommit --wait (+sync)", "commit", "bare commit", "vs bare QMP"),
            ("bare QMP block-stream (+sync)", "bare stream", "convert", "QEMU's own: reference ~0.70x"),
            ("pyvirsh blockpull --wait (+sync)", "pull", "bare stream", "vs bare QMP"),
            ("qemu-img commit -d + rebase -u (+sync)", "qemu-img commit", None, ""),
            ("pyvirsh offline blockcommit --wait (+sync)", "offline-commit", "qemu-img commit", "vs qemu-img"),
            ("qemu-img rebase -b '' (+sync)", "qemu-img rebase", None, ""),
            ("pyvirsh offline blockpull --wait (+sync)", "offline-pull", "qemu-img rebase", "vs qemu-img"))
    for label, key, peer, note in rows:
        ratio = "%6.2fx  %s" % (med[peer] / med[key], note) if peer else ""
        if peer and key.startswith(("commit", "pull")):
            # The goal is stated in time; the ratio of each round's pair (run one after the
            # other) shows less of the load that changes between rounds on a shared machine.
            paired = statistics.median(a / b for a, b in zip(results[key], results[peer], strict=True))
            ratio += " (time %.2fx, per-round pairs %.2fx)" % (med[key] / med[peer], paired)
        print("  %-44s %6.2f s %6.0f MiB/s %s" % (label, med[key], mib / med[key], ratio))
    print("  load average %.1f %.1f %.1f at the end" % os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--job-runs", type=int, default=3)
    parser.add_argument("--jobs-size-mib", type=int, default=1024)
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--skip-start", action="store_true")
    parser.add_argument("--skip-listing", action="store_true")
    parser.add_argument("--baseline", help="another pyvirsh to measure in the same rounds of the listing")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="pyvirsh-bench-")
    try:
        bytecode_env(base)
        if not args.skip_start:
            bench_start(os.path.join(base, "a"), args.runs)
        if not args.skip_listing:
            bench_listing(os.path.join(base, "b"), args.runs, args.baseline)
        if not args.skip_jobs:
            bench_jobs(os.path.join(base, "c"), args.jobs_size_mib, args.job_runs)
    finally:
        subprocess.run(["pkill", "-KILL", "-f", "qemu-system.*%s" % base], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
