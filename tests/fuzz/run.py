#!/usr/bin/env python3
"""The long fuzz runs of issue 17 (CI runs a bounded version: tests/test_fuzz.py).

    python tests/fuzz/run.py probe --runs 1000000            # the image-header prober
    python tests/fuzz/run.py xml --runs 100000               # the XML layer
    python tests/fuzz/run.py probe --atheris --runs 1000000  # coverage-guided (pip install atheris)
    python tests/fuzz/run.py seeds                           # remake corpus/probe with qemu-img

Inputs start from the seed corpus in tests/fuzz/corpus/TARGET (the probe seeds are real
images made by qemu-img, the XML seeds are the suite's domain, pool and snapshot files).
A finding is written to corpus/TARGET/finding-SHA1 and the run ends with status 1; with
--atheris, inputs that reach new code are kept in corpus/TARGET-cov (replayed by the CI test)."""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, HERE)

# Seed images: (format, qemu-img create options, backing name written into the header).
SEED_IMAGES = (
    ("qcow2", ["-o", "compat=1.1"], "base.img"),
    ("qcow2", ["-o", "compat=0.10"], "base.img"),
    ("qcow2", ["-o", "compat=1.1,data_file=data.raw"], None),
    ("qcow2", ["-o", "compat=1.1,lazy_refcounts=on,cluster_size=4096"], None),
    ("qcow", [], "base.img"),
    ("qed", [], "base.img"),
    ("vmdk", [], None),
    ("vmdk", ["-o", "subformat=streamOptimized"], None),
    ("vdi", [], None),
    ("vpc", [], None),
    ("raw", [], None),
)
SEED_BYTES = 8192       # every header the prober reads lies in the first few KiB


def corpus_dir(target: str) -> str:
    return os.path.join(HERE, "corpus", target)


def probe_seeds() -> list[bytes]:
    return [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(corpus_dir("probe"), "*")))]


def xml_seeds() -> list[bytes]:
    paths = sorted(glob.glob(os.path.join(corpus_dir("xml"), "*")))
    for pattern in ("data/*.xml", "data/pools/*.xml", "data/virtinst/*/*.xml", "data/virtinst/*.xml"):
        paths += sorted(glob.glob(os.path.join(TESTS, pattern)))
    return [open(p, "rb").read() for p in paths]


def make_seeds() -> None:
    from targets import PROBE_FORMATS

    out = corpus_dir("probe")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", os.path.join(scratch, "base.img"), "1M"],
                       check=True)
        for n, (fmt, options, backing) in enumerate(SEED_IMAGES):
            image = os.path.join(scratch, "seed%d.%s" % (n, fmt))
            argv = ["qemu-img", "create", "-q", "-f", fmt, *options]
            if backing is not None:
                argv += ["-b", backing, "-F", "raw"]
            subprocess.run(argv + [image, "16M"], check=True, cwd=scratch)
            with open(image, "rb") as f:
                data = bytes([PROBE_FORMATS.index(fmt)]) + f.read(SEED_BYTES)
            with open(os.path.join(out, "seed-%02d-%s" % (n, fmt)), "wb") as f:
                f.write(data)


def make_target(name: str, scratch: str):
    from targets import ProbeTarget, XMLTarget

    if name == "probe":
        return ProbeTarget(scratch)
    return XMLTarget(scratch)


def save_finding(target: str, data: bytes) -> str:
    os.makedirs(corpus_dir(target), exist_ok=True)
    path = os.path.join(corpus_dir(target), "finding-" + hashlib.sha1(data).hexdigest())
    with open(path, "wb") as f:
        f.write(data)
    return path


def run_mutations(name: str, runs: int, seed: int, report=print) -> int:
    """Mutate the seeds `runs` times; return the number of findings (each saved)."""
    from mutate import Mutator
    from targets import Finding

    seeds = probe_seeds() if name == "probe" else xml_seeds()
    mutator = Mutator(seed, seeds)
    mutate = mutator.bytes_ if name == "probe" else mutator.text
    findings = 0
    kinds: set[str] = set()
    started = last = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="pyvirsh-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        target = make_target(name, scratch)
        for n in range(runs):
            data = seeds[n] if n < len(seeds) else mutate()
            try:
                target(data)
            except Finding as finding:
                findings += 1
                kind = str(finding).split(": ")[0]
                if kind not in kinds:       # one line per kind of finding; every input is kept
                    kinds.add(kind)
                    report("FINDING %s: %s" % (os.path.basename(save_finding(name, data)), finding))
                else:
                    save_finding(name, data)
            now = time.monotonic()
            if now - last >= 10:
                last = now
                report("%s: %d inputs, %d findings, %.0f inputs/s" % (name, n + 1, findings, (n + 1) / (now - started)))
        elapsed = time.monotonic() - started
        report("%s: %d inputs in %.1f s (%.0f/s), %d findings of %d kinds"
               % (name, runs, elapsed, runs / elapsed, findings, len(kinds)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return findings


def run_atheris(name: str, runs: int) -> None:
    """libFuzzer through atheris over corpus/TARGET-cov, seeded from the seeds: inputs that reach
    new code are written there, so the corpus kept in tests/ grows with each long run."""
    import atheris

    with atheris.instrument_imports():
        import pyvirsh.drivers.storage.chain
        import pyvirsh.drivers.storage.probe
        import pyvirsh.drivers.xmlutil  # noqa: F401
        from targets import Finding
    scratch = tempfile.mkdtemp(prefix="pyvirsh-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    target = make_target(name, scratch)

    def one(data: bytes) -> None:
        try:
            target(data)
        except Finding:
            save_finding(name, data)
            raise

    work = corpus_dir(name + "-cov")
    if not os.path.isdir(work):
        os.makedirs(work)
        for data in probe_seeds() if name == "probe" else xml_seeds():
            with open(os.path.join(work, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
    max_len = SEED_BYTES + 1 if name == "probe" else 65536
    atheris.Setup([sys.argv[0], work, "-runs=%d" % runs, "-max_len=%d" % max_len, "-timeout=10",
                   "-print_final_stats=1"], one)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=("probe", "xml", "seeds"))
    parser.add_argument("--runs", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--atheris", action="store_true", help="coverage-guided, with atheris")
    args = parser.parse_args()
    if args.target == "seeds":
        make_seeds()
        return 0
    if args.atheris:
        run_atheris(args.target, args.runs)
        return 0
    return 1 if run_mutations(args.target, args.runs, args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
