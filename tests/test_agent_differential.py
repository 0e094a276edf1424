"""The guest agent commands on test:///default against real virsh 9.0, byte for byte: the
test driver's canned answers (domfsfreeze/domfsthaw counting per mountpoint, domfsinfo,
domtime, set-user-password, domifaddr), its not-supported errors (guestinfo, guestvcpus,
qemu-agent-command), and virsh's own option checks, help and -q output."""

from __future__ import annotations

import pytest

from difftool import compare, virsh_missing_reason

needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

STRINGS = [
    ("domfsfreeze test; domfsthaw test; domfsfreeze test --mountpoint /boot; domfsfreeze test; "
    "domfsthaw test --mountpoint /; domfsfreeze test /x; domfsthaw test; domfsthaw test"),
    "domfsfreeze test / / /boot; domfsthaw test --mountpoint /nope; domfsthaw test /boot /",
    ("domfsinfo test; domtime test; domtime test --pretty; domtime test --now; domtime test --sync; "
    "domtime test --time -5; domtime test --pretty --now"),
    "domtime test --time 5 --now", "domtime test --sync --now", "domtime test --sync --time 5",
    "domtime test --time abc", "domtime test --time 99999999999999999999", "domtime nope --time 5",
    "set-user-password test root pw; set-user-password test root pw --encrypted",
    "set-user-password test root", "set-user-password test --user root --password ''",
    "domifaddr test; domifaddr test --source agent; domifaddr test --source lease; domifaddr test --source arp",
    "domifaddr test --source agent --interface testnet0 --full", "domifaddr test --interface nope",
    "domifaddr test --source foo", "domifaddr nope --source foo",
    "create agent-t2.xml; domifaddr t2 --full; domfsinfo t2; domtime t2; domfsfreeze t2",
    ("destroy test; domfsfreeze test; domfsthaw test; domfsinfo test; domtime test; domtime test --now; "
    "set-user-password test a b; domifaddr test"),
    "guestinfo test", "guestinfo test --os --user --disk", "guestinfo nope",
    "guestvcpus test", "guestvcpus test --enable", "guestvcpus test --enable --disable",
    "guestvcpus test --cpulist 1", "guestvcpus test --cpulist 1 --enable", "guestvcpus nope",
    "qemu-agent-command test '{\"execute\":\"guest-ping\"}'", "qemu-agent-command test --timeout 0 x",
    "qemu-agent-command test --timeout 3 --async x", "qemu-agent-command test --block --async x",
    "qemu-agent-command nope x", "qemu-agent-command test", "qemu-agent-command test --timeout abc x",
    "qemu-agent-command test --block --pretty x y",
    "help domfsfreeze", "help domfsthaw", "help domfsinfo", "help domtime", "help guestinfo",
    "help guestvcpus", "help set-user-password", "help domifaddr", "help qemu-agent-command",
]
CASES = [["-c", "test:///default", text] for text in STRINGS]
CASES += [["-q", "-c", "test:///default", ("domfsinfo test; domifaddr test; domfsfreeze test; "
           "set-user-password test a b; domtime test")],
          ["-r", "-c", "test:///default", "domfsfreeze test; domtime test --now; domifaddr test"]]


@needs_virsh
@pytest.mark.parametrize("args", CASES, ids=[a[-1][:70] for a in CASES])
def test_agent_commands_as_virsh(args):
    theirs, ours = compare(args, in_process=True)
    assert ours == theirs


@needs_virsh
def test_agent_commands_as_virsh_as_a_process():
    theirs, ours = compare(CASES[0])
    assert ours == theirs
