"""Platform details of real guests, checked in QEMU's own state: Hyper-V and KVM enlightenments
and paravirtual timers as CPU properties (qom-get on the CPU), the IOAPIC's place, SMBIOS from
the host, floppies on the fdc, and the <on_*> lifecycle actions applied by the next command.
Domains start paused (-S): nothing here needs a guest OS (test_guest_boot.py boots one)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from qemuhelp import Env

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 is not installed")


@pytest.fixture
def env(tmp_path):
    env = Env(tmp_path)
    try:
        yield env
    finally:
        env.cleanup()


def define(env: Env, name: str, body: str, dom_type: str = "qemu", machine: str = "q35") -> None:
    xml = ("<domain type='%s'><name>%s</name><memory>65536</memory>"
           "<os><type arch='x86_64' machine='%s'>hvm</type></os>%s</domain>" % (dom_type, name, machine, body))
    path = os.path.join(env.base, name + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    env.ok("define", path)


def qmp(env: Env, name: str, command: str, arguments=None):
    from pyvirsh.drivers.qemu.qmp import QMP
    from pyvirsh.drivers.qemu.sockpath import short_path
    with QMP(short_path(os.path.join(env.root, "run", name, "qmp.sock"))) as q:
        return q.execute(command, arguments)


def cpu_prop(env: Env, name: str, prop: str):
    path = qmp(env, name, "query-cpus-fast")[0]["qom-path"]
    return qmp(env, name, "qom-get", {"path": path, "property": prop})


HYPERV = ("<features><acpi/><hyperv><relaxed state='on'/><vapic state='on'/>"
          "<spinlocks state='on' retries='8191'/><runtime state='on'/><synic state='on'/>"
          "<stimer state='on'><direct state='on'/></stimer><reset state='on'/>"
          "<vendor_id state='on' value='KVM Hv'/><frequencies state='on'/><reenlightenment state='on'/>"
          "<tlbflush state='on'/><ipi state='on'/><evmcs state='off'/></hyperv>"
          "<kvm><hidden state='on'/></kvm></features>"
          "<clock offset='localtime'><timer name='hypervclock' present='yes'/></clock>")


def test_hyperv_enlightenments_and_hypervclock_reach_the_cpu_under_tcg(env):
    """virt-install's Windows profiles: the KVM here rejects Hyper-V MSRs (see the issue), so this
    runs under TCG, where QEMU takes every enlightenment but hv-vpindex (QEMU refuses that one
    without KVM, and so does its start here)."""
    define(env, "w", HYPERV)
    inactive = env.ok("dumpxml", "--inactive", "w")
    assert "<hyperv mode='custom'>" in inactive and "<spinlocks state='on' retries='8191'/>" in inactive
    env.ok("start", "--paused", "w")
    for prop, value in (("hv-relaxed", True), ("hv-vapic", True), ("hv-spinlocks", 8191), ("hv-runtime", True),
                        ("hv-synic", True), ("hv-stimer", True), ("hv-stimer-direct", True), ("hv-reset", True),
                        ("hv-vendor-id", "KVM Hv"), ("hv-frequencies", True), ("hv-reenlightenment", True),
                        ("hv-tlbflush", True), ("hv-ipi", True), ("hv-evmcs", False), ("hv-time", True),
                        ("hv-vpindex", False), ("kvm", False)):
        assert cpu_prop(env, "w", prop) == value, prop
    env.ok("destroy", "w")


def test_hyperv_vpindex_fails_under_tcg_with_qemus_words_and_bad_values_are_refused(env):
    define(env, "v", "<features><hyperv><vpindex state='on'/></hyperv></features>")
    proc = env.run("start", "v")
    assert proc.returncode == 1 and "kernel doesn't allow setting HyperV VP_INDEX" in proc.stderr, proc.stderr
    for body, words in (("<features><hyperv><spinlocks state='on' retries='100'/></hyperv></features>",
                         "HyperV spinlock retry count must be at least 4095"),
                        (("<features><hyperv><vendor_id state='on' value='far too long a vendor'/></hyperv>"
                          "</features>"), "vendor_id"),
                        ("<features><ioapic driver='kvm'/></features>", "ioapic driver='kvm'"),
                        (("<features><hyperv><tlbflush state='on'><direct state='on'/></tlbflush></hyperv>"
                          "</features>"), "<direct>")):
        path = os.path.join(env.base, "bad.xml")
        with open(path, "w") as f:
            f.write("<domain type='qemu'><name>bad</name><memory>65536</memory><os><type arch='x86_64'>hvm"
                    "</type></os>%s</domain>" % body)
        proc = env.run("define", path)
        assert proc.returncode == 1 and "error: unsupported configuration: " in proc.stderr, proc.stderr
        assert words in proc.stderr, proc.stderr


def _kvm_usable() -> bool:
    from pyvirsh.drivers.qemu.capabilities import kvm_usable
    return kvm_usable()


@pytest.mark.skipif(not _kvm_usable(), reason="KVM is not usable here")
def test_kvm_enlightenments_and_pvspinlock_reach_the_cpu_under_kvm(env):
    """TCG filters KVM's paravirtual CPUID bits: these need <domain type='kvm'> (paused, no guest)."""
    define(env, "k", "<features><acpi/><pvspinlock state='on'/><kvm><hint-dedicated state='on'/>"
                     "<poll-control state='on'/><pv-ipi state='off'/></kvm><ioapic driver='qemu'/></features>"
                     "<clock offset='utc'><timer name='kvmclock' present='yes'/></clock>", dom_type="kvm")
    env.ok("start", "--paused", "k")
    for prop, value in (("kvm-pv-unhalt", True), ("kvm-hint-dedicated", True), ("kvm-poll-control", True),
                        ("kvm-pv-ipi", False), ("kvmclock", True)):
        assert cpu_prop(env, "k", prop) == value, prop
    # ioapic driver='qemu': the split irqchip puts the IOAPIC in QEMU (KVM's own is a kvm-ioapic)
    children = {p["name"]: p["type"] for p in qmp(env, "k", "qom-list", {"path": "/machine/q35"})}
    assert children["ioapic"] == "child<ioapic>"
    env.ok("destroy", "k")


