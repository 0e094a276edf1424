"""domiflist, domif-getlink, domif-setlink and domifaddr against real virsh 9.0 on
test:///default, byte for byte: the client-side XML reading and matching (MACs in any
spelling, target devs, several interfaces of several types, --inactive/--config), the
XML domif-setlink builds (--print-xml) and the test driver's missing
virDomainUpdateDeviceFlags, and the test driver's interface addresses. (The QEMU side is
tested on a booted guest in test_qemu_networks.py.)"""

from __future__ import annotations

import pytest

from difftool import compare, virsh_missing_reason

needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

CASES = [
    'domiflist test', 'domiflist test --inactive', 'domiflist nosuch', 'domiflist', 'domiflist test --bogus',
    'define net/ifaces.xml; domiflist nics',
    ('create net/ifaces.xml; domiflist nics; domiflist nics --inactive; domif-getlink nics tapb; '
    'domif-getlink nics 52:54:00:00:00:12; domif-getlink nics 52:54:00:00:00:14 --config; '
    'domif-getlink nics 52:54:0:0:0:11; domif-getlink nics 52:54:00:00:00:13; domif-getlink nics TAPB'),
    ('define net/ifaces.xml; domif-setlink nics tapb up --print-xml; domif-setlink nics 52:54:00:00:00:13 down '
    '--print-xml; domif-setlink nics TAPE down --print-xml --config; domif-setlink nics 52:54:00:00:00:11 down'),
    'domif-getlink test testnet0', 'domif-getlink test aa:bb:cc:dd:ee:ff', 'domif-getlink test AA:BB:CC:DD:EE:FF',
    'domif-getlink test vnet0', 'domif-getlink test 00:16:3e:3a:fb:b6 --config', 'domif-getlink test testnet0 --config',
    'domif-getlink test', "domif-getlink test ''",
    'domif-setlink test testnet0 down', 'domif-setlink test testnet0 down --config',
    'domif-setlink test testnet0 down --print-xml', 'domif-setlink test testnet0 up --persistent --print-xml',
    'domif-setlink test vnet0 down', 'domif-setlink test testnet0 sideways', 'domif-setlink test testnet0',
    "domif-setlink test testnet0 ''", 'domif-setlink nosuch testnet0 up',
    ('create net/ifaces.xml; domifaddr nics; domifaddr nics --source lease; domifaddr nics --source arp --full; '
    'domifaddr nics --source agent --interface tapb'),
    'domifaddr test --source lease', 'domifaddr test --source arp', 'domifaddr test --source bogus',
    'define net/ifaces.xml; domifaddr nics --source lease',
    'help domiflist; help domif-getlink; help domif-setlink',
]


@needs_virsh
@pytest.mark.parametrize("text", CASES, ids=[c[:70] for c in CASES])
def test_same_as_virsh(text):
    theirs, ours = compare(["-c", "test:///default", text], in_process=True)
    assert ours == theirs


@needs_virsh
@pytest.mark.parametrize("args", [["-q", "domiflist", "test"], ["-r", "domif-setlink", "test", "testnet0", "down"],
                                  ["domif-getlink", "test", "testnet0"]])
def test_one_shot_same_as_virsh(args):
    theirs, ours = compare(["-c", "test:///default"] + args, in_process=True)
    assert ours == theirs
