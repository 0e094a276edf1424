"""The start plan (drivers/qemu/startplan.py): a start spawns the last start's QEMU command line
before it reads the definition, and keeps that QEMU only if it is the one the start builds;
otherwise it stops it before the guest ran and spawns its own. Whatever happens, the outcome is
the one of a start without a plan: these tests check that QEMU runs what the definition and
the chains say now, and the domain's log tells which way the start went."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil

import pytest

from qemuhelp import Env, qemu_img

PLANNED = ": starting up (the last start's command line)"
ABANDONED = "pyvirsh: this start's command line is another"


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    qemu_img("create", "-q", "-f", "qcow2", e.path("base.qcow2"), "16M")
    qemu_img("create", "-q", "-f", "qcow2", e.path("other.qcow2"), "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", e.path("base.qcow2"), "-F", "qcow2", e.path("top.qcow2"))
    yield e
    e.cleanup()


def log_lines(env: Env, name: str = "vm") -> list[str]:
    with open(os.path.join(env.root, "log", name + ".log")) as f:
        return f.read().splitlines()


def headers(env: Env) -> list[str]:
    """The start headers and abandon notes of the log, in order, without their dates."""
    return [re.sub(r"^[0-9: -]+: ", "", line) for line in log_lines(env)
            if ": starting up" in line or line.startswith(ABANDONED)]


def spawned_argv(env: Env) -> str:
    """The command line of the last start in the log, its monitor's fd=N left out."""
    lines = log_lines(env)
    last = max(i for i, line in enumerate(lines) if ": starting up" in line)
    return re.sub(r"id=charmonitor,fd=\d+", "id=charmonitor,fd=N", lines[last + 1])


def qmp(env: Env, command: str) -> dict:
    return json.loads(env.ok("qemu-monitor-command", "vm", json.dumps({"execute": command})))["return"]


def block_files(env: Env) -> set[str]:
    return {node["image"]["filename"] for node in qmp(env, "query-named-block-nodes")
            if node["drv"] == "qcow2"}


def redefine(env: Env, old: str, new: str) -> None:
    """Define vm anew (same uuid), old replaced by new in its XML."""
    path = os.path.join(env.base, "vm-new.xml")
    with open(path, "w") as f:
        f.write(env.ok("dumpxml", "--inactive", "vm").replace(old, new))
    env.ok("define", path)


def plan_file(env: Env, name: str = "vm") -> str:
    return os.path.join(env.root, "run", name + ".startplan")


def test_the_next_start_spawns_the_last_start_s_command_line(env):
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm")
    first = spawned_argv(env)
    env.ok("destroy", "vm")
    assert os.path.exists(plan_file(env))
    assert env.ok("start", "vm") == "Domain 'vm' started\n\n"
    assert headers(env) == ["starting up", PLANNED.lstrip(": ")]
    assert spawned_argv(env) == first
    assert qmp(env, "query-status")["status"] == "running"
    assert block_files(env) == {env.path("top.qcow2"), env.path("base.qcow2")}
    assert env.ok("domstate", "vm", "--reason") == "running (booted)\n\n"
    env.ok("destroy", "vm")


def test_a_chain_changed_behind_pyvirsh_is_started_as_it_is_now(env):
    """top.qcow2 rebased onto other.qcow2 without pyvirsh: the plan's QEMU (over base.qcow2)
    is stopped before the guest ran; the QEMU kept opens the chain as it is now."""
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm")
    env.ok("destroy", "vm")
    qemu_img("rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", env.path("other.qcow2"), env.path("top.qcow2"))
    env.ok("start", "vm", "--paused")
    assert headers(env)[1:] == [PLANNED.lstrip(": "), ABANDONED + " (the chains or the programs changed): "
                                "that QEMU was stopped before the guest ran", "starting up"]
    assert block_files(env) == {env.path("top.qcow2"), env.path("other.qcow2")}
    assert qmp(env, "query-status")["status"] == "prelaunch"       # --paused: never let go
    xml = env.ok("dumpxml", "vm")
    assert env.path("other.qcow2") in xml and env.path("base.qcow2") not in xml
    assert len(env.qemu_pids()) == 1
    env.ok("destroy", "vm")
    env.ok("start", "vm")           # and the plan is the new line
    assert headers(env)[-1] == PLANNED.lstrip(": ")
    assert block_files(env) == {env.path("top.qcow2"), env.path("other.qcow2")}
    env.ok("destroy", "vm")


def test_a_redefined_domain_is_started_without_the_old_plan(env):
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm")
    env.ok("destroy", "vm")
    redefine(env, env.path("top.qcow2"), env.path("other.qcow2"))
    env.ok("start", "vm")
    assert headers(env) == ["starting up", "starting up"]
    assert block_files(env) == {env.path("other.qcow2")}
    env.ok("destroy", "vm")


