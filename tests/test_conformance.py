"""Every command against every driver: no internal error, ever.

Each command in the command table runs with plausible arguments (and with
none) on test:///default and on an embedded QEMU driver, against a defined
(shut off) domain and a running one. Whatever a driver cannot do must end as
libvirt's "this function is not supported by the connection driver: virXxx"
(or another error in libvirt's words) with exit status 1; an AttributeError,
a TypeError or any other Python exception reaching the user ("internal
error: XxxError: ...") or a traceback fails the test.

The commands run in process (main() with captured streams): one QEMU start
per driver fixture, a few seconds for the whole walk.
"""

from __future__ import annotations

import os
import re

import pytest

from pyvirsh.cli import main
from pyvirsh.commands import TABLE
from pyvirsh.drivers import api

from qemuhelp import domain_xml, qemu_img

# "internal error: " followed by a Python exception's class name is a bug that
# reached the user; libvirt's own internal errors read differently.
PYTHON_ERROR = re.compile(r"internal error: [A-Za-z_.]*(Error|Exception|Warning|Interrupt|Exit)\b")

# Plausible arguments per command; {dom} is the domain under test, {tmp} a scratch
# directory, {xml} a domain XML file for a new domain, {uri} the connection's URI.
ARGS = {
    "attach-device": ["{dom} {xml}", "{dom} {tmp}/missing.xml --config"],
    "attach-disk": ["{dom} {tmp}/missing.qcow2 vdz", "{dom} {tmp}/missing.qcow2 vda --config --subdriver qcow2",
                    "{dom} x vdz --print-xml"],
    "attach-interface": ["{dom} network default", "{dom} user x --config"],
    "change-media": ["{dom} hdc --eject", "{dom} vda --insert {tmp}/x.iso"],
    "detach-device": ["{dom} {xml}", "{dom} {tmp}/missing.xml"],
    "detach-disk": ["{dom} vdz", "{dom} vda --print-xml", "{dom} vda --config --print-xml"],
    "detach-interface": ["{dom} user", "{dom} network --config"],
    "update-device": ["{dom} {xml}", "{dom} {tmp}/missing.xml --force"],
    "blockcommit": ["{dom} vda", "{dom} vda --active --shallow", "{dom} vda --base vda[2] --top vda[1]",
                    "{dom} vdz --async"],
    "blockcopy": ["{dom} vda", "{dom} vdz --dest {tmp}/copy.qcow2",
                  "{dom} vda --dest {tmp}/x.img --print-xml"],
    "blockjob": ["{dom} vda", "{dom} vda --info", "{dom} vda --raw", "{dom} vda --abort", "{dom} vda 5",
                 "{dom} vdz"],
    "blockpull": ["{dom} vda", "{dom} vdz", "{dom} vda --base vda[2]"],
    "blockresize": ["{dom} vda 128M", "{dom} vdz 1M"],
    "console": ["{dom}", "{dom} --devname serial0 --force --safe", "nosuch"],
    "create": ["{xml}", "{tmp}/missing.xml"],
    "define": ["{xml}", "{tmp}/missing.xml"],
    "destroy": ["{dom}", "nosuch"],
    "domid": ["{dom}", "nosuch"],
    "domname": ["{dom}", "1"],
    "domuuid": ["{dom}"],
    "dumpxml": ["{dom}", "{dom} --inactive", "{dom} --xpath //disk --wrap", "{dom} --security-info"],
    "edit": ["{dom}"],
    "reboot": ["{dom}", "{dom} --mode acpi"],
    "resume": ["{dom}"],
    "shutdown": ["{dom}", "{dom} --mode agent"],
    "start": ["{dom}", "{dom} --paused"],
    "suspend": ["{dom}"],
    "undefine": ["{dom} --storage vda", "{dom} --snapshots-metadata", "{dom}"],
    "domblkinfo": ["{dom} vda", "{dom} --all", "{dom} --all --human", "{dom} vdz"],
    "domblklist": ["{dom}", "{dom} --details", "{dom} --inactive"],
    "dominfo": ["{dom}"],
    "domstate": ["{dom}", "{dom} --reason"],
    "domstats": ["", "{dom}", "--block --backing --raw {dom}", "--enforce --perf", "--list-running", "nosuch"],
    "domblkstat": ["{dom} vda", "{dom} --human", "{dom} vdz"],
    "domifstat": ["{dom} x"],
    "dommemstat": ["{dom}", "{dom} --period 2 --config", "{dom} --period -1"],
    "domblkerror": ["{dom}"],
    "cpu-stats": ["{dom}", "{dom} --total", "{dom} --start 1 --count 1"],
    "vcpuinfo": ["{dom}", "{dom} --pretty"],
    "vcpucount": ["{dom}", "{dom} --live", "{dom} --guest"],
    "domfsfreeze": ["{dom}", "{dom} /boot", "nosuch"],
    "domfsthaw": ["{dom}", "{dom} --mountpoint /"],
    "domfsinfo": ["{dom}"],
    "domtime": ["{dom}", "{dom} --pretty", "{dom} --now", "{dom} --sync", "{dom} --time 5"],
    "guestinfo": ["{dom}", "{dom} --os --disk"],
    "guestvcpus": ["{dom}", "{dom} --cpulist 0-1 --disable", "{dom} --cpulist x --enable"],
    "set-user-password": ["{dom} root pw", "{dom} root pw --encrypted"],
    "domifaddr": ["{dom}", "{dom} --source agent", "{dom} --source arp --full", "{dom} --interface x"],
    "domiflist": ["{dom}", "{dom} --inactive"],
    "domif-getlink": ["{dom} x", "{dom} 52:54:00:00:00:01 --config"],
    "domif-setlink": ["{dom} x down", "{dom} 52:54:00:00:00:01 up --config", "{dom} x sideways"],
    "qemu-agent-command": ["{dom} '{{\"execute\":\"guest-ping\"}}'", "{dom} --timeout 1 x", "{dom} --async x"],
    "qemu-monitor-command": ["{dom} '{{\"execute\":\"query-status\"}}'", "{dom} --hmp info status",
                             "{dom} --pretty --return-value query-name", "{dom} --pass-fds 0 query-status",
                             "{dom} --pass-fds x y"],
    # listeners that would wait are tested in test_events.py (QEMU) and test_differential.py
    "qemu-monitor-event": ["--domain nosuch --timeout 1", "--regex --event ( --timeout 1 --domain {dom}"],
    "event": ["--list", "--domain nosuch --all --timeout 1", "--all --event lifecycle", "--event nope"],
    "screenshot": ["{dom} --file {tmp}/shot.png", "{dom} --file {tmp}/no/shot.png", "{dom} --screen 7"],
    "send-key": ["{dom} KEY_A", "{dom} --codeset xt 30 31", "{dom} --codeset usb 4", "{dom} nokey",
                 "{dom} --holdtime 10 --codeset atset1 0xe048"],
    "domjobinfo": ["{dom}", "{dom} --completed", "{dom} --rawstats", "{dom} --anystats --keep-completed"],
    "domcontrol": ["{dom}", "nosuch"],
    "domdisplay": ["{dom}", "{dom} --all", "{dom} --type vnc --include-password", "{dom} --type spice"],
    "vncdisplay": ["{dom}", "nosuch"],
    "list": ["", "--all", "--all --title", "--name --all", "--uuid", "--with-snapshot --all",
             "--autostart --all", "--with-managed-save --all", "--state-other --all"],
    "hostname": [""],
    "nodeinfo": [""],
    "uri": [""],
    "version": ["", "--daemon"],
    "snapshot-create": ["{dom}", "{dom} {tmp}/missing.xml"],
    "snapshot-create-as": ["{dom} c1", "{dom} c2 --disk-only --no-metadata", "{dom} c3 --print-xml"],
    "snapshot-current": ["{dom}", "{dom} --name", "{dom} c1"],
    "snapshot-delete": ["{dom} c1", "{dom} --current", "{dom} nosuch"],
    "snapshot-dumpxml": ["{dom} c1", "{dom} nosuch"],
    "snapshot-edit": ["{dom} c1", "{dom} --current"],
    "snapshot-info": ["{dom} c1", "{dom} --current"],
    "snapshot-list": ["{dom}", "{dom} --tree", "{dom} --parent --name", "{dom} --from c1 --descendants"],
    "snapshot-parent": ["{dom} c1", "{dom} --current"],
    "snapshot-revert": ["{dom} c1", "{dom} --current --running"],
    "pool-info": ["default", "default-pool", "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566 --bytes"],
    "pool-list": ["", "--all --details", "--type dir", "--inactive --name", "--uuid"],
    "pool-define-as": ["cp dir --target {tmp}/cp", "cp2 dir --print-xml", "x/y dir --target /x"],
    "pool-create-as": ["cq dir --target {tmp}/cq --build", "cq2 logical --target /dev/vg"],
    "pool-define": ["{tmp}/missing.xml", "{xml}"],
    "pool-create": ["{tmp}/missing.xml", "{xml} --build"],
    "pool-build": ["cp", "cp --overwrite", "default-pool"],
    "pool-start": ["cp", "cp --build", "default-pool"],
    "pool-refresh": ["cp", "default-pool"],
    "pool-autostart": ["cp", "cp --disable", "default-pool"],
    "pool-dumpxml": ["cp", "cp --inactive", "default-pool --xpath //path"],
    "pool-edit": ["cp", "default-pool", "nosuch"],
    "pool-name": ["dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566", "cp"],
    "pool-uuid": ["cp", "default-pool"],
    "pool-capabilities": [""],
    "find-storage-pool-sources": ["logical", "netfs", "fs", "dir --srcSpec {tmp}/nonexistent"],
    "find-storage-pool-sources-as": ["netfs host1", "logical", "netfs h --port 1 --initiator i"],
    "pool-destroy": ["cp", "cq", "default-pool"],
    "pool-delete": ["cp", "default-pool"],
    "pool-undefine": ["cp", "default-pool"],
    # Networks: never a network XML for net-create or a startable network on the QEMU driver,
    # whose net-start would make a bridge on this host (test_qemu_networks.py uses a namespace).
    "net-autostart": ["default", "default --disable", "nosuch"],
    "net-port-list": ["default", "default --uuid", "nosuch"],
    "net-port-dumpxml": ["default 00000000-0000-0000-0000-000000000000", "default x", "nosuch x"],
    "net-port-create": ["default {xml}", "default {tmp}/missing.xml"],
    "net-port-delete": ["default 00000000-0000-0000-0000-000000000000", "nosuch x"],
    "net-create": ["{tmp}/missing.xml", "{xml}"],
    "net-define": ["{tmp}/missing.xml", "{xml} --validate"],
    "net-destroy": ["nosuch", "default"],
    "net-dhcp-leases": ["default", "default --mac 52:54:00:00:00:01", "default --mac zz", "nosuch"],
    "net-dumpxml": ["default", "default --inactive", "default --xpath //ip", "nosuch"],
    "net-edit": ["default", "nosuch"],
    "net-event": ["--list", "--event nope", "--network nosuch"],      # a wait: the differential tests
    "net-info": ["default", "nosuch"],
    "net-list": ["--all", "--inactive --name", "--uuid --persistent", "--table --autostart", "--name --uuid"],
    "net-name": ["dd8fe884-6c02-601e-7551-cca97df1c5df", "default"],
    "net-start": ["default", "nosuch"],
    "net-undefine": ["nosuch", "default"],
    "net-update": ["default add ip-dhcp-host \"<host mac='52:54:00:00:00:09' ip='192.168.122.9'/>\"",
                   "default delete dns-host \"<host ip='1.2.3.4'/>\" --config", "default modify portgroup <x/>",
                   "default add bogus <x/>", "nosuch add ip-dhcp-host <host/>"],
    "net-uuid": ["default", "nosuch"],
    "vol-create-as": ["default-pool v1 1M", "default v1 1M --format qcow2",
                      "default-pool v2 1M --backing-vol v1 --backing-vol-format raw"],
    "vol-info": ["v1 --pool default-pool", "v1", "/default-pool/v1 --physical", "x --pool default"],
    "vol-list": ["default-pool --details", "default", "default-pool"],
    "vol-create": ["default-pool {tmp}/missing.xml", "default-pool {xml}"],
    "vol-create-from": ["default-pool {xml} v1", "default-pool {tmp}/missing.xml v1 --inputpool default-pool"],
    "vol-clone": ["v1 v1c --pool default-pool", "v1 v1p --pool default-pool --print-xml", "nosuch x"],
    "vol-delete": ["v1c --pool default-pool", "nosuch"],
    "vol-wipe": ["v1 --pool default-pool", "v1 --pool default-pool --algorithm zero", "v1 --algorithm foo"],
    "vol-resize": ["v1 2M --pool default-pool", "v1 -1M --pool default-pool --shrink --delta", "v1 abc"],
    "vol-upload": ["v1 {xml} --pool default-pool", "v1 {tmp}/missing --pool default-pool"],
    "vol-download": ["v1 {tmp}/down --pool default-pool --sparse", "v1 {tmp}/d2 --offset 1 --length 2"],
    "vol-dumpxml": ["v1 --pool default-pool", "v1 --pool default-pool --xpath //name"],
    "vol-path": ["v1 --pool default-pool", "nosuch"],
    "vol-name": ["/default-pool/v1", "nosuch"],
    "vol-key": ["v1 --pool default-pool", "nosuch"],
    "vol-pool": ["/default-pool/v1", "/default-pool/v1 --uuid"],
    "save": ["{dom} {tmp}/d.save", "{dom} {tmp}/no/d.save", "{dom} {tmp}/e.save --xml {xml} --paused"],
    "restore": ["{tmp}/d.save", "{tmp}/missing.save", "{xml}", "{tmp}/d.save --xml {xml} --running"],
    "save-image-dumpxml": ["{tmp}/d.save", "{xml}", "{tmp}/d.save --xpath //name"],
    "save-image-define": ["{tmp}/d.save {xml}", "{tmp}/missing.save {xml} --paused"],
    "save-image-edit": ["{tmp}/missing.save"],
    "managedsave": ["{dom}", "{dom} --paused --verbose"],
    "managedsave-remove": ["{dom}", "nosuch"],
    "managedsave-dumpxml": ["{dom}", "{dom} --xpath //name"],
    "managedsave-define": ["{dom} {xml}", "{dom} {tmp}/missing.xml"],
    "managedsave-edit": ["{dom}"],
    "setmem": ["{dom} 64M", "{dom} 64M --config", "{dom} 0"],
    "setmaxmem": ["{dom} 256M --config", "{dom} 256M"],
    "setvcpus": ["{dom} 1", "{dom} 2 --config --maximum", "{dom} 1 --guest", "{dom} 9"],
    "desc": ["{dom}", "{dom} --title", "{dom} new words", "{dom} --config --title t"],
    "metadata": ["{dom} http://e/", "{dom} http://e/ --key e --set <a/>", "{dom} http://e/ --remove"],
    "domrename": ["{dom} {dom}", "nosuch x", "{dom} bad/name"],
    "autostart": ["{dom}", "{dom} --disable"],
    "autostart-run": [""],
    "cd": ["{tmp}"],
    "echo": ["hello"],
    "exit": [""],
    "help": ["", "list", "pool", "nosuch"],
    "pwd": [""],
    "quit": [""],
    "connect": ["{uri}"],
    "completion": ["bash", "zsh", "fish"],
}

