"""Record what real virsh 9.0 + libvirt's QEMU driver print for the monitor, display and
keyboard commands (qemu-monitor-command, screenshot, send-key, domdisplay, vncdisplay,
domcontrol, domjobinfo) and for `event` on a quiet domain, into
tests/data/monitor-libvirt.json (the reference test_events.py compares pyvirsh with).
Run by hand, as root, on Debian 12 with libvirt-daemon-driver-qemu installed:

    .venv/bin/python tests/record_monitor_reference.py

libvirt runs daemonless (virsh -c qemu:///embed?root=DIR, one interactive virsh process fed
the commands one by one; record_agent_reference.Virsh). The domain is a firmware-only
guest with a VGA card and VNC: what the commands read needs no booted system.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from record_agent_reference import QEMU_CONF, Virsh

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "monitor-libvirt.json")

# Also what test_events.py defines for pyvirsh: the same domain on both sides.
DISPLAY_XML = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
"""
BARE_XML = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
</domain>
"""

# (args...) with DOM standing for the domain's name; SHOT for a file in the scratch directory
COMMANDS = [
    ("domdisplay", "DOM"), ("domdisplay", "DOM", "--type", "vnc"), ("domdisplay", "DOM", "--type", "spice"),
    ("domdisplay", "DOM", "--all"), ("domdisplay", "DOM", "--include-password"), ("vncdisplay", "DOM"),
    ("domcontrol", "DOM"), ("domjobinfo", "DOM"), ("domjobinfo", "DOM", "--completed"),
    ("domjobinfo", "DOM", "--rawstats"), ("domjobinfo", "DOM", "--anystats"),
    ("qemu-monitor-command", "DOM", '{"execute":"query-status"}'),
    ("qemu-monitor-command", "DOM", "--pretty", '{"execute":"query-status"}'),
    ("qemu-monitor-command", "DOM", "--return-value", '{"execute":"query-status"}'),
    ("qemu-monitor-command", "DOM", "--pretty", "--return-value", '{"execute":"query-status"}'),
    ("qemu-monitor-command", "DOM", "query-status"),
    ("qemu-monitor-command", "DOM", "--pretty", "query-name"),
    ("qemu-monitor-command", "DOM", '{"execute":"no-such-command"}'),
    ("qemu-monitor-command", "DOM", "--return-value", '{"execute":"no-such-command"}'),
    ("qemu-monitor-command", "DOM", "not json"),
    ("qemu-monitor-command", "DOM", "--hmp", "info", "status"),
    ("qemu-monitor-command", "DOM", "--hmp", "info name"),
    ("qemu-monitor-command", "DOM", "--hmp", "no-such-hmp"),
    ("qemu-monitor-command", "DOM", "--hmp", "--pretty", "info status"),
    ("qemu-monitor-command", "DOM", "--pass-fds", "x", '{"execute":"query-status"}'),
    ("qemu-monitor-command", "DOM", "--pass-fds", "0", '{"execute":"query-status"}'),
    ("screenshot", "DOM", "--file", "SHOT"), ("screenshot", "DOM", "--file", "SHOT", "--screen", "1"),
    ("send-key", "DOM", "KEY_A"), ("send-key", "DOM", "--codeset", "xt", "30"),
    ("send-key", "DOM", "--codeset", "atset1", "0xe048"), ("send-key", "DOM", "--codeset", "qnum", "0x1e"),
    ("send-key", "DOM", "--codeset", "rfb", "30"), ("send-key", "DOM", "--holdtime", "50", "KEY_LEFTCTRL", "KEY_C"),
    ("send-key", "DOM", "--codeset", "usb", "4"), ("send-key", "DOM", "--codeset", "win32", "VK_A"),
    ("send-key", "DOM", "--codeset", "xt", "200"), ("send-key", "DOM", "700"),
    ("event", "--domain", "DOM", "--event", "lifecycle", "--timeout", "1"),
    ("event", "--all", "--timeout", "1", "--loop"),
    ("qemu-monitor-event", "--domain", "DOM", "--event", "NOPE", "--timeout", "1"),
    ("qemu-monitor-event", "--regex", "--event", "(", "--timeout", "1"),
    ("suspend", "DOM"), ("domcontrol", "DOM"), ("resume", "DOM"),
]
OFFLINE = [("domdisplay", "DOM"), ("vncdisplay", "DOM"), ("domcontrol", "DOM"), ("domjobinfo", "DOM"),
           ("domjobinfo", "DOM", "--completed"), ("screenshot", "DOM", "--file", "SHOT"), ("send-key", "DOM", "1"),
           ("qemu-monitor-command", "DOM", '{"execute":"query-status"}')]


def main() -> None:
    base = tempfile.mkdtemp(prefix="monref-")
    os.makedirs(os.path.join(base, "etc"))
    with open(os.path.join(base, "etc", "qemu.conf"), "w") as f:
        f.write(QEMU_CONF)
    for name, xml in (("disp", DISPLAY_XML), ("bare", BARE_XML)):
        with open(os.path.join(base, name + ".xml"), "w") as f:
            f.write(xml % {"name": name})
    virsh = Virsh("qemu:///embed?root=%s" % base)
    records = []
    shot = os.path.join(base, "shot")

    def rec(dom, args):
        words = [shot if w == "SHOT" else dom if w == "DOM" else w for w in args]
        result = virsh.run(*words)
        result["args"] = list(args)
        result["domain"] = dom
        if "screenshot" in args and os.path.exists(shot):
            with open(shot, "rb") as f:
                result["file_head"] = f.read(20).decode("latin-1").split("\n")[:3]
            os.unlink(shot)
        print(result, flush=True)
        records.append(result)

    try:
        for name in ("disp", "bare"):
            virsh.run("define", os.path.join(base, name + ".xml"))
        for args in OFFLINE:
            rec("disp", args)
        for name in ("disp", "bare"):
            virsh.run("start", name)
        for args in COMMANDS:
            rec("disp", args)
        for args in COMMANDS[:11] + [("screenshot", "DOM", "--file", "SHOT")]:
            rec("bare", args)
        for name in ("disp", "bare"):
            virsh.run("destroy", name)
    finally:
        virsh.close()
    with open(OUT, "w") as f:
        json.dump({"libvirt": "9.0.0 (Debian 12), QEMU driver in qemu:///embed mode",
                   "records": records}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
