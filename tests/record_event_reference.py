"""Record which domain events libvirt 9.0's QEMU driver emits for domrename and the snapshot
commands into tests/data/events-libvirt.json (test_events_more.py replays the same steps on
pyvirsh with a listener and compares). Run by hand, as root, on Debian 12 with
libvirt-daemon-driver-qemu and python3-libvirt installed, with the system Python (the
binding is a Debian package, not in the venv):

    /usr/bin/python3 tests/record_event_reference.py

libvirt runs daemonless (qemu:///embed?root=DIR) in this process, which registers for every
lifecycle event through the binding and runs libvirt's event loop in a thread: each step's
events are what a `virsh event --all --loop` would have been given, as libvirt's numbers
(event, detail); virsh's words for them are the tables of pyvirsh/commands/events.py.
The guest is firmware-only (SeaBIOS finds nothing to boot and waits), a qcow2 disk so that
internal snapshots can be taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "events-libvirt.json")
QEMU_CONF = 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n'

# %(name)s, %(disk)s; test_events_more.py defines the same domain for pyvirsh
EVENT_XML = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""

# (label, virsh command words); DOM is the domain's current name
STEPS = [
    ("rename", ["domrename", "ev", "ev2"]),
    ("rename back", ["domrename", "ev2", "ev"]),
    ("snapshot of a shut-off domain", ["snapshot-create-as", "ev", "off"]),
    ("start", ["start", "ev"]),
    ("internal snapshot, running", ["snapshot-create-as", "ev", "run1"]),
    ("revert running to running", ["snapshot-revert", "ev", "run1"]),
    ("revert running --paused", ["snapshot-revert", "ev", "run1", "--paused"]),
    ("revert paused to running", ["snapshot-revert", "ev", "run1", "--running"]),
    ("revert to shut-off snapshot", ["snapshot-revert", "ev", "off"]),
    ("revert shut-off to running", ["snapshot-revert", "ev", "run1"]),
    ("internal snapshot --halt", ["snapshot-create-as", "ev", "halt1", "--halt"]),
    ("revert shut-off --paused to shut-off snapshot", ["snapshot-revert", "ev", "off", "--paused"]),
    ("resume", ["resume", "ev"]),
    ("external disk-only snapshot, running", ["snapshot-create-as", "ev", "ext1", "--disk-only"]),
    ("external snapshot with memory, running", ["snapshot-create-as", "ev", "ext2", "--memspec", "MEMFILE"]),
    ("destroy", ["destroy", "ev"]),
]


def main() -> None:
    import libvirt  # type: ignore[import-not-found]
    base = tempfile.mkdtemp(prefix="eventref-")
    os.makedirs(os.path.join(base, "etc"))
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    disk = os.path.join(base, "ev.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    libvirt.virEventRegisterDefaultImpl()
    conn = libvirt.open("qemu:///embed?root=%s" % base)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    seen: list = []
    conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        lambda c, d, e, detail, o: seen.append([d.name(), "lifecycle", e, detail]), None)
    conn.defineXML(EVENT_XML % {"name": "ev", "disk": disk})
    time.sleep(1)
    seen.clear()
    records = []
    for label, words in STEPS:
        dom = conn.lookupByName(words[1])
        if words[0] == "domrename":
            dom.rename(words[2], 0)
        elif words[0] == "start":
            dom.create()
        elif words[0] == "destroy":
            dom.destroy()
        elif words[0] == "resume":
            dom.resume()
        elif words[0] == "snapshot-create-as" and ("--disk-only" in words or "--memspec" in words):
            memory = ("<memory snapshot='external' file='%s'/>" % os.path.join(base, "ev.mem")
                      if "--memspec" in words else "<memory snapshot='no'/>")
            xml = ("<domainsnapshot><name>%s</name>%s<disks><disk name='vda' snapshot='external'/></disks>"
                   "</domainsnapshot>" % (words[2], memory))
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY if "--disk-only" in words else 0
            dom.snapshotCreateXML(xml, flags)
        elif words[0] == "snapshot-create-as":
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_HALT if "--halt" in words else 0
            dom.snapshotCreateXML("<domainsnapshot><name>%s</name></domainsnapshot>" % words[2], flags)
        elif words[0] == "snapshot-revert":
            flags = (libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED if "--paused" in words else 0) | \
                (libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING if "--running" in words else 0)
            dom.revertToSnapshot(dom.snapshotLookupByName(words[2]), flags)
        time.sleep(2)           # the QEMU events' handlers run in the event loop thread
        now = conn.lookupByName(words[2] if words[0] == "domrename" else words[1])
        records.append({"step": label, "args": words, "events": list(seen), "state": list(now.state())})
        print(records[-1], flush=True)
        seen.clear()
    stop.set()
    with open(OUT, "w") as f:
        json.dump({"libvirt": "9.0.0 (Debian 12), QEMU driver in qemu:///embed mode, python3-libvirt 9.0.0",
                   "records": records}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
