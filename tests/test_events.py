"""Events and monitor access on real QEMU: event and qemu-monitor-event hear what other
pyvirsh processes do to a domain; qemu-monitor-command, screenshot, send-key, domdisplay,
vncdisplay, domcontrol and domjobinfo print what virsh + libvirt 9.0 printed for the same
domain (tests/data/monitor-libvirt.json, recorded by tests/record_monitor_reference.py),
with the host-dependent parts (QMP command ids, the screenshot's path) masked.

One firmware-only guest with a VGA card, VNC and a two-layer disk (module fixture), and a
second bare one; no test sleeps: the listeners' output is waited on line by line.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import time

import pytest
from difftool import call_main, pyvirsh_argv
from qemuhelp import Env, make_chain
from record_monitor_reference import BARE_XML, COMMANDS, DISPLAY_XML, OFFLINE

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
with open(os.path.join(DATA, "monitor-libvirt.json")) as _f:
    RECORDS = json.load(_f)["records"]

# What pyvirsh does not do as libvirt does: nothing left (usb and win32 keys are translated
# since the keycode table is libvirt's, --regex errors are GLib's words).
GAPS: set[tuple[str, ...]] = set()

OTHER_UUID = "5b1f9a43-6f1e-4d8e-9d56-3f1c2a8b7e01"
_ID = re.compile(r'"id": ?"[^"]*"')


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("events"))
    _base, top = make_chain(e, ["base.qcow2", "top.qcow2"], size="8M")
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>" % top)
    for name, xml in (("disp", DISPLAY_XML.replace("<devices>", "<devices>" + disk)), ("bare", BARE_XML)):
        path = os.path.join(e.base, name + ".xml")
        with open(path, "w") as f:
            f.write(xml % {"name": name})
        e.ok("define", path)
    try:
        yield e
    finally:
        e.cleanup()


def _mask(text: str, shot: str) -> str:
    return _ID.sub('"id":"ID"', text).replace(shot, "SHOT")


def _replay(env: Env, records: list[dict], shot: str, display: int = 0) -> list[tuple]:
    """Each record's command run by pyvirsh (in this process): the differences. libvirt's
    guest had VNC display 0 (port 5900); display is the one this guest got: the first free
    port from 5900, which another guest on this machine (another test worker's) may hold."""
    differences = []
    for record in records:
        args = [shot if w == "SHOT" else record["domain"] if w == "DOM" else w for w in record["args"]]
        out, err, _status = call_main(["-c", env.uri] + args)
        ours = (_mask(out.decode(), shot), err.decode().replace(shot, "SHOT"))
        theirs = (_mask(record["stdout"], "/nonexistent"), record["stderr"])
        theirs = (re.sub(r"Screenshot saved to \S+,", "Screenshot saved to SHOT,", theirs[0]), theirs[1])
        if record["args"][0] in ("domdisplay", "vncdisplay"):
            theirs = (theirs[0].replace("127.0.0.1:0\n", "127.0.0.1:%d\n" % display), theirs[1])
        if ours != theirs:
            differences.append((record["args"], theirs, ours))
        if os.path.exists(shot):
            os.unlink(shot)
    return differences


def test_monitor_display_and_keyboard_commands_print_what_libvirt_printed(guest):
    shot = os.path.join(guest.base, "shot")
    offline = [r for r in RECORDS[:len(OFFLINE)]]
    assert [tuple(r["args"]) for r in offline] == OFFLINE
    assert _replay(guest, offline, shot) == []
    guest.ok("start", "disp")
    guest.ok("start", "bare")
    online = [r for r in RECORDS[len(OFFLINE):] if tuple(r["args"]) not in GAPS]
    assert len(online) == len(COMMANDS) + 12 - len(GAPS)
    port = int(re.search(r"<graphics type='vnc' port='(\d+)'", guest.ok("dumpxml", "disp")).group(1))
    assert _replay(guest, online, shot, port - 5900) == []


def _png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


def test_screenshot_is_the_vga_text_mode_screen_and_send_key_reaches_qemu(guest):
    if "running" not in guest.ok("domstate", "disp"):
        guest.ok("start", "disp")
    shot = os.path.join(guest.base, "screen.png")
    # SeaBIOS puts the VGA card in 80x25 text mode: 720x400 pixels once it has run
    deadline = time.monotonic() + 60
    while True:
        out = guest.ok("screenshot", "disp", "--file", shot)
        assert out == "Screenshot saved to %s, with type of image/png\n" % shot
        if _png_size(shot) == (720, 400) or time.monotonic() > deadline:
            break
    assert _png_size(shot) == (720, 400)
    # default file name: the domain's name, the local time and the type's extension
    proc = guest.run("screenshot", "disp", cwd=guest.base)
    name = re.fullmatch(r"Screenshot saved to (disp-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d\.png), with type of "
                        r"image/png\n", proc.stdout).group(1)
    assert _png_size(os.path.join(guest.base, name)) == (720, 400)
    # keys QEMU takes (with a hold time), and a key it has no number for refused before QEMU
    assert guest.run("send-key", "disp", "--holdtime", "20", "KEY_LEFTCTRL", "KEY_LEFTALT", "KEY_DELETE").returncode == 0
    assert guest.run("send-key", "disp", "--codeset", "atset1", "0xe05d").returncode == 0
    proc = guest.run("send-key", "disp", "--codeset", "atset1", "0xe05d", "0xe07f")      # no key is 0xe07f
    assert proc.returncode == 1
    assert proc.stderr == ("error: internal error: cannot translate keycode 57471 of atset1 codeset to qnum "
                           "keycode\n")


def _lock_held(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class Listener:
    """A pyvirsh listener process; its output read line by line as it comes."""

    def __init__(self, env: Env, *args: str):
        self.proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=dict(os.environ, LANG="C"))
        self.buf = b""
        self.lines = 0

    def event(self) -> str:
        """The next event line but the guest's own resets: SeaBIOS finds no bootable disk and
        resets the machine now and then, and each reset is a 'reboot' event."""
        while True:
            text = self.line()
            if text != "event 'reboot' for domain 'disp'":
                return text

    def line(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no line from the listener; so far %r" % self.buf
            if select.select([self.proc.stdout], [], [], remaining)[0]:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                assert chunk, "the listener ended: %r %r" % (self.buf, self.proc.stderr.read())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines += 1
        return line.decode()

    def finish(self) -> tuple[str, str, int]:
        out, err = self.proc.communicate(timeout=60)
        return (self.buf + out).decode(), err.decode(), self.proc.returncode


def test_listeners_hear_what_other_pyvirsh_processes_do(guest):
    if "running" not in guest.ok("domstate", "disp"):
        guest.ok("start", "disp")
    locks = os.path.join(guest.root, "run", "locks")
    events = Listener(guest, "event", "--all", "--loop", "--timeout", "600")
    stamped = Listener(guest, "event", "--domain", "disp", "--event", "lifecycle", "--timestamp")
    qemu = Listener(guest, "qemu-monitor-event", "--domain", "disp", "--loop", "--event", "^block_job_c",
                    "--regex", "--no-case", "--pretty")
    try:
        deadline = time.monotonic() + 60
        while not all(_lock_held(os.path.join(locks, ".events-%d.disp.lock" % n)) for n in range(3)):
            assert time.monotonic() < deadline, "the listeners never took the domain's event monitors"
            time.sleep(0.02)
        # all three monitors taken: a fourth listener of the domain is told so
        proc = guest.run("event", "--domain", "disp", "--all", "--timeout", "1")
        assert proc.stderr == ("error: operation failed: all 3 event monitors of domain 'disp' are in use by "
                               "other listeners\n")
        guest.ok("suspend", "disp")
        assert events.event() == "event 'lifecycle' for domain 'disp': Suspended Paused"
        # one-shot: the first event, then the count; timestamps as virTimeStringNowRaw writes them
        out, err, status = stamped.finish()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: event 'lifecycle' for domain "
                            r"'disp': Suspended Paused\nevents received: 1\n\n", out), out
        assert (err, status) == ("", 0)
        guest.ok("resume", "disp")
        assert events.event() == "event 'lifecycle' for domain 'disp': Resumed Unpaused"
        guest.ok("blockpull", "disp", "vda", "--wait")
        top = os.path.join(guest.images, "top.qcow2")
        assert events.event() == "event 'block-job' for domain 'disp': Block Pull for %s completed" % top
        assert events.event() == "event 'block-job-2' for domain 'disp': Block Pull for vda completed"
        first = qemu.line()
        assert re.fullmatch(r"event BLOCK_JOB_COMPLETED at \d+\.\d{6} for domain 'disp': \{", first), first
        body = [qemu.line() for _ in range(6)]
        assert body[-1] == "}" and '  "device": "pv-vda",' in body, body
        # a domain defined, started and removed while others run: pyvirsh's own changes, logged
        path = os.path.join(guest.base, "other.xml")
        with open(path, "w") as f:
            f.write((BARE_XML % {"name": "other"}).replace("</name>", "</name><uuid>%s</uuid>" % OTHER_UUID))
        guest.ok("define %s; define %s; start other --paused; destroy other; undefine other" % (path, path))
        for text in ("Defined Added", "Defined Updated", "Started Booted", "Suspended Paused",
                     "Shutdown Finished after host request", "Stopped Destroyed", "Undefined Removed"):
            assert events.event() == "event 'lifecycle' for domain 'other': " + text
        guest.ok("qemu-monitor-command", "disp", "--hmp", "system_reset")
        assert events.line() == "event 'reboot' for domain 'disp'"
        guest.ok("destroy", "disp")
        assert events.event() == "event 'lifecycle' for domain 'disp': Shutdown Finished after host request"
        assert events.event() == "event 'lifecycle' for domain 'disp': Stopped Destroyed"
        guest.ok("start", "disp")
        assert events.event() == "event 'lifecycle' for domain 'disp': Resumed Unpaused"
        assert events.event() == "event 'lifecycle' for domain 'disp': Started Booted"
        # Ctrl-C ends the loop as virsh's does: the count, and success since events came
        events.proc.send_signal(signal.SIGINT)
        out, err, status = events.finish()
        assert (out, err, status) == ("event loop interrupted\nevents received: %d\n\n" % events.lines, "", 0)
        assert events.lines >= 16
        # the qemu listener lost its domain's QEMU at the destroy and waits on; a timeout ends it
        qemu.proc.send_signal(signal.SIGINT)
        out, err, status = qemu.finish()
        assert (out, err, status) == ("event loop interrupted\nevents received: 1\n\n", "", 0)
        proc = guest.run("qemu-monitor-event", "--domain", "disp", "--event", "NOPE", "--timeout", "1")
        assert (proc.stdout, proc.returncode) == ("event loop timed out\nevents received: 0\n\n", 1)
    finally:
        for listener in (events, stamped, qemu):
            if listener.proc.poll() is None:
                listener.proc.kill()
                listener.proc.wait()
    # no listener left holding a monitor
    assert not _lock_held(os.path.join(locks, ".events-0.disp.lock"))


def _ok_in_process(env, args) -> None:
    """A pyvirsh command run in this process (a new interpreter per step costs a second here)."""
    out, err, status = call_main(["-c", env.uri, *args])
    assert status == 0, (args, out, err)


def test_rename_and_snapshot_events_are_libvirts(guest):
    """domrename and the snapshot commands give a listener the lifecycle events libvirt 9.0
    gave (tests/data/events-libvirt.json, recorded by tests/record_event_reference.py on the
    same domain), step by step. A domain listener follows its domain across the rename, by
    UUID as libvirt does."""
    from pyvirsh.commands.events import describe
    from record_event_reference import EVENT_XML
    with open(os.path.join(DATA, "events-libvirt.json")) as f:
        steps = json.load(f)["records"]
    disk = os.path.join(guest.base, "ev.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    path = os.path.join(guest.base, "ev.xml")
    with open(path, "w") as f:
        f.write(EVENT_XML % {"name": "ev", "disk": disk})
    guest.ok("define", path)
    listener = Listener(guest, "event", "--all", "--loop", "--timeout", "600")
    follower = Listener(guest, "event", "--domain", "ev", "--all", "--loop", "--timeout", "600")
    try:
        with open(path, "w") as f:      # the definition again: a line each listener prints once it follows
            f.write(guest.ok("dumpxml", "ev", "--inactive"))
        guest.ok("define", path)
        assert listener.line() == "event 'lifecycle' for domain 'ev': Defined Updated"
        assert follower.line() == "event 'lifecycle' for domain 'ev': Defined Updated"
        for step in steps:
            _ok_in_process(guest, [w.replace("MEMFILE", os.path.join(guest.base, "ev.mem")) for w in step["args"]])
            expected = [describe(tuple(e)).rstrip("\n") for e in step["events"]]
            heard = []
            while len(heard) < len(expected):
                line = listener.line()
                if line != "event 'reboot' for domain 'ev'":     # SeaBIOS resets now and then
                    heard.append(line)
            assert (step["step"], heard) == (step["step"], expected)
            if step["step"] == "rename":
                assert follower.line() == "event 'lifecycle' for domain 'ev': Undefined Renamed"
                assert follower.line() == "event 'lifecycle' for domain 'ev2': Defined Renamed"
    finally:
        guest.run("destroy", "ev")
        listener.proc.kill()
        follower.proc.kill()
        listener.proc.wait()
        follower.proc.wait()


def test_ctrl_c_ends_an_event_loop_started_with_sigint_ignored(tmp_path):
    """A listener started in the background by a script (SIGINT ignored, inherited) still ends
    on a Ctrl-C, as virsh's does (it installs its own handler for the loop)."""
    env = Env(tmp_path)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)       # inherited by the child, as from a shell's &
    try:
        listener = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "event", "--all", "--loop"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        path = os.path.join(str(tmp_path), "bg.xml")
        with open(path, "w") as f:
            f.write(BARE_XML % {"name": "bg"})
        deadline = time.monotonic() + 60
        first = ""
        while not first:        # defined again until the listener, once it listens, hears one
            env.ok("define", path)
            ready, _, _ = select.select([listener.stdout], [], [], 0.5)
            if ready:
                first = listener.stdout.readline()
            assert time.monotonic() < deadline, "the listener heard nothing"
        assert first.startswith("event 'lifecycle' for domain 'bg': Defined ")
        listener.send_signal(signal.SIGINT)
        out, err = listener.communicate(timeout=60)
        assert (listener.returncode, err) == (0, "")
        assert out.endswith("event loop interrupted\nevents received: %d\n\n" % (1 + out.count("event 'lifecycle'")))
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
