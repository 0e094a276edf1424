"""The net-* commands against real virsh 9.0 on test:///default, byte for byte: listing and
its filters, lookups, define/create/start/destroy/undefine/autostart, net-update of DHCP
hosts and ranges and DNS hosts with libvirt's matching rules and errors, network XML
parsing errors, net-event's options and errors, and help. (The QEMU connections' networks are tested in test_qemu_networks.py.)"""

from __future__ import annotations

import pytest

from difftool import compare, virsh_missing_reason

needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

H2 = "\"<host mac='52:54:00:00:00:02' ip='192.168.122.4'/>\""
H2b = "\"<host mac='52:54:00:00:00:02' ip='192.168.122.5'/>\""
H3 = "\"<host mac='52:54:00:00:00:03' name='h3' ip='192.168.122.6'/>\""
D7 = "\"<host ip='192.168.122.7'><hostname>x</hostname></host>\""
D7y = "\"<host ip='192.168.122.7'><hostname>y</hostname></host>\""
D8y = "\"<host ip='192.168.122.8'><hostname>y</hostname></host>\""

CASES = [
    'net-list', 'net-list --all', 'net-list --inactive', 'net-list --name', 'net-list --uuid',
    'net-list --table --all', 'net-list --name --uuid', 'net-list --table --name',
    'net-list --persistent --all', 'net-list --transient', 'net-list --autostart', 'net-list --no-autostart',
    'net-list --all --inactive',
    'net-dumpxml default', 'net-dumpxml default --inactive', 'net-dumpxml dd8fe884-6c02-601e-7551-cca97df1c5df',
    'net-dumpxml default --xpath //range/@start', 'net-dumpxml default --xpath //ip --wrap',
    'net-info default', 'net-info nosuch', 'net-info 00000000-0000-0000-0000-000000000000',
    'net-name dd8fe884-6c02-601e-7551-cca97df1c5df', 'net-name default', 'net-name nosuch',
    'net-name 00000000-0000-0000-0000-000000000000', 'net-uuid default', 'net-uuid nosuch',
    'net-uuid dd8fe884-6c02-601e-7551-cca97df1c5df',
    'net-start default', 'net-undefine default', 'net-destroy default; net-list --all; net-info default',
    'net-destroy default; net-destroy default', 'net-destroy default; net-start default; net-list',
    'net-destroy default; net-undefine default; net-list --all',
    'net-autostart default; net-list --autostart; net-info default; net-autostart default --disable; net-info default',
    'net-define net/n1.xml; net-list --all; net-info n1; net-start n1; net-info n1; net-dumpxml n1',
    'net-define net/n2.xml; net-dumpxml n2; net-start n2; net-destroy n2; net-undefine n2; net-list --all',
    'net-create net/n3.xml; net-info n3; net-undefine n3; net-autostart n3; net-list --all; net-destroy n3; net-list --all',
    'net-create net/n3u.xml; net-define net/n3u.xml; net-list --all; net-destroy n3; net-list --all; net-create net/n3u.xml; net-create net/n3u.xml',
    'net-define net/n1.xml; net-start n1; net-define net/n1.xml',
    'net-define net/n1.xml --validate; net-create net/n3.xml --validate; net-define net/a15.xml --validate',
    'net-define net/dup.xml', 'net-create net/dup.xml', 'net-define net/dupuuid.xml', 'net-define net/slash.xml',
    'net-define net/junk.xml', 'net-define /nonexistent.xml', 'net-create /nonexistent.xml',
    'net-define net/a3.xml; net-dumpxml a3', 'net-define net/a5.xml', 'net-define net/a6.xml',
    'net-define net/a8.xml', 'net-define net/a9.xml', 'net-define net/a11.xml', 'net-define net/a12.xml; net-dumpxml a12',
    'net-define net/a13.xml', 'net-define net/a14.xml', 'net-define net/a15.xml', 'net-define net/a16.xml',
    'net-define net/a17.xml; net-dumpxml a17',
    'net-update default add ip-dhcp-host %s; net-dumpxml default; net-update default add ip-dhcp-host %s' % (H2, H2b),
    'net-update default add ip-dhcp-host %s; net-update default add-first ip-dhcp-host %s; net-dumpxml default' % (H2, H3),
    'net-update default add-first ip-dhcp-host %s --config; net-dumpxml default; net-update default delete ip-dhcp-host %s --live --config' % (H3, H3),
    'net-update default add ip-dhcp-host %s; net-update default modify ip-dhcp-host "<host mac=\'52:54:00:00:00:02\' ip=\'192.168.122.9\'/>"; net-dumpxml default' % H2,
    'net-update default modify ip-dhcp-host "<host mac=\'52:54:00:00:00:77\' ip=\'192.168.122.6\'/>"',
    'net-update default delete ip-dhcp-host "<host mac=\'52:54:00:00:00:77\' ip=\'192.168.122.6\'/>"',
    'net-update default add ip-dhcp-host %s; net-update default delete ip-dhcp-host %s; net-dumpxml default' % (H2, H2),
    'net-update default add dns-host %s; net-dumpxml default; net-update default add dns-host %s; net-update default delete dns-host %s; net-update default modify dns-host %s; net-update default delete dns-host "<host ip=\'192.168.122.7\'/>"; net-dumpxml default' % (D7, D7y, D8y, D7y),
    'net-update default add ip-dhcp-range "<range start=\'192.168.122.2\' end=\'192.168.122.254\'/>"',
    'net-update default delete ip-dhcp-range "<range start=\'192.168.122.2\' end=\'192.168.122.254\'/>"; net-dumpxml default',
    'net-update default add ip-dhcp-range "<range start=\'192.168.122.9\' end=\'192.168.122.3\'/>"',
    'net-update default add ip-dhcp-host %s --config --live' % H2,
    'net-update default add ip-dhcp-host %s --current --live' % H2,
    'net-update default bogus ip-dhcp-host "<host/>"', 'net-update default add bogus "<host/>"',
    'net-update nosuch add ip-dhcp-host "<host/>"',
    'net-update default add ip-dhcp-host %s --parent-index 3' % H2,
    'net-update default add ip-dhcp-host %s --parent-index 0; net-dumpxml default' % H2,
    'net-update default add ip-dhcp-host %s --parent-index x' % H2,
    'net-update default add ip-dhcp-host /nonexistent',
    'net-update default add ip-dhcp-host "<hostx/>"',
    'net-update default add ip-dhcp-host "<host ip=\'192.168.122.4\'/>"',
    'net-update default add ip-dhcp-host "<host mac=\'zz\' ip=\'192.168.122.4\'/>"',
    'net-update default add ip-dhcp-host "<host mac=\'52:54:00:00:00:02\' ip=\'192.168.122.4\'"',
    'net-destroy default; net-update default add ip-dhcp-host %s --live' % H2,
    'net-destroy default; net-update default add ip-dhcp-host %s; net-dumpxml default' % H2,
    'net-create net/n3u.xml; net-update n3 add ip-dhcp-host %s --config' % H2,
    'net-create net/n3u.xml; net-update n3 add ip-dhcp-host %s' % H2,
    'net-dhcp-leases default', 'net-dhcp-leases nosuch',
    'help net-autostart; help net-create; help net-define; help net-destroy; help net-dhcp-leases; help net-dumpxml',
    'help net-edit; help net-info; help net-list; help net-name; help net-start; help net-undefine; help net-update; help net-uuid',
    # net-event: the test driver's events come from this process only, so a wait times out
    'net-event --list', 'net-event --list --event bogus --loop', 'net-event', 'net-event --event bogus',
    'net-event --network default', 'net-event --event lifecycle --timeout 0', 'net-event --event lifecycle --timeout x',
    'net-event default lifecycle --timeout 1 --timestamp --loop',
    'net-event --network nosuch --event lifecycle --timeout 1', 'help net-event',
]