def test_a_file_gone_since_the_last_start_fails_as_without_a_plan(env):
    """The plan names a kernel that is gone: the start does not spawn it, and fails with the
    very error a start without a plan gives."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        pytest.skip("needs a kernel in /boot (CI installs one for the test guest)")
    kernel = env.path("vmlinuz")
    shutil.copyfile(kernels[-1], kernel)
    env.define("vm", [], dom_type="qemu")
    redefine(env, "</type>", "</type><kernel>%s</kernel>" % kernel)
    env.ok("start", "vm", "--paused")
    env.ok("destroy", "vm")
    os.unlink(kernel)
    planned = env.run("start", "vm")
    assert ABANDONED not in "\n".join(log_lines(env)) and PLANNED not in "\n".join(log_lines(env))
    os.unlink(plan_file(env))
    unplanned = env.run("start", "vm")
    assert planned.returncode == unplanned.returncode == 1
    assert planned.stderr == unplanned.stderr and "vmlinuz" in planned.stderr
    assert "starting up" not in planned.stderr          # QEMU's own words, as libvirt reports them
    assert env.qemu_pids() == []
    assert sorted(os.listdir(os.path.join(env.root, "run"))) == ["events.jsonl", "locks", "next-id", "vm.shutoff"]
    assert env.ok("domstate", "vm") == "shut off\n\n"


def test_a_start_killed_after_its_status_and_before_the_cont_is_finished(env):
    """A start writes the running status while QEMU still waits (-S), then sends `cont`; killed
    in between, it leaves its intent, and the next command lets the guest run."""
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm", "--paused")
    assert qmp(env, "query-status")["status"] == "prelaunch"
    status = os.path.join(env.root, "run", "vm.status.xml")
    with open(status) as f:
        text = f.read()
    assert text.startswith("<domstatus state='3' reason='1'")      # paused by the user
    with open(status, "w") as f:       # as the killed start left it: running, and its intent
        f.write(text.replace("<domstatus state='3' reason='1'", "<domstatus state='1' reason='1'", 1))
    with open(os.path.join(env.root, "run", "vm.spawning"), "w") as f:
        f.write("running")
    assert env.ok("domstate", "vm", "--reason") == "running (booted)\n\n"
    assert not os.path.exists(os.path.join(env.root, "run", "vm.spawning"))
    assert qmp(env, "query-status")["status"] == "running"
    env.ok("destroy", "vm")


def test_undefine_and_rename_take_the_plan_along(env):
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm")
    env.ok("destroy", "vm")
    assert os.path.exists(plan_file(env))
    env.ok("domrename", "vm", "vm2")
    assert not os.path.exists(plan_file(env)) and not os.path.exists(plan_file(env, "vm2"))
    env.ok("start", "vm2")
    env.ok("destroy", "vm2")
    assert os.path.exists(plan_file(env, "vm2"))
    env.ok("undefine", "vm2")
    assert not os.path.exists(plan_file(env, "vm2"))


def test_a_start_that_chooses_a_graphics_port_has_no_plan(env):
    """A plan holds nothing chosen at the start: an autoport VNC display's port is picked anew
    each time, so such a domain always starts the full way."""
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu",
               extra="<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>")
    env.ok("start", "vm")
    env.ok("destroy", "vm")
    assert not os.path.exists(plan_file(env))
    env.ok("start", "vm")
    assert headers(env) == ["starting up", "starting up"]
    env.ok("destroy", "vm")


def test_a_start_that_fails_after_spawning_the_plan_stops_that_qemu(env):
    """top.qcow2 became something else than a qcow2 image since the last start: the plan's QEMU
    is spawned (the file is there), the start's own probe refuses the image, and that QEMU is
    stopped; the error is the one a start without a plan gives, and nothing is left running."""
    env.define("vm", [("vda", env.path("top.qcow2"), "qcow2")], dom_type="qemu")
    env.ok("start", "vm")
    env.ok("destroy", "vm")
    with open(env.path("top.qcow2"), "wb") as f:
        f.write(b"not an image" * 1000)
    planned = env.run("start", "vm")
    assert "pyvirsh: the start failed: that QEMU was stopped before the guest ran" in log_lines(env)
    assert env.qemu_pids() == []
    os.unlink(plan_file(env))
    unplanned = env.run("start", "vm")
    assert planned.returncode == unplanned.returncode == 1
    assert planned.stderr == unplanned.stderr, (planned.stderr, unplanned.stderr)
    assert env.ok("domstate", "vm") == "shut off\n\n"
    assert sorted(os.listdir(os.path.join(env.root, "run"))) == ["events.jsonl", "locks", "next-id", "vm.shutoff"]
