"""Block jobs on real QEMU with data patterns in every layer.

After each job the cached chain (dumpxml) must equal qemu-img's view of the
files, the headers must hold plain backing paths (never json:), and the data
the guest sees must be unchanged (checked with qemu-io after a clean destroy).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from difftool import pyvirsh_argv
from invariants import assert_invariants, check_after_every_step
from qemuhelp import (assert_cache_matches_disk, backing_chain, chain_from_xml, check_view, expected_view,
                      make_chain, write_patterns)

NAMES = ["base.qcow2", "l1.qcow2", "l2.qcow2", "top.qcow2"]


@pytest.fixture(autouse=True)
def checked(env):
    """The invariant check after every chain-altering command (tests/invariants.py)."""
    check_after_every_step(env)


# A rate at which a job cannot end between two commands, even on a loaded machine: QEMU copies
# its first chunk (at most a few hundred KiB) at once, then waits minutes for the next. A
# later `blockjob --bandwidth 0` lets it run at full speed. (1 MiB/s was not enough: the
# few MiB of these chains went by before the next command on a busy machine.)
SLOW = ("--bandwidth", "1024", "--bytes")


@pytest.fixture
def chain4(env):
    paths = make_chain(env, NAMES)
    write_patterns(paths)
    env.define("vm", [("vda", paths[-1], "qcow2")])
    return paths


def finish(env, top_path, view_layers=4):
    """Destroy (clean QEMU exit) and check the files: the guest sees the same data."""
    live = env.ok("dumpxml", "vm")
    assert_cache_matches_disk(live)
    env.ok("destroy", "vm")
    check_view(top_path, expected_view(view_layers))
    return live


def test_full_pull(env, chain4):
    env.ok("start", "vm")
    result = env.run("blockpull", "vm", "vda", "--wait", "--verbose")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\nPull complete\n"
    assert result.stderr.startswith("\rBlock Pull: [") and result.stderr.endswith("\rBlock Pull: [100 %]")
    live = finish(env, chain4[-1])
    assert chain_from_xml(live) == [(chain4[-1], "qcow2")]
    assert "backing-filename" not in backing_chain(chain4[-1])[0]


def test_partial_pull_by_index(env, chain4):
    env.ok("start", "vm")
    # top is index 1, then 2, 3, 4 down to the base.
    assert env.ok("blockpull", "vm", "vda", "--base", "vda[3]", "--wait") == "\nPull complete\n"
    live = finish(env, chain4[-1])
    assert chain_from_xml(live) == [(chain4[3], "qcow2"), (chain4[1], "qcow2"), (chain4[0], "qcow2")]


def test_intermediate_commit_by_path(env, chain4):
    env.ok("start", "vm")
    out = env.ok("blockcommit", "vm", "vda", "--top", chain4[2], "--base", chain4[0], "--wait", "--verbose")
    assert out == "\nCommit complete\n"
    live = finish(env, chain4[-1])
    assert chain_from_xml(live) == [(chain4[3], "qcow2"), (chain4[0], "qcow2")]
    # The base now holds l1's and l2's data.
    check_view(chain4[0], [(0, 0x11), (1, 0x22), (2, 0x33), (3, 0x33)])


def test_shallow_commit_and_indexes_stay_stable(env, chain4):
    env.ok("start", "vm")
    env.ok("blockcommit", "vm", "vda", "--top", "vda[2]", "--shallow", "--wait")
    xml = env.ok("dumpxml", "vm")
    # vda[2] (l2) went into vda[3] (l1); index 3 keeps naming l1.
    assert "<backingStore type='file' index='3'>" in xml and "index='2'" not in xml
    bad = env.run("blockcommit", "vm", "vda", "--top", "vda[2]", "--wait")
    assert bad.stderr == "error: invalid argument: could not find backing store index '2' in chain for 'vda'\n"
    finish(env, chain4[-1])


def test_active_commit_with_pivot_and_delete(env, chain4):
    env.ok("start", "vm")
    out = env.ok("blockcommit", "vm", "vda", "--active", "--pivot", "--delete", "--wait")
    assert out == "\nSuccessfully pivoted\n"
    assert env.ok("domblklist", "vm").splitlines()[2] == " vda      %s" % chain4[0]
    live = env.ok("dumpxml", "vm")
    assert chain_from_xml(live) == [(chain4[0], "qcow2")]
    for path in chain4[1:]:
        assert not os.path.exists(path)
    # The persistent definition follows the pivot.
    assert chain4[0] in env.ok("dumpxml", "vm", "--inactive")
    env.ok("destroy", "vm")
    check_view(chain4[0], expected_view(4))


def test_active_commit_keep_overlay(env, chain4):
    env.ok("start", "vm")
    out = env.ok("blockcommit", "vm", "vda", "--base", "vda[3]", "--keep-overlay", "--verbose")
    assert out == "\nCommit complete, overlay image kept\n"
    live = finish(env, chain4[-1])
    assert chain_from_xml(live) == [(p, "qcow2") for p in chain4[::-1]]
    check_view(chain4[1], [(0, 0x11), (1, 0x22), (2, 0x33), (3, 0x44)])


def test_active_commit_pivot_from_a_later_invocation(env, chain4):
    env.ok("start", "vm")
    assert env.ok("blockcommit", "vm", "vda", "--active", "--wait") == "\nNow in synchronized phase\n"
    info = env.run("blockjob", "vm", "vda", "--info")
    assert info.stderr == "\rActive Block Commit: [100 %]"
    assert env.ok("blockjob", "vm", "vda", "--raw").startswith(" type=Active Block Commit\n bandwidth=0\n")
    assert env.ok("blockjob", "vm", "vda", "--pivot") == "\n"
    assert env.ok("blockjob", "vm", "vda", "--info") == "No current block job for vda\n"
    live = env.ok("dumpxml", "vm")
    assert chain_from_xml(live) == [(chain4[0], "qcow2")]
    assert_cache_matches_disk(live)
    env.ok("destroy", "vm")
    check_view(chain4[0], expected_view(4))


def test_blockcopy_with_pivot(env, chain4):
    env.ok("start", "vm")
    dest = env.path("copy.qcow2")
    out = env.ok("blockcopy", "vm", "vda", dest, "--pivot", "--verbose")
    assert out == "\nSuccessfully pivoted\n"
    live = env.ok("dumpxml", "vm")
    assert chain_from_xml(live) == [(dest, "qcow2")]
    finish(env, dest)


def test_shallow_blockcopy_keeps_the_backing_chain(env, chain4):
    env.ok("start", "vm")
    dest = env.path("copy.qcow2")
    env.ok("blockcopy", "vm", "vda", dest, "--shallow", "--wait", "--pivot")
    live = env.ok("dumpxml", "vm")
    assert chain_from_xml(live) == [(dest, "qcow2")] + [(p, "qcow2") for p in chain4[:3][::-1]]
    finish(env, dest)


def test_abort_leaves_the_chain_alone(env, chain4):
    env.ok("start", "vm")
    # SLOW: QEMU copies one chunk, then waits minutes; the job is still there for --abort.
    started = env.ok("blockpull", "vm", "vda", *SLOW)
    assert started == "Block Pull started\n"
    assert env.ok("blockjob", "vm", "vda", "--abort") == "\n"
    live = finish(env, chain4[-1])
    assert len(chain_from_xml(live)) == 4


def test_job_started_without_wait_is_finished_by_a_later_command(env, chain4):
    env.ok("start", "vm")
    # SLOW: still running in between however loaded the machine is.
    assert env.ok("blockcommit", "vm", "vda", "--top", "vda[2]", *SLOW) == "Block Commit started\n"
    info = env.run("blockjob", "vm", "vda", "--info")
    assert info.stderr.startswith("\rBlock Commit: [")
    assert "Bandwidth limit: 1024 bytes/s (1.000 KiB/s)" in info.stdout
    env.ok("blockjob", "vm", "vda", "--bandwidth", "0")       # let it run at full speed
    deadline = time.monotonic() + 60
    while "No current block job" not in env.ok("domblklist", "vm") + env.ok("blockjob", "vm", "vda"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    live = finish(env, chain4[-1])
    # With no --base the commit goes down to the bottom of the chain.
    assert chain_from_xml(live) == [(chain4[3], "qcow2"), (chain4[0], "qcow2")]


def test_kill_9_of_a_waiting_commit(env, chain4):
    env.ok("start", "vm")
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "blockcommit", "vm", "vda", "--top", "vda[2]",
                                              "--base", "vda[4]", "--wait", *SLOW],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Killed once QEMU runs the job, while the command waits on it (the lock the command
    # holds while starting the job makes the query wait until then).
    deadline = time.monotonic() + 60
    while not env.run("blockjob", "vm", "vda", "--info").stderr.startswith("\rBlock Commit: ["):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_invariants(env)
    env.ok("blockjob", "vm", "vda", "--bandwidth", "0")
    deadline = time.monotonic() + 60
    while "No current block job" not in env.ok("blockjob", "vm", "vda"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    live = finish(env, chain4[-1])
    assert chain_from_xml(live) == [(chain4[3], "qcow2"), (chain4[0], "qcow2")]


def test_block_job_errors_in_virsh_words(env, chain4):
    env.ok("start", "vm")
    assert env.run("blockjob", "vm", "vda", "--abort").stderr == \
        "error: invalid argument: disk vda does not have an active block job\n"
    assert env.run("blockcommit", "vm", "vda", "--wait").stderr == \
        "error: invalid argument: commit of 'vda' active layer requires active flag\n"
    assert env.run("blockcommit", "vm", "vda", "--base", "vda[9]").stderr == \
        "error: invalid argument: could not find backing store index '9' in chain for 'vda'\n"
    assert env.run("blockpull", "vm", "vdz").stderr == \
        "error: invalid argument: invalid path vdz not assigned to domain\n"
    env.ok("blockpull", "vm", "vda", *SLOW)
    assert env.run("blockpull", "vm", "vda").stderr == \
        "error: block copy still active: disk 'vda' already in active block job\n"
    assert env.run("blockjob", "vm", "vda", "--pivot").stderr.startswith(
        "error: Requested operation is not valid: job type 'pull' does not support pivot")
    env.ok("blockjob", "vm", "vda", "--abort")
    env.ok("destroy", "vm")


def test_offline_pull_and_commit(env, chain4):
    # virsh refuses these on a shut-off domain; pyvirsh does them with qemu-img.
    out = env.ok("blockcommit", "vm", "vda", "--top", "vda[3]", "--wait")
    assert out == "\nCommit complete\n"
    chain = backing_chain(chain4[-1])
    assert [c["filename"] for c in chain] == [chain4[3], chain4[2], chain4[0]]
    check_view(chain4[-1], expected_view(4))
    env.ok("blockpull", "vm", "vda", "--wait")
    assert [c["filename"] for c in backing_chain(chain4[-1])] == [chain4[3]]
    check_view(chain4[-1], expected_view(4))


def test_offline_active_commit_with_pivot(env, chain4):
    out = env.ok("blockcommit", "vm", "vda", "--active", "--pivot", "--wait")
    assert out == "\nSuccessfully pivoted\n"
    assert chain4[0] in env.ok("dumpxml", "vm")
    check_view(chain4[0], expected_view(4))
