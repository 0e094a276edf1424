"""`console` on a real guest: tests/testguest.py's tiny Linux, booted once for the module under
TCG with a pty serial console and a root shell on it. A user's session runs in tmux (a real
terminal): the guest answers what is typed, ^] ends the session, and the terminal is back in
its cooked mode afterwards, on every way out (escape, --force from another console, SIGTERM,
the domain destroyed by another pyvirsh). Errors are compared byte for byte with what virsh
9.0 printed against libvirtd 9.0's QEMU driver (recorded below), and with real
`virsh -c test:///default` where the test driver answers."""

from __future__ import annotations

import os
import pty
import shlex
import shutil
import signal
import subprocess
import time

import pytest

import testguest
from difftool import DATA, compare, pyvirsh_argv, virsh_missing_reason
from qemuhelp import Env

BOOT_DEADLINE = 300         # seconds; TCG on a busy 2-core machine: a bound, not a timing check
DEADLINE = 60

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (CI installs it)"),
    pytest.mark.skipif(testguest.kernel_version() is None,
                       reason="no kernel in /boot (apt-get install -y linux-image-amd64 busybox-static)"),
]


def greeting(name: str) -> str:
    return "Connected to domain '%s'\nEscape character is ^] (Ctrl + ])\n" % name


# What virsh 9.0 printed (stdout, stderr, status) for the same situations on libvirtd 9.0's QEMU
# driver, run once by hand with stdin on a terminal (reference/virsh-behaviour.md, Appendix C
# recipe); the domain names are this module's. virsh's own "Authorization not available"
# polkit notice, printed on a terminal without a polkit agent, is left out.
LIBVIRTD = {
    "no serial": (greeting("bare") + "\n", "error: internal error: cannot find character device <null>\n", 1),
    "unknown device": (greeting("con1") + "\n", "error: internal error: cannot find character device nosuch\n",
                       1),
    "not a pty": (greeting("con1") + "\n", "error: internal error: character device serial1 is not using a PTY\n",
                  1),
    "held": (greeting("con1") + "\n", "error: operation failed: Active console session exists for this domain\n",
             1),
    "stdin not a terminal": ("\n", "error: Cannot run interactive console without a controlling TTY\n", 1),
}
# virsh's own check before any driver call (the test driver's 'destroy test; console test' below).
SHUT_OFF = ("\n", "error: The domain is not running\n", 1)
TAKEN_OVER = "error: stream had I/O failure"


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    os.environ.setdefault("PYVIRSH_TEST_GUEST_CACHE", str(tmp_path_factory.mktemp("guest-cache")))
    try:
        kernel, initrd = testguest.build()
    except RuntimeError as err:
        pytest.skip(str(err))
    env = Env(tmp_path_factory.mktemp("console"))
    try:
        os_part = ("<os><type arch='x86_64'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>"
                   "<cmdline>console=ttyS0 pyvirsh.shell cryptomgr.notests</cmdline></os>" % (kernel, initrd))
        devices = ("<serial type='pty'/><console type='pty'/>"
                   "<serial type='file'><source path='%s'/></serial>" % env.path("serial1.log"))
        define(env, "con1", os_part, devices)
        define(env, "bare", "<os><type arch='x86_64'>hvm</type></os>", "")
        define(env, "off", "<os><type arch='x86_64'>hvm</type></os>", "")     # never started
        env.ok("start", "con1")
        env.ok("start", "bare", "--paused")        # running for console's sake, and idle
        yield env
    finally:
        env.cleanup()


def define(env: Env, name: str, os_part: str, devices: str) -> None:
    path = os.path.join(env.base, name + ".xml")
    with open(path, "w") as f:
        f.write("<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>%s"
                "<devices>%s</devices></domain>" % (name, os_part, devices))
    env.ok("define", path)


def pyvirsh(env: Env, *args: str) -> str:
    """A shell command line running pyvirsh on the module's driver."""
    return shlex.join(pyvirsh_argv() + ["-c", env.uri, *args])


def on_a_terminal(argv: list[str], stdin_tty: bool = True) -> tuple[str, str, int]:
    """Run with stdin on a pseudo-terminal (or /dev/null), stdout and stderr on pipes."""
    env = dict(os.environ, LANG="C", LC_ALL="C")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    master, slave = pty.openpty() if stdin_tty else (None, os.open(os.devnull, os.O_RDONLY))
    try:
        proc = subprocess.run(argv, cwd=DATA, env=env, stdin=slave, capture_output=True, timeout=DEADLINE)
    finally:
        os.close(slave)
        if master is not None:
            os.close(master)
    err = "".join(line for line in proc.stderr.decode().splitlines(True)
                  if not line.startswith("Authorization not available"))
    return proc.stdout.decode(), err, proc.returncode