WAITS_WITHOUT_ARGUMENTS = {"qemu-monitor-event"}

# Commands that change or stop the domain under test run last, in this order.
LAST = ["suspend", "resume", "reboot", "shutdown", "start", "destroy", "undefine"]


def test_every_command_has_arguments():
    assert set(ARGS) == set(TABLE)


def _ordered_commands():
    ordered = [name for name in TABLE if name not in LAST] + LAST
    for name in ordered:
        # qemu-monitor-event alone listens for ever on a QEMU domain, as virsh's does
        for args in ([] if name in WAITS_WITHOUT_ARGUMENTS else [""]) + ARGS[name]:
            yield name, args


def _run(capsys, uri: str, text: str, readonly: bool = False):
    status = main((["-r"] if readonly else []) + ["-c", uri, text])
    out, err = capsys.readouterr()
    return status, out, err


def _walk(capsys, uri: str, prefix: str, fill: dict, readonly: bool = False,
          reads=("dominfo", "domstate", "domblklist", "dumpxml", "list", "uri")) -> list[str]:
    """Run every command; return a description of each internal error."""
    failures, succeeded = [], set()
    for name, args in _ordered_commands():
        text = (prefix + name + " " + args.format(**fill)).strip()
        status, _, err = _run(capsys, uri, text, readonly)
        if PYTHON_ERROR.search(err) or "Traceback" in err or status not in (0, 1):
            failures.append("%s -> exit %s\n%s" % (text, status, err))
        elif status == 0:
            succeeded.add(name)
    # The walk reached the domain and the driver: the plain reads worked.
    assert set(reads) <= succeeded, succeeded
    return failures


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # `cd` changes the process's directory
    monkeypatch.setenv("EDITOR", "true")        # `edit` and `snapshot-edit` leave the XML unchanged
    monkeypatch.setenv("VISUAL", "true")
    monkeypatch.delenv("PYVIRSH_DEFAULT_URI", raising=False)
    return tmp_path


