#!/usr/bin/env python3
"""Remote hosts over ssh: pyvirsh's qemu+ssh:// against virsh's, side by side in one run.

    python tests/bench/bench_remote.py [--runs N] [--libvirt-socket PATH]

Starts its own sshd hosts on loopback (tests/sshhosts.py) and measures, as medians:
  1. one-shot `list` and `domblklist` over qemu+ssh:// on a warm ControlMaster, with a
     running domain on the far end's embedded QEMU driver; and virsh -c qemu+ssh://.../system
     through the same sshd (virt-ssh-helper on the far side), with and without the same
     ControlMaster for virsh's ssh. virsh needs a libvirtd: the bench starts one (Appendix C
     of reference/virsh-behaviour.md) unless another system libvirtd already holds the QEMU
     driver, in which case --libvirt-socket PATH names that daemon's socket and virsh is run
     read-only (-r) against it, or the virsh column is skipped, saying why;
  2. a 10-command string over one connection vs 10 one-shot commands;
  3. one command fanned out to 8 hosts with --hosts vs 8 sequential one-shot runs.
This measures; it asserts nothing.
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

from libvirtdref import Libvirtd
from sshhosts import SshHosts

PYVIRSH = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or "pyvirsh"


def _ms(argv, env=None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    took = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(argv), proc.stderr.decode()))
    return took


def _median(argv, runs, env=None) -> float:
    for _ in range(2):
        _ms(argv, env)
    return statistics.median(_ms(argv, env) for _ in range(runs))


def _row(label, ours, theirs=None):
    if theirs is None:
        print("%-44s %10.1f %10s %8s" % (label, ours, "-", "-"))
    else:
        print("%-44s %10.1f %10.1f %7.2fx" % (label, ours, theirs, ours / theirs))


def _domain(root_dir: str, tag: str) -> str:
    """A domain XML named bench over an image of its own (QEMU locks images)."""
    image = os.path.join(root_dir, "disk-%s.qcow2" % tag)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "64M"], check=True)
    # libvirtd's QEMU may run as another user (qemu.conf): let it reach the bench's image.
    os.chmod(root_dir, 0o755)
    os.chmod(image, 0o666)
    xml = os.path.join(root_dir, "bench-%s.xml" % tag)
    with open(xml, "w") as f:
        f.write("<domain type='kvm'><name>bench</name><memory>65536</memory>"
                "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
                "<driver name='qemu' type='qcow2'/>"
                "<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>" % image)
    return xml


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--libvirt-socket", help="an already running libvirtd's socket (virsh runs with -r)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pvbench-", dir="/tmp")
    group = SshHosts(os.path.join(work, "hosts"), 8).start()
    host = group.hosts[0]
    root = os.path.join(work, "root")
    os.makedirs(root)
    ours = host.uri("qemu:///embed?root=%s" % root)
    libvirtd = Libvirtd(os.path.join(work, "libvirtd"))
    os.makedirs(libvirtd.dir)
    try:
        xml = _domain(work, "pyvirsh")
        subprocess.run([PYVIRSH, "-c", ours, "define", xml], check=True, capture_output=True)
        subprocess.run([PYVIRSH, "-c", ours, "start", "bench"], check=True, capture_output=True)

        print("medians of %d runs, ms; pyvirsh's ssh shares one connection per host (ControlMaster)"
              % args.runs)
        print("%-44s %10s %10s %8s" % ("what", "pyvirsh", "virsh", "ratio"))

        virsh_uri, virsh_flags, why = None, [], None
        if args.libvirt_socket:
            virsh_uri, virsh_flags = args.libvirt_socket, ["-r"]
        elif libvirtd.busy():
            why = "another libvirtd is running (%s); pass --libvirt-socket" % libvirtd.busy()
        elif not os.path.exists("/usr/sbin/libvirtd"):
            why = "libvirtd is not installed (libvirt-daemon-driver-qemu)"
        else:
            libvirtd.start()
            virsh_uri = libvirtd.socket
        virsh_domain = "bench"
        mux = os.path.join(work, "virsh-ssh")
        with open(mux, "w") as f:      # virsh's ssh with the same connection sharing as pyvirsh's
            f.write('#!/bin/sh\nexec %s -o ControlMaster=auto -o ControlPath=%s/virsh-%%C '
                    '-o ControlPersist=60 "$@"\n' % (host.ssh, group.control_dir))
        os.chmod(mux, 0o755)
        if virsh_uri:
            local = ["virsh"] + virsh_flags + ["-c", "qemu+unix:///system?socket=" + virsh_uri]
            if not virsh_flags:
                for step in (["define", _domain(work, "virsh")], ["start", "bench"]):
                    done = subprocess.run(local + step, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit("virsh %s: %s" % (step[0], done.stderr.strip()))
            else:
                names = subprocess.run(local + ["list", "--name"], capture_output=True,
                                       text=True).stdout.split()
                virsh_domain = names[0] if names else None
        for command in (["list"], ["domblklist", "bench"]):
            mine = _median([PYVIRSH, "-c", ours] + command, args.runs)
            label = "one-shot %s, qemu+ssh, warm" % command[0]
            if not virsh_uri or (command[0] == "domblklist" and not virsh_domain):
                _row(label, mine)
                continue
            theirs_cmd = command if command[0] == "list" else ["domblklist", virsh_domain]
            for wrapper, note in ((mux, "virsh warm"), (host.ssh, "virsh new ssh")):
                uri = ("qemu+ssh://127.0.0.1:%d/system?command=%s&no_tty=1&socket=%s"
                       % (host.port, wrapper, virsh_uri))
                theirs = _median(["virsh"] + virsh_flags + ["-c", uri] + theirs_cmd, args.runs)
                _row("%s (vs %s)" % (label, note), mine, theirs)
        if why:
            print("virsh column skipped: %s" % why)

        text = "; ".join(["list", "domblklist bench", "domstate bench", "dominfo bench", "domid bench"] * 2)
        one = _median([PYVIRSH, "-c", ours, text], args.runs)
        start = time.perf_counter()
        for command in text.split("; "):
            _ms([PYVIRSH, "-c", ours] + command.split())
        _row("10-command string, one connection", one)
        _row("the same 10 commands as 10 one-shots", (time.perf_counter() - start) * 1000.0)

        hosts_file = os.path.join(work, "hosts.txt")
        with open(hosts_file, "w") as f:
            f.writelines("%s %s\n" % (h.name, h.uri("test:///default")) for h in group.hosts)
        fan = _median([PYVIRSH, "--hosts", hosts_file, "list"], args.runs)
        seq = []
        for _ in range(max(3, args.runs // 3)):
            start = time.perf_counter()
            for h in group.hosts:
                _ms([PYVIRSH, "-c", h.uri("test:///default"), "list"])
            seq.append((time.perf_counter() - start) * 1000.0)
        _row("list on 8 hosts: --hosts (vs 8 sequential)", fan, statistics.median(seq))
    finally:
        subprocess.run([PYVIRSH, "-c", ours, "destroy", "bench"], capture_output=True)
        if libvirtd.proc is not None:
            own = ["virsh", "-c", "qemu+unix:///system?socket=" + libvirtd.socket]
            subprocess.run(own + ["destroy", "bench"], capture_output=True)
            subprocess.run(own + ["undefine", "bench"], capture_output=True)
        libvirtd.stop()
        group.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
