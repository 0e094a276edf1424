"""A real guest OS boots from virt-install's XML (tests/testguest.py's tiny Linux, given as
<kernel>/<initrd>/<cmdline>, under TCG: the kvm_pvm /dev/kvm here does not boot a stock kernel in
useful time) and reports from inside what it sees; each device of the XML must be there, at the
PCI address the XML gives it: disks (virtio, SATA, IDE), the cdrom's media, the rng, the guest
agent's and spice's virtio-serial ports, the USB tablet, the NIC's MAC, the serial console."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest
from lxml import etree

import testguest
from qemuhelp import Env

DATA = os.path.join(os.path.dirname(__file__), "data", "virtinst")
BOOT_DEADLINE = 300          # seconds; TCG on a busy 2-core machine, a bound and not a timing check

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                       reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
]


@pytest.fixture(scope="session")
def guest_files(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    try:
        return testguest.build()
    except RuntimeError as err:
        pytest.skip(str(err))


SYSINFO = ("<sysinfo type='smbios'><bios><entry name='vendor'>Example BIOS</entry></bios>"
           "<system><entry name='product'>Widget 9000</entry><entry name='manufacturer'>Example, Inc.</entry>"
           "<entry name='serial'>SN-42</entry></system>"
           "<baseBoard><entry name='manufacturer'>Example Boards</entry></baseBoard>"
           "<chassis><entry name='manufacturer'>Example Cases</entry></chassis>"
           "<oemStrings><entry>app:one</entry><entry>app:two,with a comma</entry></oemStrings></sysinfo>"
           "<sysinfo type='fwcfg'><entry name='opt/org.pyvirsh/greeting'>hello guest</entry></sysinfo>")


def boot(tmp_path, guest_files, profile: str, extra: dict | None = None) -> tuple[etree._Element, dict]:
    env = Env(tmp_path)
    try:
        return _boot(env, guest_files, profile, extra or {})
    finally:
        env.cleanup()           # the guest powers itself off; a failed boot must not stay


def _boot(env: Env, guest_files, profile: str, extra: dict) -> tuple[etree._Element, dict]:
    """extra: XML added after the opening tag of <domain>, <os> or <devices> (by tag name)."""
    for name, size in (("disk1.qcow2", "64M"), ("disk2.qcow2", "64M"), ("disk3.qcow2", "48M")):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", env.path(name), size], check=True)
    with open(env.path("install.iso"), "wb") as f:
        f.write(b"CD001" * 1000)
        f.truncate(3 << 20)
    kernel, initrd = guest_files
    log = os.path.join(env.base, "serial.log")
    with open(os.path.join(DATA, profile + ".xml")) as f:
        text = f.read()
    text = re.sub(r'<boot dev="[a-z]+"/>', "", text)
    text = text.replace("<os>", "<os><kernel>%s</kernel><initrd>%s</initrd>"
                        "<cmdline>console=ttyS0 cryptomgr.notests</cmdline>" % (kernel, initrd), 1)
    # the console as a file, so the test reads what the guest printed after it powered off
    text = text.replace('<console type="pty"/>', "<serial type='file'><source path='%s'/></serial>" % log)
    text = text.replace('<domain type="kvm">', '<domain type="qemu">')
    for tag, xml in extra.items():
        text = re.sub(r"(<%s(?:\s[^>]*)?>)" % tag, lambda m, xml=xml: m.group(1) + xml, text, count=1)
    text = text.replace("/tmp/lvimg/", env.images + "/")       # the profile's images and extra's
    path = os.path.join(env.base, "guest.xml")
    with open(path, "w") as f:
        f.write(text)
    env.ok("define", path)
    env.ok("start", profile)
    live = etree.fromstring(env.ok("dumpxml", profile).encode())
    deadline = time.monotonic() + BOOT_DEADLINE
    while env.ok("domstate", profile).strip() != "shut off":     # the guest powers itself off
        assert time.monotonic() < deadline, "the guest did not power off"
        time.sleep(0.2)
    with open(log, errors="replace") as f:
        lines = testguest.report(f.read())
    assert lines, "the guest printed no report"
    seen: dict = {}
    for line in lines:
        kind, _, rest = line.partition(" ")
        seen.setdefault(kind, []).append(rest)
    return live, seen


def guest_bus_numbers(devices) -> dict[int, int]:
    """libvirt's bus indexes are not the guest's bus numbers: firmware numbers bridges depth
    first in slot order. The mapping from the XML's controller indexes to what the guest sees."""
    children: dict[int, list] = {}
    for ctrl in devices.iterfind("controller[@type='pci']"):
        addr = ctrl.find("address")
        if addr is not None:
            children.setdefault(int(addr.get("bus"), 16), []).append(
                ((int(addr.get("slot"), 16), int(addr.get("function"), 16)), int(ctrl.get("index"))))
    numbers = {0: 0}

    def walk(bus: int) -> None:
        for _, index in sorted(children.get(bus, [])):
            numbers[index] = len(numbers)
            walk(index)
    walk(0)
    return numbers