@needs_virsh
@pytest.mark.parametrize("text", CASES, ids=[c[:70] for c in CASES])
def test_same_as_virsh(text):
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert ours == theirs


@needs_virsh
@pytest.mark.parametrize("editor,text", [
    ("true", "net-edit default"), ("sed -i s/192.168.122.254/192.168.122.200/", "net-edit default; net-dumpxml default"),
    ("sed -i s/virbr0/virbr7/", "net-edit default; net-info default"), ("true", "net-edit nosuch"),
])
def test_net_edit_same_as_virsh(editor, text):
    theirs, ours = compare(["-c", "test:///default", text], in_process=True,
                           env_extra={"EDITOR": editor, "VISUAL": editor})
    assert ours == theirs


@needs_virsh
@pytest.mark.parametrize("args", [["-q", "net-list", "--all"], ["-c", "test:///default", "-r", "net-destroy", "default"],
                                  ["net-update", "default", "add", "ip-dhcp-host",
                                   "<host mac='52:54:00:00:00:02' ip='192.168.122.4'/>"]])
def test_one_shot_same_as_virsh(args):
    if args[0] != "-c":
        args = ["-c", "test:///default"] + args
    theirs, ours = compare(args, in_process=True)
    assert ours == theirs


PORT_CASES = [
    'net-port-list default', 'net-port-list default --uuid', 'net-port-list default --table',
    'net-port-list default --uuid --table', 'net-port-list nosuch', 'net-port-list',
    'net-port-dumpxml default 00000000-0000-0000-0000-000000000000', 'net-port-dumpxml nosuch x',
    'net-port-dumpxml default', 'net-port-delete default 00000000-0000-0000-0000-000000000000',
    'net-port-delete nosuch x', 'net-port-create default /nonexistent.xml', 'net-port-create nosuch net/n1.xml',
    'net-port-create default net/n1.xml --validate',
    'help net-port-list; help net-port-create; help net-port-dumpxml; help net-port-delete',
]


@needs_virsh
@pytest.mark.parametrize("text", PORT_CASES, ids=[c[:70] for c in PORT_CASES])
def test_ports_same_as_virsh(text):
    """The test driver has no network ports: virsh's errors, its exit statuses (0 after a port
    lookup fails, as virsh 9.0 ends those commands) and help."""
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert ours == theirs