def _domain_file(directory, name: str, disk: str | None, dom_type: str) -> str:
    disks = [("vda", disk, "qcow2")] if disk else []
    path = os.path.join(str(directory), name + ".xml")
    with open(path, "w") as f:
        f.write(domain_xml(name, disks, dom_type=dom_type))
    return path


@pytest.mark.parametrize("running,readonly", [(True, False), (False, False), (True, True)],
                         ids=["running", "defined", "running-readonly"])
def test_test_driver(capsys, scratch, running, readonly):
    """test:///default, with its running domain 'test' or a defined one."""
    uri = "test:///default"
    new_domain = _domain_file(scratch, "fresh", None, "test")
    # Each main() starts from the built-in state: make the snapshot, the volume
    # (and the shut-off domain) the commands refer to first.
    dom = "test" if running else "off"
    prefix = "" if running else "define %s; " % _domain_file(scratch, "off", "/img/off.qcow2", "test")
    if not readonly:
        prefix += "snapshot-create-as %s c1; vol-create-as default-pool v1 1M; " % dom
    failures = _walk(capsys, uri, prefix, {"dom": dom, "tmp": str(scratch), "xml": new_domain, "uri": uri},
                     readonly)
    assert not failures, "\n".join(failures)


def test_test_driver_node_file(capsys, scratch):
    """A node file's state (test:///PATH.xml): its domains, its pool and volume."""
    from difftool import NODE_URI

    prefix = "snapshot-create-as fv0 c1; vol-create-as default-pool v1 1M; "
    failures = _walk(capsys, NODE_URI, prefix, {"dom": "fv0", "tmp": str(scratch), "uri": NODE_URI,
                                                "xml": _domain_file(scratch, "fresh", None, "test")})
    assert not failures, "\n".join(failures)