@pytest.mark.skipif(os.path.isdir("/sys/class/dmi/id"), reason="this host has SMBIOS tables")
def test_smbios_host_mode_needs_the_hosts_tables(env):
    define(env, "h", "")
    path = os.path.join(env.base, "h2.xml")
    xml = env.ok("dumpxml", "--inactive", "h").replace("<boot dev='hd'/>", "<boot dev='hd'/><smbios mode='host'/>")
    with open(path, "w") as f:
        f.write(xml)
    env.ok("define", path)
    proc = env.run("start", "h")
    assert proc.returncode == 1
    assert "error: unsupported configuration: Host SMBIOS information is not available" in proc.stderr
    assert env.ok("domstate", "h").strip() == "shut off"


def test_sysinfo_smbios_without_smbios_mode_sysinfo_is_refused(env):
    path = os.path.join(env.base, "s.xml")
    with open(path, "w") as f:
        f.write("<domain type='qemu'><name>s</name><memory>65536</memory><os><type arch='x86_64'>hvm</type>"
                "</os><sysinfo type='smbios'><system><entry name='product'>P</entry></system></sysinfo>"
                "</domain>")
    proc = env.run("define", path)
    assert proc.returncode == 1
    assert "error: unsupported configuration: <sysinfo type='smbios'> reaches the guest only with " \
           "<smbios mode='sysinfo'/>" in proc.stderr


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_floppies_on_the_fdc_with_media_and_empty(env, machine):
    """pc has an fdc on board; q35 has none, so it gets an isa-fdc device (as libvirt gives it)."""
    image = env.path("floppy.img")
    with open(image, "wb") as f:
        f.truncate(1474560)
    name = "f" + machine
    define(env, name, "<devices><disk type='file' device='floppy'><source file='%s'/>"
                      "<target dev='fda' bus='fdc'/><boot order='1'/></disk>"
                      "<disk type='file' device='floppy'><target dev='fdb' bus='fdc'/></disk></devices>" % image,
           machine=machine)
    inactive = env.ok("dumpxml", "--inactive", name)
    assert "<controller type='fdc' index='0'/>" in inactive
    assert "<address type='drive' controller='0' bus='0' target='0' unit='1'/>" in inactive
    env.ok("start", "--paused", name)
    blocks = {b["qdev"]: b for b in qmp(env, name, "query-block")}
    assert blocks["fdc0-0-0"]["inserted"]["file"] == image
    assert "inserted" not in blocks["fdc0-0-1"] and blocks["fdc0-0-1"]["removable"]
    for unit in (0, 1):
        path = "/machine/peripheral/fdc0-0-%d" % unit
        assert qmp(env, name, "qom-get", {"path": path, "property": "unit"}) == unit
    if machine == "q35":
        fdc = qmp(env, name, "qom-get", {"path": "/machine/peripheral/fdc0-0-0", "property": "parent_bus"})
        controller = fdc.rsplit("/", 1)[0]
        assert qmp(env, name, "qom-get", {"path": controller, "property": "type"}) == "isa-fdc"
        assert qmp(env, name, "qom-get", {"path": controller, "property": "bootindexA"}) == 1
    env.ok("destroy", name)


