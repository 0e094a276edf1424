#!/usr/bin/env python3
"""`start` of a virt-install q35 guest: pyvirsh against virsh + libvirtd, side by side in one run.

    python tests/bench/bench_guest_start.py [--runs N] [--profile NAME ...] [--kvm]

Issue 13's bench (goal: pyvirsh at most 0.35x of virsh + libvirtd). The guest is one of the
domain XMLs the real virt-install wrote (tests/data/virtinst/NAME.xml, default the q35
`--import --graphics none` profile), its /tmp/lvimg/ images replaced by fresh qcow2 files here.

What is timed, the same on both sides: the wall time of one `start NAME` process, from its exec
to its exit, for a domain that is defined already and shut off. When either command exits, QEMU
runs with the guest's CPUs started (no --paused): the status is `running`. The domain type is
the XML's (virt-install wrote type='qemu': TCG) for both, or type='kvm' for both with --kvm; the
firmware is the XML's (SeaBIOS, or OVMF with a fresh NVRAM copy each round for q35-uefi) for
both. Not timed: the `destroy` after each start. The two commands take turns in every round, so
load from elsewhere falls on both alike; libvirtd is a daemon of the bench's own (libvirtdref.py),
warmed up by one untimed start before the rounds, as a user's long-running daemon would be.

pyvirsh's timed start is a domain's next start: the untimed round left its start plan (the last
start's command line, spawned before the definition is read: drivers/qemu/startplan.py), as
any start but the first after a define does. Each round also times one start without it (the
plan removed first, as a define leaves it): the first start of a domain.

For the figure to be read, the bench also prints, per round, the floor under both: a bare
qemu-system-x86_64 spawn of pyvirsh's own command line until QMP answers (`qmp_capabilities`)
and `cont` is done.

Run it with the Python of an installed pyvirsh (`pip install .`, as a user installs it): the
bench starts the `pyvirsh` beside that Python. An editable install (`pip install -e`) adds its
import hook's own start-up to every command: 30 ms here, pathlib, fnmatch and re before
pyvirsh's first line. For example:

    python3 -m venv /tmp/pv && /tmp/pv/bin/pip install -q .
    /tmp/pv/bin/python tests/bench/bench_guest_start.py

It measures; it asserts nothing. Everything lives in a temporary directory that is removed.
"""

from __future__ import annotations

import argparse
import os
import re
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

DATA = os.path.join(os.path.dirname(HERE), "data", "virtinst")
PREFIX = "pyvirsh-bench-"       # libvirtd (as root) keeps definitions in /etc: a name no real domain has


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = (time.perf_counter() - start) * 1000.0
    if done.returncode != 0:
        raise SystemExit("%s failed: %s" % (shlex.join(argv), done.stderr.strip()))
    return took