@pytest.fixture
def qemu_driver(scratch):
    root = scratch / "root"
    uri = "qemu:///embed?root=%s" % root
    images = []
    for name in ("run", "off"):
        base, top = str(scratch / (name + "-base.qcow2")), str(scratch / (name + ".qcow2"))
        qemu_img("create", "-q", "-f", "qcow2", base, "16M")
        qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
        images.append(top)
    yield uri, root, images
    # Stop whatever QEMU the walk left running (a create, a start).
    main(["-c", uri, "destroy run; destroy off; destroy fresh"])


def test_qemu_driver(capsys, scratch, qemu_driver):
    uri, _, (run_image, off_image) = qemu_driver
    run_xml = _domain_file(scratch, "run", run_image, "qemu")
    off_xml = _domain_file(scratch, "off", off_image, "qemu")
    new_domain = _domain_file(scratch, "fresh", None, "qemu")
    status, _, err = _run(capsys, uri, "define %s; define %s; start run" % (run_xml, off_xml))
    assert status == 0, err
    failures = []
    for dom in ("run", "off"):
        failures += _walk(capsys, uri, "", {"dom": dom, "tmp": str(scratch), "xml": new_domain, "uri": uri})
    assert not failures, "\n".join(failures)


def test_qemu_driver_read_only(capsys, scratch, qemu_driver):
    uri, _, (_, off_image) = qemu_driver
    status, _, err = _run(capsys, uri, "define %s" % _domain_file(scratch, "off", off_image, "qemu"))
    assert status == 0, err
    failures = _walk(capsys, uri, "", {"dom": "off", "tmp": str(scratch), "uri": uri,
                                       "xml": _domain_file(scratch, "fresh", None, "qemu")}, readonly=True)
    assert not failures, "\n".join(failures)


