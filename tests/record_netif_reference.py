"""Record what real virsh 9.0 + libvirt 9.0's QEMU driver print for domiflist, domif-getlink,
domif-setlink and update-device of an <interface>, into tests/data/netif-libvirt.json (the
reference test_qemu_networks.py replays through pyvirsh). Run by hand on Debian 12 with
libvirt-daemon-driver-qemu installed:

    .venv/bin/python tests/record_netif_reference.py

libvirt runs daemonless (virsh -c qemu:///embed?root=DIR, QEMU as root without a security driver,
stdio_handler = "file"), each case
one virsh command string; the domain is started paused, with user-mode interfaces only (no
host networking is touched). libvirt's own log lines (dated) are dropped from stderr.
domifaddr --source lease/arp are not recorded: embedded libvirt has no network driver to ask
for leases, and its ARP reader fails here ("wrong nlmsg len"); they are tested on a guest.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "netif-libvirt.json")

DOM_XML = ("<domain type='qemu'><name>nl</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
           "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>"
           "<interface type='user'><mac address='52:54:00:aa:bb:02'/><model type='e1000'/><link state='down'/>"
           "</interface></devices></domain>\n")
FILES = {
    "nic-model.xml": "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='e1000'/>"
                     "<link state='down'/></interface>\n",
    "nic-nomac.xml": "<interface type='user'><mac address='52:54:00:aa:bb:77'/><model type='virtio'/>"
                     "<link state='down'/></interface>\n",
    "nic-down.xml": "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/>"
                    "<link state='down'/></interface>\n",
}
M1, M2 = "52:54:00:aa:bb:01", "52:54:00:aa:bb:02"
COMMANDS = [
    ("define dom.xml; domiflist nl; domif-getlink nl %(M2)s; start nl --paused; domiflist nl; domif-getlink nl %(M1)s; "
    "domif-getlink nl %(M2)s; domif-setlink nl %(M1)s down; domif-getlink nl %(M1)s; domif-getlink nl %(M1)s "
    "--config; domif-setlink nl %(M2)s up; domif-getlink nl %(M2)s; domif-setlink nl %(M2)s up --config; "
    "domif-getlink nl %(M2)s --config; domif-setlink nl nosuch down; destroy nl; undefine nl"),
    ("define dom.xml; start nl --paused; update-device nl nic-model.xml; update-device nl nic-nomac.xml; "
    "update-device nl nic-down.xml; domif-getlink nl %(M1)s; update-device nl nic-nomac.xml --config; "
    "update-device nl nic-down.xml --config; domif-getlink nl %(M1)s --config; destroy nl; "
    "domif-setlink nl %(M1)s up; domif-getlink nl %(M1)s; undefine nl"),
]


def main() -> None:
    cases = []
    for text in COMMANDS:
        command = text % {"M1": M1, "M2": M2}
        with tempfile.TemporaryDirectory() as work:
            os.makedirs(os.path.join(work, "root", "etc"))
            with open(os.path.join(work, "root", "etc", "qemu.conf"), "w") as f:
                f.write('user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n')
            for name, body in dict(FILES, **{"dom.xml": DOM_XML}).items():
                with open(os.path.join(work, name), "w") as f:
                    f.write(body)
            proc = subprocess.run(["virsh", "-c", "qemu:///embed?root=%s/root" % work, command], cwd=work,
                                  capture_output=True, text=True, env=dict(os.environ, LANG="C"), check=False)
        stderr = "".join(line for line in proc.stderr.splitlines(True) if not line[:4].isdigit())
        cases.append({"command": command, "stdout": proc.stdout, "stderr": stderr, "status": proc.returncode})
    with open(OUT, "w") as f:
        json.dump({"recorded": "virsh 9.0 with libvirt 9.0's embedded QEMU driver (qemu:///embed, one virsh "
                               "command string, stdio_handler=file), QEMU 7.2, LANG=C; libvirt's dated log "
                               "lines left out",
                   "dom_xml": DOM_XML, "files": FILES, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