def check_inside(live, seen) -> None:
    guest_pci = {entry.split()[0] for entry in seen["pci"]}
    devices = live.find("devices")
    numbers = guest_bus_numbers(devices)

    def _pci(addr_el) -> str:
        return "0000:%02x:%02x.%x" % (numbers[int(addr_el.get("bus"), 16)], int(addr_el.get("slot"), 16),
                                     int(addr_el.get("function"), 16))

    for el in devices:
        addr = el.find("address") if isinstance(el.tag, str) else None
        if addr is not None and addr.get("type") == "pci":
            assert _pci(addr) in guest_pci, (el.tag, _pci(addr), guest_pci)
    blocks = {entry.split()[0]: entry.split() for entry in seen.get("block", [])}
    for disk in devices.iterfind("disk"):
        bus = disk.find("target").get("bus")
        addr = disk.find("address")
        if bus == "virtio":
            assert any(_pci(addr) in entry[2] for entry in blocks.values()), (_pci(addr), blocks)
        elif bus in ("sata", "ide"):
            ata = "/ata%d/" % ((int(addr.get("unit")) if bus == "sata" else int(addr.get("bus"))) + 1)
            hosts = [entry for entry in blocks.values() if ata in entry[2]]
            assert hosts, (bus, ata, blocks)
            if disk.get("device") == "cdrom":
                assert hosts[0][0].startswith("sr") and int(hosts[0][1]) == (3 << 20) // 512
        elif bus == "scsi":
            # a SCSI disk (sdX) behind its controller's PCI function, at the address's target and
            # unit (the guest's H:C:T:L, channel 0), with the image's size
            ctrl = devices.find("controller[@type='scsi'][@index='%s']" % addr.get("controller"))
            lun = ":0:%d:%d" % (int(addr.get("target")), int(addr.get("unit")))
            behind = _pci(ctrl.find("address"))
            hosts = [entry for entry in blocks.values()
                     if behind in entry[2] and "/host" in entry[2] and entry[2].endswith(lun)]
            assert len(hosts) == 1 and hosts[0][0].startswith("sd"), (lun, blocks)
            image = disk.find("source").get("file")
            info = subprocess.run(["qemu-img", "info", "-U", "--output=json", image],
                                  capture_output=True, text=True, check=True)
            assert int(hosts[0][1]) * 512 == json.loads(info.stdout)["virtual-size"]
    if devices.find("rng") is not None:
        assert seen["rng"] == ["virtio_rng.0"]
    wanted_ports = sorted(c.find("target").get("name") for c in devices.iterfind("channel"))
    assert sorted(seen.get("vport", [])) == wanted_ports
    if devices.find("input[@type='tablet']") is not None:
        assert "QEMU USB Tablet" in seen["usb"]
    macs = sorted(i.find("mac").get("address") for i in devices.iterfind("interface"))
    assert sorted(entry.split()[1] for entry in seen.get("net", [])) == macs
    assert seen["serial"] == ["ttyS0"]