def test_qemu_storage_calls_end_in_libvirts_error(capsys, scratch, qemu_driver):
    """Pools are the QEMU driver's (tests/test_qemu_pools.py): an unknown one is libvirt's
    not-found error, exit 1, in process and through the installed entry point."""
    uri = qemu_driver[0]
    missing = "error: Storage pool not found: no storage pool with matching name 'default'\n"
    expected = {
        "pool-info default": "error: failed to get pool 'default'\n" + missing,
        "vol-list default": "error: failed to get pool 'default'\n" + missing,
        "vol-create-as default v 1M": "error: failed to get pool 'default'\n" + missing,
    }
    for text, error in expected.items():
        status, _, err = _run(capsys, uri, text)
        assert (status, err) == (1, error), text
    import subprocess

    from difftool import pyvirsh_argv
    proc = subprocess.run(pyvirsh_argv() + ["-c", uri, "pool-info", "default"], capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (     # virsh's newline after the command
        1, "\n", "error: failed to get pool 'default'\n" + missing)


class BareConnection(api.Connection):
    """A third driver that can only name its one domain: everything else is the contract's
    defaults, which must reach the user as libvirt's words."""

    def __init__(self, uri, readonly):
        self.uri = uri
        self.readonly = readonly

    def list_all_domains(self):
        return [BareDomain(self)]

    def lookup_domain_by_name(self, name):
        if name != "bare":
            raise api.DriverError(api.ErrorCode.NO_DOMAIN, "no domain with matching name '%s'" % name)
        return BareDomain(self)


class BareDomain(api.Domain):
    name = "bare"
    uuid = "00000000-0000-0000-0000-00000000000b"

    def __init__(self, conn):
        self.conn = conn

    def connection(self):
        return self.conn

    def get_id(self):
        return -1


def test_a_driver_with_nothing_but_lookups(capsys, scratch, monkeypatch):
    """A third driver fits without touching the commands: what it lacks is libvirt's error."""
    import pyvirsh.drivers

    def open_connection(uri, readonly=False):
        return BareConnection(uri, readonly)

    monkeypatch.setattr(pyvirsh.drivers, "open_connection", open_connection)
    uri = "bare:///"
    fill = {"dom": "bare", "tmp": str(scratch), "uri": uri,
            "xml": _domain_file(scratch, "fresh", None, "test")}
    failures = _walk(capsys, uri, "", fill, reads=("domid", "domuuid", "uri"))
    assert not failures, "\n".join(failures)
    status, _, err = _run(capsys, uri, "dominfo bare")
    assert (status, err) == (1, ("error: this function is not supported by the connection driver: "
                                 "virDomainGetInfo\n"))


# --------------------------------------------------------------------------
# The contract itself
# --------------------------------------------------------------------------

def _called_method_names() -> set[str]:
    """Every name called as a method anywhere in the shell (pyvirsh/ without drivers/)."""
    import ast
    import pyvirsh

    base = os.path.dirname(pyvirsh.__file__)
    names = set()
    for folder in (base, os.path.join(base, "commands")):
        for entry in os.listdir(folder):
            if entry.endswith(".py"):
                with open(os.path.join(folder, entry)) as f:
                    tree = ast.parse(f.read())
                names |= {node.func.attr for node in ast.walk(tree)
                          if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    return names


def test_commands_call_only_declared_driver_methods():
    """A method a driver has but drivers/api.py does not declare is never called by the shell:
    a third driver could not know it must exist (the pool-info AttributeError on QEMU)."""
    from pyvirsh.drivers import api
    from pyvirsh.drivers.qemu.connection import QemuConnection
    from pyvirsh.drivers.qemu.driver import QemuDomain
    from pyvirsh.drivers.qemu.snapshots import QemuSnapshot
    from pyvirsh.drivers.test.driver import TestConnection, TestDomain, TestSnapshot
    from pyvirsh.drivers.test.storage import TestStoragePool, TestStorageVol

    declared = set()
    for handle in (api.Connection, api.Domain, api.Snapshot, api.StoragePool, api.StorageVol):
        declared |= set(dir(handle))
    drivers_only = set()
    for cls in (QemuConnection, QemuDomain, QemuSnapshot, TestConnection, TestDomain, TestSnapshot,
                TestStoragePool, TestStorageVol):
        drivers_only |= {name for name in dir(cls) if callable(getattr(cls, name, None))} - declared
    assert not (_called_method_names() & drivers_only)


def test_commands_never_see_definitions():
    """The parsed definition holds lxml elements; the shell gets records (get_disks) or XML text."""
    assert "get_definition" not in _called_method_names()


@pytest.mark.parametrize("handle", ["Connection", "Domain", "Snapshot", "StoragePool", "StorageVol"])
def test_default_answers_name_a_libvirt_function(handle):
    """Each declared call of a handle, left to its default, answers libvirt's not-supported error
    naming a libvirt function (or is a pyvirsh extension with a working default)."""
    import inspect

    from pyvirsh.drivers import api

    cls = getattr(api, handle)
    instance = cls.__new__(cls)
    instance.connection = lambda: type("C", (), {"readonly": False})()
    extensions = set(dir(api.ConnectionExtensions)) | set(dir(api.DomainExtensions))
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in extensions or name in ("connection", "close", "get_uri",
                                                                  "is_active"):
            continue
        params = [p for p in inspect.signature(member).parameters.values()
                  if p.name != "self" and p.default is inspect.Parameter.empty]
        with pytest.raises(api.DriverError) as caught:
            getattr(instance, name)(*[0] * len(params))
        assert caught.value.code is api.ErrorCode.NO_SUPPORT, name
        assert re.fullmatch(r"vir[A-Z][A-Za-z]+", caught.value.message), (name, caught.value.message)
