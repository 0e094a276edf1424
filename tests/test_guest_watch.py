"""A booted guest watched through pyvirsh, compared with what virsh 9.0 + libvirt's QEMU
driver gave for the same guest (tests/data/watch-libvirt.json, tests/record_watch_reference.py):

- the guest's virtio_balloon driver reports every second: dommemstat and domstats --balloon
  show libvirt's fields in libvirt's order (the values are the guest's own: masked), and
  --period reaches QEMU;
- vcpucount --guest asks the real guest agent (qemu-ga in the guest);
- send-key in every codeset: the guest's first virtual terminal reads the same line the
  keys made under libvirt;
- a disk whose image fills its 1 MiB tmpfs: QEMU stops the guest, and a listener prints
  libvirt's io-error, io-error-reason and "Suspended I/O Error" lines; domstate and
  domblkerror then say what libvirt said.

One guest (test_guest_agent.py's tiny Linux with qemu-ga, TCG) for the module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest

import testguest
from difftool import call_main
from qemuhelp import Env, ext4_qcow2
from record_watch_reference import FILL, WATCH_XML, tiny_disk, watch_extras
from test_events import Listener, _lock_held
from test_guest_agent import DEADLINE, GuestShell

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/qemu-ga"),
                       reason="qemu-ga is not installed (apt-get install -y qemu-guest-agent)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the full disk is a tmpfs mount: root only"),
]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "watch-libvirt.json")) as _f:
    RECORDS = json.load(_f)["records"]
NAME = "watched"


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    extras = watch_extras()
    try:
        kernel, initrd = testguest.build(extras=extras, flavour="watch")
    except RuntimeError as err:
        pytest.skip(str(err))
    base = str(tmp_path_factory.mktemp("watch"))
    env = Env(base)
    disk = ext4_qcow2(env.path("data.qcow2"))
    try:
        mnt, full = tiny_disk(base)
    except subprocess.CalledProcessError:
        pytest.skip("cannot mount a tmpfs here")
    serial = os.path.join(base, "ttyS0.sock")
    with open(env.path("guest.xml"), "w") as f:
        f.write(WATCH_XML % {"kernel": kernel, "initrd": initrd, "disk": disk, "serial": serial, "full": full})
    shell = None
    try:
        env.ok("define", env.path("guest.xml"))
        env.ok("start", NAME)
        shell = GuestShell(serial)
        shell.read_until(b"PYVIRSH-GUEST-READY")
        shell.sock.sendall(b"\n")
        shell.read_until(b"guest# ")
        deadline = time.monotonic() + DEADLINE
        while "state='connected'" not in env.ok("dumpxml", NAME):
            assert time.monotonic() < deadline, "qemu-ga never opened its port"
            time.sleep(0.2)
        yield env, shell, base
    finally:
        if shell is not None:
            shell.close()
        env.cleanup()
        subprocess.run(["umount", mnt])


def _run(env, base, args):
    out, err, _status = call_main(["-c", env.uri, *args])
    return out.decode().replace(base, "DIR"), err.decode().replace(base, "DIR")


def _records(first_word: str, *more: str) -> list[dict]:
    return [r for r in RECORDS if "args" in r and r["args"][0] == first_word and all(m in r["args"] for m in more)]


_NUMBER = re.compile(r"(?<=[ =])\d+$", re.MULTILINE)


def test_balloon_stats_from_the_guest_driver_are_libvirts_fields(watched):
    env, _shell, base = watched
    # the guest reports every second: wait for its first report (libvirt shows no guest fields before)
    deadline = time.monotonic() + DEADLINE
    while "unused" not in _run(env, base, ["dommemstat", NAME])[0]:
        assert time.monotonic() < deadline, "the guest's balloon never reported"
        time.sleep(0.2)
    for record in _records("dommemstat") + _records("domstats"):
        out, err = _run(env, base, record["args"])
        if "--period" in record["args"]:
            assert (out, err) == (record["stdout"], record["stderr"])
            continue
        # the guest's figures differ run to run; the fields, their order and the size do not
        assert (_NUMBER.sub("N", out), err) == (_NUMBER.sub("N", record["stdout"]), record["stderr"])
        assert re.search(r"^(actual |  balloon.current=)262144$", out, re.MULTILINE), out
    # rss is QEMU's resident memory, last_update the guest's last report (seconds since the epoch)
    fields = dict(line.split() for line in _run(env, base, ["dommemstat", NAME])[0].splitlines() if line)
    assert abs(int(fields["last_update"]) - time.time()) < 600
    assert 0 < int(fields["unused"]) <= int(fields["available"]) <= 262144


def test_vcpucount_guest_asks_the_agent(watched):
    env, shell, base = watched
    for record in _records("vcpucount"):
        assert _run(env, base, record["args"]) == (record["stdout"], record["stderr"]), record["args"]
    shell.run("echo 0 > /sys/devices/system/cpu/cpu1/online")
    try:
        assert _run(env, base, ["vcpucount", NAME, "--guest"]) == ("1\n\n", "")
    finally:
        shell.run("echo 1 > /sys/devices/system/cpu/cpu1/online")


def test_send_key_in_every_codeset_types_what_libvirt_typed(watched):
    env, shell, base = watched
    shell.run(": > /tmp/keys")
    for record in _records("send-key"):
        assert _run(env, base, record["args"]) == (record["stdout"], record["stderr"]), record["args"]
    expected = next(r["guest-keys"] for r in RECORDS if "guest-keys" in r)
    deadline = time.monotonic() + 60
    while shell.run("cat /tmp/keys") != expected:
        assert time.monotonic() < deadline, (shell.run("cat /tmp/keys"), expected)
        time.sleep(0.2)


def test_full_disk_stops_the_guest_with_libvirts_events(watched):
    env, shell, base = watched
    listener = Listener(env, "event", "--all", "--loop", "--timeout", "600")
    try:
        lock = os.path.join(env.root, "run", "locks", ".events-0.%s.lock" % NAME)
        deadline = time.monotonic() + 60
        while not _lock_held(lock):
            assert time.monotonic() < deadline, "the listener never took an event monitor"
            time.sleep(0.02)
        shell.sock.sendall(("%s &\n" % FILL).encode())
        recorded = _records("event")[0]["stdout"].splitlines()
        assert [listener.line().replace(base, "DIR") for _ in range(3)] == recorded[:3]
    finally:
        listener.proc.kill()
        listener.proc.wait()
    for words in (["domstate", "--reason"], ["domblkerror"]):
        record = _records(words[0])[0]
        assert _run(env, base, record["args"]) == (record["stdout"], record["stderr"])