class Pane:
    """A shell command in its own tmux pane: a real terminal. After the command, the pane
    shows its status as __rc=N and then the terminal's `stty -a`."""

    def __init__(self, command: str):
        self.session = "pyvirsh-console-%d-%d" % (os.getpid(), time.monotonic_ns() % 10**9)
        env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", NO_COLOR="1")
        env.pop("PYVIRSH_DEFAULT_URI", None)
        script = "%s; echo __rc=$?; stty -a; sleep 600" % command
        # A tmux server of its own (-L): a shared one that is exiting as its last session is
        # killed makes a new session fail ("server exited unexpectedly").
        subprocess.run(["tmux", "-L", self.session, "new-session", "-d", "-s", self.session, "-x", "200",
                        "-y", "50", "sh", "-c", script], env=env, check=True)
        self.tty, self.socket = self._tmux("display-message", "-p", "-t", self.session,
                                           "#{pane_tty} #{socket_path}").split()

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.session, *args], capture_output=True, text=True,
                              check=False).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", self.session)

    def wait_for(self, text: str, deadline: float = DEADLINE, after: str = "") -> str:
        """The screen once `text` shows on it (after the last `after`, if given)."""
        end = time.monotonic() + deadline
        while True:
            screen = self.screen()
            if text in (screen.rsplit(after, 1)[-1] if after else screen):
                return screen
            assert time.monotonic() < end, "%r did not show:\n%s" % (text, screen)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.session, "-l", text)
        self._tmux("send-keys", "-t", self.session, "Enter")

    def key(self, key: str) -> None:
        self._tmux("send-keys", "-t", self.session, key)

    def wait_connected(self, escape: str = "^] (Ctrl + ])") -> None:
        """The greeting shown and the terminal raw: from now on typed keys reach the guest
        (pyvirsh, as virsh, flushes what was typed before it switched to raw mode)."""
        self.wait_for("Escape character is " + escape)
        end = time.monotonic() + DEADLINE
        while not raw(self.stty()):
            assert time.monotonic() < end, "the terminal did not turn raw:\n" + self.screen()
            time.sleep(0.05)

    def stty(self) -> str:
        """The pane's terminal settings, read from outside while its command runs."""
        return subprocess.run(["stty", "-F", self.tty, "-a"], capture_output=True, text=True).stdout

    def close(self) -> None:
        self._tmux("kill-server")
        try:
            os.unlink(self.socket)          # tmux leaves it behind
        except OSError:
            pass


def cooked(stty_text: str) -> bool:
    words = stty_text.split()
    return "icanon" in words and "echo" in words and "isig" in words


def raw(stty_text: str) -> bool:
    words = stty_text.split()
    return "-icanon" in words and "-echo" in words and "-isig" in words


def ask_guest(pane: Pane, a: int, b: int, mark: str, deadline: float = DEADLINE) -> None:
    """Type a sum for the guest's shell; its answer (a*b followed by the mark) must come back.
    Typed again while the guest is still booting (a line typed before its shell starts may
    be lost)."""
    answer = "%d%s" % (a * b, mark)
    end = time.monotonic() + deadline
    while True:
        pane.type("echo $((%d*%d))%s" % (a, b, mark))
        try:
            pane.wait_for(answer, min(5.0, max(end - time.monotonic(), 0.1)))
            return
        except AssertionError:
            if time.monotonic() >= end:
                raise


@pytest.fixture
def panes():
    opened: list[Pane] = []

    def open_pane(command: str) -> Pane:
        pane = Pane(command)
        opened.append(pane)
        return pane
    yield open_pane
    for pane in opened:
        pane.close()


def test_session_held_refused_and_taken_over(guest, panes):
    first = panes(pyvirsh(guest, "console", "con1"))
    first.wait_connected()
    ask_guest(first, 6, 7, "MARK", BOOT_DEADLINE)

    # A second session on the same device (console0 is serial0's pty) is refused as libvirt does.
    assert on_a_terminal(pyvirsh_argv() + ["-c", guest.uri, "console", "con1", "--devname", "console0"]) \
        == LIBVIRTD["held"]

    second = panes(pyvirsh(guest, "console", "con1", "--force"))
    second.wait_connected()
    screen = first.wait_for("__rc=1")
    assert TAKEN_OVER + "\n\n__rc=1" in screen      # virsh's error, then its trailing newline
    assert cooked(first.wait_for("icanon", after="__rc=1"))
    ask_guest(second, 7, 6, "FORCED")
    second.key("C-]")
    second.wait_for("__rc=0")
    assert cooked(second.wait_for("icanon", after="__rc=0"))