# Boot sectors SeaBIOS runs from a raw disk (16-bit code at 0x7c00): each prints a letter on
# COM1, then powers the machine off through the ACPI PM1a control port SeaBIOS sets up (0x604,
# SLP_EN with S5), panics through the ISA pvpanic port (0x505), or just halts.
_SAY = (0xBA, 0xF8, 0x03, 0xB0)                                 # mov dx,0x3f8; mov al,...
_HALT = (0xF4, 0xEB, 0xFD)                                       # hlt; jmp back to the hlt
SECTORS = {"poweroff": _SAY + (ord("B"), 0xEE, 0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20, 0xEF) + _HALT,
           "panic": _SAY + (ord("P"), 0xEE, 0xBA, 0x05, 0x05, 0xB0, 0x01, 0xEE) + _HALT,
           "idle": _SAY + (ord("I"), 0xEE) + _HALT}


def lifecycle_domain(env: Env, name: str, sector: str, actions: str, devices: str = "") -> str:
    image, log = env.path(sector + ".img"), env.path(name + ".serial")
    code = bytearray(512)
    code[:len(SECTORS[sector])] = bytes(SECTORS[sector])
    code[510:] = b"\x55\xaa"
    with open(image, "wb") as f:
        f.write(code)
    define(env, name, "<features><acpi/></features>%s"
                      "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                      "<source file='%s'/><target dev='hda' bus='ide'/></disk>"
                      "<serial type='file'><source path='%s'/></serial>%s</devices>"
                      % (actions, image, log, devices), machine="pc")
    env.ok("start", name)
    return log


def wait_for(env: Env, name: str, done) -> str:
    """Run `domstate --reason` (each run applies a pending action) until done(state) holds."""
    deadline = time.monotonic() + 120         # a bound for a busy machine, not a timing check
    while True:
        state = env.ok("domstate", "--reason", name).strip()
        if done(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def serial_text(log: str) -> str:
    try:
        with open(log) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_on_poweroff_restart_is_applied_by_the_next_command(env):
    log = lifecycle_domain(env, "r", "poweroff", "<on_poweroff>restart</on_poweroff>")
    # the guest powers off; the next command resets and resumes it, and it prints again
    wait_for(env, "r", lambda state: serial_text(log).count("B") >= 2)
    assert env.ok("domstate", "--reason", "r").strip() == "running (booted)"
    env.ok("destroy", "r")


def test_guest_poweroff_and_reboot_with_on_reboot_destroy_end_as_shutdown(env):
    lifecycle_domain(env, "d", "poweroff", "")
    assert wait_for(env, "d", lambda state: state != "running (booted)") == "shut off (shutdown)"
    assert not env.qemu_pids()
    lifecycle_domain(env, "b", "idle", "<on_reboot>destroy</on_reboot>")
    env.ok("reboot", "b")              # QEMU's reset becomes a shutdown (set-action reboot=shutdown)
    assert wait_for(env, "b", lambda state: state != "running (booted)") == "shut off (shutdown)"


def test_on_crash_preserve_and_coredump_destroy_after_a_guest_panic(env):
    panic = "<panic model='isa'><address type='isa' iobase='0x505'/></panic>"
    lifecycle_domain(env, "c", "panic", "<on_crash>preserve</on_crash>", panic)
    assert wait_for(env, "c", lambda state: state != "running (booted)") == "crashed (panicked)"
    assert qmp(env, "c", "query-status")["status"] == "guest-panicked"
    env.ok("destroy", "c")
    lifecycle_domain(env, "k", "panic", "<on_crash>coredump-destroy</on_crash>", panic)
    assert wait_for(env, "k", lambda state: state != "running (booted)") == "shut off (crashed)"
    dumps = os.listdir(os.path.join(env.root, "state", "dump"))
    assert len(dumps) == 1 and dumps[0].startswith("k-")
    with open(os.path.join(env.root, "state", "dump", dumps[0]), "rb") as f:
        assert f.read(4) == b"\x7fELF"          # QEMU's guest memory dump


def test_unsupported_lifecycle_actions_are_refused(env):
    # libvirt 9.0's own words for the first three (recorded from virsh define on libvirtd + QEMU)
    rename = "qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'\n"
    for actions, words in (("<on_poweroff>rename-restart</on_poweroff>", rename),
                           ("<on_crash>rename-restart</on_crash>", rename),
                           ("<on_reboot>preserve</on_reboot>",
                            "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'\n"),
                           # libvirt 9.0 (qemuValidateLifecycleAction) refuses it for on_poweroff as well
                           ("<on_poweroff>preserve</on_poweroff>",
                            "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'\n"),
                           ("<on_reboot>destroy</on_reboot><on_crash>restart</on_crash>", "restart action")):
        path = os.path.join(env.base, "bad.xml")
        with open(path, "w") as f:
            f.write("<domain type='qemu'><name>bad</name><memory>65536</memory><os><type arch='x86_64'>hvm"
                    "</type></os>%s</domain>" % actions)
        proc = env.run("define", path)
        assert proc.returncode == 1 and "error: unsupported configuration: " in proc.stderr, proc.stderr
        assert words in proc.stderr, proc.stderr
