"""The statistics commands against real virsh 9.0 on test:///default, byte for byte.

libvirt's test driver derives block and interface counters (and vCPU times) from the wall
clock; those numbers (9 digits or more) are masked in both outputs, everything else (field
names, order, widths, error words, exit status) must be identical.
"""

from __future__ import annotations

import re

import pytest

from difftool import compare, virsh_missing_reason

pytestmark = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

_CLOCK_NUMBER = re.compile(r"\b\d{9,}\b")

CASES = [
    "domstats", "domstats --raw --backing test", "domstats test test", "domstats --nowait --state test",
    "destroy test; domstats --list-active", "destroy test; domstats --list-active test",
    "destroy test; domstats --list-inactive test", "domstats --enforce --cpu-total test", "domstats nosuch",
    "domstats --list-running --list-paused", "domstats --list-shutoff", "domstats --list-transient",
    "domstats --list-persistent --list-transient", "domstats --list-other",
    "domstats --cpu-total --balloon --vcpu --interface --block --perf --iothread --memory --dirtyrate --vm",
    "domstats --state --enforce", "undefine test; destroy test; domstats",
    "undefine test; domstats --list-transient", "suspend test; domstats --list-paused",
    "domblkstat test vda", "domblkstat test vda --human", "domblkstat test", "domblkstat test --human",
    "domblkstat test hda", "domblkstat test /guest/diskimage", "domblkstat test --device vda",
    "destroy test; domblkstat test", "destroy test; domblkstat test vda",
    "domifstat test testnet0", "domifstat test aa:bb:cc:dd:ee:ff", "domifstat test vnet0", "domifstat test",
    "destroy test; domifstat test testnet0",
    "dommemstat test", "dommemstat test --config", "setmem test 1000000; dommemstat test",
    "dommemstat test --period 3", "dommemstat test --period 3 --live --current", "dommemstat test --period -1",
    "dommemstat test --period x", "dommemstat nosuch", "destroy test; dommemstat test",
    "destroy test; dommemstat test --period 3 --config", "destroy test; dommemstat test --period 3 --live",
    "domblkerror test", "destroy test; domblkerror test",
    "cpu-stats test", "cpu-stats test --total", "cpu-stats test --start 1", "cpu-stats test --start 1 --count 1",
    "cpu-stats test --start 0 --count 5", "cpu-stats test --count 0", "cpu-stats test --count -2",
    "cpu-stats test --start 5", "cpu-stats test --start -1", "cpu-stats test --start abc",
    "destroy test; cpu-stats test --start 4", "suspend test; cpu-stats test --total",
    "vcpuinfo test", "vcpuinfo test --pretty", "setvcpus test 1; vcpuinfo test", "vcpuinfo nosuch",
    "destroy test; vcpuinfo test", "destroy test; vcpuinfo test --pretty",
    "vcpucount test", "vcpucount test --maximum", "vcpucount test --active", "vcpucount test --live",
    "vcpucount test --config", "vcpucount test --current", "vcpucount test --maximum --live",
    "vcpucount test --current --live", "vcpucount test --config --live", "vcpucount test --maximum --active",
    "vcpucount test --guest", "vcpucount test --guest --config", "vcpucount test --guest --maximum",
    "vcpucount test --live --config --maximum", "destroy test; vcpucount test",
    "destroy test; vcpucount test --live", "destroy test; vcpucount test --guest",
    "undefine test; vcpucount test",
]


def _masked(result):
    out, err, status = result
    return _CLOCK_NUMBER.sub("N", out), _CLOCK_NUMBER.sub("N", err), status


@pytest.mark.parametrize("line", CASES)
def test_stats_same_as_virsh(line):
    theirs, ours = compare(["-c", "test:///default", line], in_process=True)
    assert _masked(ours) == _masked(theirs)


def test_masked_counters_are_the_clock_as_libvirt_derives_them():
    """The masked numbers still follow libvirt's formulas: rd_req is a tenth of the clock in µs."""
    import time

    from difftool import run_in_process

    before = time.time_ns() // 1000
    out, _err, status = run_in_process(["-c", "test:///default", "domblkstat test vda"])
    after = time.time_ns() // 1000
    assert status == 0
    rd_req = int(out.splitlines()[0].split()[2])
    assert before // 10 <= rd_req <= after // 10