def test_escape_character_from_the_global_option(guest, panes):
    pane = panes(shlex.join(pyvirsh_argv() + ["-c", guest.uri, "-e", "^a", "console", "con1"]))
    pane.wait_connected("^a (Ctrl + a)")
    ask_guest(pane, 5, 5, "ESC")
    pane.key("C-]")             # not the escape now: the guest gets it, the session goes on
    ask_guest(pane, 5, 6, "ESC")
    pane.key("C-a")
    pane.wait_for("__rc=0")


def test_console_in_the_interactive_shell(guest, panes, tmp_path):
    shell = panes("PYVIRSH_HISTFILE=%s %s" % (tmp_path / "history", pyvirsh(guest)))
    shell.wait_for("pyvirsh #")
    shell.type("console con1")
    shell.wait_connected()
    ask_guest(shell, 8, 8, "SHELL")
    shell.key("C-]")
    shell.wait_for("pyvirsh #", after="64SHELL")
    shell.type("domstate con1")                 # prompt_toolkit reads and echoes lines again
    shell.wait_for("running", after="domstate con1")
    shell.type("quit")
    shell.wait_for("__rc=0")
    assert cooked(shell.wait_for("icanon", after="__rc=0"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_end_the_session_and_restore_the_terminal(guest, panes, tmp_path, signum):
    pidfile = tmp_path / "pid"
    pane = panes("sh -c 'echo $$ > %s; exec %s'" % (pidfile, pyvirsh(guest, "console", "con1")))
    pane.wait_connected()
    ask_guest(pane, 3, 3, "SIG")
    os.kill(int(pidfile.read_text()), signum)
    pane.wait_for("__rc=%d" % (128 + signum))
    assert cooked(pane.wait_for("icanon", after="__rc="))


def test_errors_match_virsh_with_libvirtd(guest):
    def console(*args: str, stdin_tty: bool = True):
        return on_a_terminal(pyvirsh_argv() + ["-c", guest.uri, "console", *args], stdin_tty)

    assert console("off") == SHUT_OFF
    assert console("bare") == LIBVIRTD["no serial"]
    assert console("con1", "--devname", "nosuch") == LIBVIRTD["unknown device"]
    assert console("con1", "--devname", "serial1") == LIBVIRTD["not a pty"]
    # virsh refuses a console whose stdin is not a terminal (a pipe, /dev/null), as pyvirsh does.
    assert console("con1", stdin_tty=False) == LIBVIRTD["stdin not a terminal"]
    assert console("con1", "--safe", stdin_tty=False) == LIBVIRTD["stdin not a terminal"]


@pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")
@pytest.mark.parametrize("words", [["console", "test"], ["-e", "^a", "console", "test", "--safe", "--force"],
                                   ["-r", "console", "test"], ["destroy test; console test"],
                                   ["create", "--console", "d1.xml"], ["destroy test; start test --console"]],
                         ids=" ".join)
def test_test_driver_on_a_terminal_matches_virsh(words):
    """The test driver has no console (virDomainOpenConsole is not supported): virsh's
    greeting and error on a terminal, its refusal without one; create --console succeeds
    all the same, start --console fails."""
    args = ["-c", "test:///default", *words]
    assert on_a_terminal(pyvirsh_argv() + args) == on_a_terminal(["virsh", *args])
    theirs, ours = compare(args, stdin="\n", in_process=True)
    assert ours == theirs


def test_no_console_over_ssh():
    """A console stream cannot cross pyvirsh's remote protocol: the near end says "not
    supported" and the far end does not serve the call."""
    from pyvirsh.drivers.api import DriverError
    from pyvirsh.drivers.remote import client, protocol

    assert "open_console" not in protocol.callable_methods("domain")
    conn = client.RemoteConnection("test+ssh://host/default", False, channel=None)
    dom = client.RemoteDomain(conn, {"uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "name": "test"})
    with pytest.raises(DriverError, match="^this function is not supported by the connection driver: "
                                          "virDomainOpenConsole$"):
        dom.open_console(None, 0)


def test_completion_offers_running_domains(guest):
    from pyvirsh.shellscripts import complete_argv
    assert [value for value, _ in complete_argv(["-c", guest.uri, "console"], "")] == ["bare", "con1"]


def test_destroy_from_another_pyvirsh_ends_the_session(guest, panes):
    """Last: the guest goes. The session ends as virsh's does (status 0), the device is free."""
    pane = panes(pyvirsh(guest, "console", "con1"))
    pane.wait_connected()
    ask_guest(pane, 9, 9, "GONE")
    guest.ok("destroy", "con1")
    pane.wait_for("__rc=0")
    assert cooked(pane.wait_for("icanon", after="__rc=0"))
    assert on_a_terminal(pyvirsh_argv() + ["-c", guest.uri, "console", "con1"]) == SHUT_OFF
