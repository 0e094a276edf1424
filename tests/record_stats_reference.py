"""Record what real virsh 9.0 + libvirt's QEMU driver print for the statistics commands
(domstats, domblkstat, domifstat, dommemstat, domblkerror, cpu-stats, vcpuinfo, vcpucount)
into tests/data/stats-libvirt.json, the reference test_stats.py compares pyvirsh with
(host-dependent counters and times masked). Run by hand, as root, on Debian 12 with
libvirt-daemon-driver-qemu installed:

    .venv/bin/python tests/record_stats_reference.py

The guests are firmware-only (no kernel): SeaBIOS finds nothing to boot and waits, which is
all the statistics need. libvirt runs daemonless (qemu:///embed?root=DIR) inside one virsh
process fed the commands one by one (record_agent_reference.Virsh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record_agent_reference import QEMU_CONF, Virsh

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "stats-libvirt.json")

# %(name)s, %(top)s, %(raw)s, %(nic)s; the same XML test_stats.py defines for pyvirsh.
STATS_XML = """\
<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static' current='2'>3</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(top)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%(raw)s'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    %(nic)s
    <memballoon model='virtio'/>
  </devices>
</domain>
"""

NIC = """<interface type='ethernet'>
      <mac address='52:54:00:12:34:56'/>
      <target dev='%s'/>
      <model type='virtio'/>
    </interface>"""


def make_images(base: str, name: str) -> tuple[str, str]:
    """vda: base.qcow2 <- mid.qcow2 <- top.qcow2 (backing formats recorded); vdb: a raw file."""
    d = os.path.join(base, name)
    os.makedirs(d)
    qimg = ["qemu-img", "create", "-q", "-f", "qcow2"]
    subprocess.run(qimg + [os.path.join(d, "base.qcow2"), "16M"], check=True)
    subprocess.run(qimg + ["-b", os.path.join(d, "base.qcow2"), "-F", "qcow2", os.path.join(d, "mid.qcow2")],
                   check=True)
    subprocess.run(qimg + ["-b", os.path.join(d, "mid.qcow2"), "-F", "qcow2", os.path.join(d, "top.qcow2")],
                   check=True)
    raw = os.path.join(d, "data.raw")
    with open(raw, "wb") as f:
        f.truncate(8 << 20)
    return os.path.join(d, "top.qcow2"), raw


def domain_xml(base: str, name: str, tap: str | None) -> str:
    top, raw = make_images(base, name)
    path = os.path.join(base, name + ".xml")
    with open(path, "w") as f:
        f.write(STATS_XML % {"name": name, "top": top, "raw": raw, "nic": NIC % tap if tap else ""})
    return path


def main() -> None:
    base = tempfile.mkdtemp(prefix="statsref-")
    os.makedirs(os.path.join(base, "etc"))
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    virsh = Virsh("qemu:///embed?root=%s" % base)
    records = []

    def rec(*args):
        result = virsh.run(*args)
        result["stdout"] = result["stdout"].replace(base, "DIR")
        result["stderr"] = result["stderr"].replace(base, "DIR")
        print(result, flush=True)
        records.append(result)
        return result

    try:
        virsh.run("define", domain_xml(base, "st1", "pvstap0"))
        virsh.run("define", domain_xml(base, "off1", None))
        started = virsh.run("start", "st1")
        if started["stderr"]:
            raise SystemExit(started["stderr"])
        g = "st1"
        for words in (["domstats", g], ["domstats", "--raw", g], ["domstats", "--block", g],
                      ["domstats", "--block", "--backing", g], ["domstats", "--block", "--backing", "--raw", g],
                      ["domstats", "--state", "--cpu-total", "--balloon", "--vcpu", "--interface", g],
                      ["domstats", "--perf", g], ["domstats", "--perf", "--enforce", g],
                      ["domstats", "--nowait", g], ["domstats", "--vcpu", "--nowait", g],
                      ["domstats", "--state"], ["domstats", "--state", "--list-active"],
                      ["domstats", "--state", "--list-inactive"], ["domstats", "--state", "--list-running"],
                      ["domstats", "--state", "--list-shutoff"], ["domstats", "--state", "--list-paused"],
                      ["domstats", "--state", "--list-persistent"], ["domstats", "--state", "--list-transient"],
                      ["domstats", "--state", "--list-other"], ["domstats", "--state", "--list-active", "off1"],
                      ["domstats", "nosuch"], ["domstats", "--state", "--enforce", "--iothread", g],
                      ["domstats", "off1"], ["domstats", "--raw", "off1"], ["domstats", "--block", "--backing", "off1"],
                      ["domblkstat", g, "vda"], ["domblkstat", g, "vda", "--human"], ["domblkstat", g],
                      ["domblkstat", g, "--human"], ["domblkstat", g, "hdc"], ["domblkstat", g, "vdz"],
                      ["domblkstat", "off1", "vda"], ["domifstat", g, "pvstap0"],
                      ["domifstat", g, "52:54:00:12:34:56"], ["domifstat", g, "nosuch"],
                      ["domifstat", "off1", "x"], ["dommemstat", g], ["dommemstat", g, "--period", "2"],
                      ["dommemstat", g], ["dommemstat", g, "--period", "-1"], ["dommemstat", g, "--period", "x"],
                      ["dommemstat", g, "--period", "3", "--config"], ["dommemstat", g, "--period", "3", "--live"],
                      ["dommemstat", g, "--period", "3", "--current"], ["dommemstat", g, "--config"],
                      ["dommemstat", g, "--live", "--config"], ["dommemstat", "off1"],
                      ["dommemstat", "off1", "--period", "3", "--config"], ["dommemstat", "off1", "--period", "3"],
                      ["dumpxml", "off1", "--xpath", "//memballoon"],
                      ["domblkerror", g], ["domblkerror", "off1"],
                      ["cpu-stats", g], ["cpu-stats", g, "--total"], ["cpu-stats", g, "--start", "0", "--count", "1"],
                      ["cpu-stats", g, "--start", "1", "--count", "1", "--total"], ["cpu-stats", g, "--start", "99"],
                      ["cpu-stats", g, "--count", "0"], ["cpu-stats", "off1"],
                      ["vcpuinfo", g], ["vcpuinfo", g, "--pretty"], ["vcpuinfo", "off1"], ["vcpuinfo", "off1", "--pretty"],
                      ["vcpucount", g], ["vcpucount", g, "--maximum"], ["vcpucount", g, "--active"],
                      ["vcpucount", g, "--live"], ["vcpucount", g, "--config"], ["vcpucount", g, "--current"],
                      ["vcpucount", g, "--maximum", "--config"], ["vcpucount", g, "--active", "--live"],
                      ["vcpucount", g, "--guest"], ["vcpucount", g, "--maximum", "--guest"],
                      ["vcpucount", "off1"], ["vcpucount", "off1", "--live"], ["vcpucount", "off1", "--guest"],
                      ["suspend", g], ["domstats", "--state", "--list-paused"], ["domstats", "--state", "--cpu-total", g],
                      ["vcpuinfo", g], ["resume", g]):
            rec(*words)
        virsh.run("destroy", g)
    finally:
        virsh.close()
    with open(OUT, "w") as f:
        json.dump({"libvirt": "9.0.0 (Debian 12), QEMU driver in qemu:///embed mode; DIR is the embed root",
                   "records": records}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