def quiet(argv: list[str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_xml(profile: str, images: str, name: str, kvm: bool, drop_tpm: bool) -> str:
    with open(os.path.join(DATA, profile + ".xml")) as f:
        text = f.read()
    if drop_tpm:
        text = re.sub(r"<tpm .*?</tpm>\s*", "", text, flags=re.DOTALL)
    text = text.replace("/tmp/lvimg/", images + "/").replace("<name>%s</name>" % profile, "<name>%s</name>" % name)
    text = "\n".join(line for line in text.splitlines() if "<uuid>" not in line and not line.startswith("<?"))
    if kvm:
        text = text.replace('<domain type="qemu">', '<domain type="kvm">')
    return text


def make_images(images: str) -> None:
    os.makedirs(images)
    os.chmod(images, 0o755)
    for disk in ("disk1.qcow2", "disk2.qcow2"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(images, disk), "64M"], check=True)
    with open(os.path.join(images, "install.iso"), "wb") as f:
        f.truncate(1 << 20)
    for entry in os.listdir(images):
        os.chmod(os.path.join(images, entry), 0o666)     # libvirtd's QEMU may run as another user


def bare_start(argv: list[str], base: str) -> float:
    """pyvirsh's QEMU command line spawned bare, until QMP answers and `cont` is done."""
    from pyvirsh.drivers.qemu.qmp import QMP
    sock = os.path.join(base, "bare.sock")
    words = [w if not w.startswith("socket,id=charmonitor,") else "socket,id=charmonitor,path=%s,server=on,wait=off"
             % sock for w in argv]     # pyvirsh passes the monitor as a listening fd
    words[words.index("-pidfile") + 1] = os.path.join(base, "bare.pid")
    # its event listener monitors and guest-agent socket bind in the domain's run directory
    # (and its channel/), which the destroy removed
    for word in words:
        if word.startswith("socket,id=pvevents"):
            run_dir = os.path.dirname(word.split("path=", 1)[1].split(",", 1)[0])
            os.makedirs(os.path.join(run_dir, "channel"), exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(words, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - start > 30:
                raise SystemExit("the bare QEMU did not start: %s" % shlex.join(words))
            try:
                with QMP(sock, timeout=5) as q:
                    q.execute("cont")
                break
            except Exception:       # noqa: BLE001 - not listening yet
                time.sleep(0.002)
        return (time.perf_counter() - start) * 1000.0
    finally:
        proc.kill()
        proc.wait()


def logged_argv(root: str, name: str) -> list[str]:
    """The last QEMU command line pyvirsh wrote to the domain log (it logs argv as one line)."""
    with open(os.path.join(root, "log", name + ".log")) as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines) if ": starting up" in line]
    return shlex.split(lines[starts[-1] + 1])


def bench_profile(base: str, profile: str, runs: int, kvm: bool, drop_tpm: bool, daemon: Libvirtd | None) -> None:
    images = os.path.join(base, profile)
    make_images(images)
    name = PREFIX + profile
    xml_path = os.path.join(base, profile + ".xml")
    with open(xml_path, "w") as f:
        f.write(profile_xml(profile, images, name, kvm, drop_tpm))
    root = os.path.join(base, "root")
    ours = pyvirsh_argv() + ["-c", "qemu:///embed?root=%s" % root]
    subprocess.run(ours + ["define", xml_path], check=True, capture_output=True)
    theirs = ["virsh", "-c", daemon.uri] if daemon is not None else None
    if theirs is not None:
        subprocess.run(theirs + ["define", xml_path], check=True, capture_output=True)
    times: dict[str, list[float]] = {"pyvirsh": [], "unplanned": [], "virsh": [], "bare": []}
    plan = os.path.join(root, "run", name + ".startplan")
    try:
        # One untimed round each: the page cache and libvirtd's capability cache are warm.
        for side in [ours] + ([theirs] if theirs else []):
            timed(side + ["start", name])
            quiet(side + ["destroy", name])
        for _ in range(runs):
            times["pyvirsh"].append(timed(ours + ["start", name]))
            argv = logged_argv(root, name)
            quiet(ours + ["destroy", name])
            os.unlink(plan)             # as after a define: no command line of a last start
            times["unplanned"].append(timed(ours + ["start", name]))
            quiet(ours + ["destroy", name])
            if theirs is not None:
                times["virsh"].append(timed(theirs + ["start", name]))
                quiet(theirs + ["destroy", name])
            times["bare"].append(bare_start(argv, base))
    finally:
        quiet(ours + ["destroy", name])
        quiet(ours + ["undefine", "--nvram", name])
        if theirs is not None:
            quiet(theirs + ["destroy", name])
            quiet(theirs + ["undefine", "--nvram", name])
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print("%s (%s%s), median of %d (ms; min-max)" % (profile, "KVM" if kvm else "TCG",
                                                      ", without its TPM" if drop_tpm else "", runs))
    for label, key in (("bare qemu-system-x86_64 to QMP `cont` done", "bare"),
                       ("pyvirsh start (one-shot process)", "pyvirsh"),
                       ("  the same without a start plan", "unplanned"),
                       ("virsh start + libvirtd", "virsh")):
        if key in med:
            print("  %-44s %8.1f   (%.0f-%.0f)" % (label, med[key], min(times[key]), max(times[key])))
    if "virsh" in med:
        print("  %-44s %8.2fx  (goal <= 0.35x)" % ("pyvirsh / virsh+libvirtd", med["pyvirsh"] / med["virsh"]))
        print("  %-44s %8.2fx" % ("  the same without a start plan", med["unplanned"] / med["virsh"]))
        print("  %-44s %8.2fx" % ("(pyvirsh - bare) / (virsh - bare)",
                                  (med["pyvirsh"] - med["bare"]) / max(1e-9, med["virsh"] - med["bare"])))
    else:
        print("  (no virsh + libvirtd column: /usr/sbin/libvirtd is not installed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--profile", action="append",
                        help="a tests/data/virtinst profile (default q35-import-nographics); repeatable")
    parser.add_argument("--kvm", action="store_true", help="type='kvm' on both sides instead of the XML's TCG")
    parser.add_argument("--drop-tpm", action="store_true",
                        help="remove the profile's <tpm> on both sides (a libvirtd in a mount namespace of its "
                             "own cannot start swtpm here: 'swtpm socket did not show up')")
    args = parser.parse_args()
    profiles = args.profile or ["q35-import-nographics"]
    # pyvirsh as installed runs from bytecode (pip compiles it): a shell that says otherwise
    # would time the compiler at every start. The untimed first round writes the .pyc files.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    base = tempfile.mkdtemp(prefix=PREFIX)
    os.chmod(base, 0o755)
    daemon = None
    try:
        if os.path.exists("/usr/sbin/libvirtd"):
            daemon = Libvirtd(os.path.join(base, "libvirtd"))
            os.makedirs(daemon.dir)
            daemon.start()
        for profile in profiles:
            bench_profile(base, profile, args.runs, args.kvm, args.drop_tpm, daemon)
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