def test_q35_guest_sees_virt_install_devices(tmp_path, guest_files):
    # with SMBIOS tables from <sysinfo> (<smbios mode='sysinfo'/>) and fw_cfg entries the kernel's
    # qemu_fw_cfg shows. (No TPM here: with a TPM, SeaBIOS puts its ACPI tables and TPM log lower
    # than QEMU expects and QEMU's direct kernel boot loads the initrd over them; test_guests.py
    # checks the TPM in QEMU's query-tpm instead.)
    live, seen = boot(tmp_path, guest_files, "q35-cdrom-spice", {
        "os": "<smbios mode='sysinfo'/>", "domain": SYSINFO})
    check_inside(live, seen)
    assert seen["dmi"] == ["Example BIOS|Example, Inc.|Widget 9000|SN-42|Example Boards|Example Cases"]
    assert seen["oem"] == ["app:one|app:two,with a comma||"]       # the strings, each NUL-ended, then a NUL
    assert seen["fwcfg"] == ["opt/org.pyvirsh/greeting hello guest"]


VIRTIO_SCSI_DISK = ("<controller type='scsi' model='virtio-scsi'/>"
                    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                    "<source file='/tmp/lvimg/disk3.qcow2'/><target dev='sdb' bus='scsi'/>"
                    "<address type='drive' controller='0' bus='0' target='2' unit='0'/></disk>")


def test_pc_guest_sees_virtio_ide_and_virtio_scsi_disks(tmp_path, guest_files):
    live, seen = boot(tmp_path, guest_files, "pc-two-buses", {"devices": VIRTIO_SCSI_DISK})
    assert live.find("devices/controller[@type='scsi']").get("model") == "virtio-scsi"
    check_inside(live, seen)


def test_q35_guest_sees_sata_disk_and_rtl8139_behind_the_bridge(tmp_path, guest_files):
    live, seen = boot(tmp_path, guest_files, "q35-two-buses")
    check_inside(live, seen)


# The smallest UEFI machine: no disk and no NIC, so the firmware's boot manager comes straight to
# its built-in boot options (a NIC would have it wait for PXE first). The firmware is chosen from
# QEMU's descriptors as libvirt does (the first one, Secure Boot with keys enrolled, needing SMM:
# TCG emulates it; the KVM here has no SMM, see issue 13's host facts).
UEFI_DOMAIN = """<domain type='qemu'><name>uefi</name><memory>262144</memory><vcpu>1</vcpu>
<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/><apic/></features>
<devices><serial type='file'><source path='%s'/></serial><memballoon model='none'/></devices></domain>"""


@pytest.mark.skipif(not os.path.exists("/usr/share/qemu/firmware/60-edk2-x86_64.json"),
                    reason="no UEFI firmware descriptors (apt-get install -y ovmf)")
def test_uefi_firmware_runs_and_reaches_its_boot_manager(tmp_path):
    env = Env(tmp_path)
    try:
        log = os.path.join(env.base, "uefi-serial.log")
        path = os.path.join(env.base, "uefi.xml")
        with open(path, "w") as f:
            f.write(UEFI_DOMAIN % log)
        env.ok("define", path)
        env.ok("start", "uefi")
        live = etree.fromstring(env.ok("dumpxml", "uefi").encode())
        loader, nvram = live.find("os/loader"), live.find("os/nvram")
        assert loader.get("type") == "pflash" and loader.text.startswith("/usr/share/OVMF/OVMF_CODE")
        assert os.path.getsize(nvram.text) == os.path.getsize(nvram.get("template"))    # copied at start
        # OVMF's boot manager (BdsDxe) says on the serial console which boot option it loads
        deadline = time.monotonic() + BOOT_DEADLINE
        text = ""
        while "BdsDxe: loading Boot0" not in text:
            assert time.monotonic() < deadline, "OVMF printed no boot manager line: %r" % text[-500:]
            assert env.ok("domstate", "uefi").strip() == "running"
            time.sleep(0.2)
            with open(log, errors="replace") as f:
                text = f.read()
        assert re.search(r'BdsDxe: loading Boot0001 "EFI Internal Shell"', text), text
        env.ok("destroy", "uefi")
    finally:
        env.cleanup()
