"""The interactive shell, driven for real in a pseudo-terminal with pexpect."""

from __future__ import annotations

import os
import re
import sys

import pexpect
import pytest

from difftool import pyvirsh_argv

PROMPT = "pyvirsh #"
# The interactive shell is on a terminal, so states are coloured (running in green).
RUNNING_UNKNOWN = r"\x1b\[[0-9;]*mrunning\x1b\[0m \(unknown\)"


def expect_error(child, message: str) -> None:
    """An 'error: ...' line, its label in bold red as it is on a terminal."""
    child.expect(r"\x1b\[1;31merror:\x1b\[0m " + re.escape(message))


@pytest.fixture
def shell(tmp_path):
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", XDG_STATE_HOME=str(tmp_path / "state"),
               TERM="xterm", LANG="C.UTF-8")
    env.pop("PYVIRSH_HISTFILE", None)
    argv = pyvirsh_argv() + ["-c", "test:///default"]
    child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(30, 120), encoding="utf-8", timeout=20)
    log = []

    class Log:
        def write(self, text):
            log.append(text)

        def flush(self):
            pass

    child.logfile_read = Log()
    try:
        yield child, tmp_path
    except Exception:
        sys.stderr.write("".join(log))
        raise
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_banner_prompt_command_error_and_exit(shell):
    child, tmp = shell
    child.expect_exact("Welcome to pyvirsh, the virtualization interactive terminal.")
    child.expect_exact("'quit' to quit")
    child.expect_exact(PROMPT)
    child.sendline("domstate test --reason")
    child.expect(RUNNING_UNKNOWN)
    child.expect_exact(PROMPT)
    # An error keeps the shell alive and the connection (state) is shared.
    child.sendline("bogus")
    expect_error(child, "unknown command: 'bogus'")
    child.expect_exact(PROMPT)
    child.sendline("destroy test; domstate nosuch")
    expect_error(child, "failed to get domain 'nosuch'")
    child.expect_exact(PROMPT)
    child.sendline("domstate test")
    child.expect_exact("shut off")
    child.expect_exact(PROMPT)
    # Ctrl-D leaves with status 0 and the history is written.
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = (tmp / "state" / "pyvirsh" / "history").read_text()
    assert "+domstate test --reason" in history and "+bogus" in history


def test_tab_completes_command_and_domain(shell):
    child, _ = shell
    child.expect_exact(PROMPT)
    # 'dominf' completes to the only command starting so ...
    child.send("dominf\t")
    child.expect_exact("o")
    # ... and 'te' to the only domain; Enter then runs the completed line.
    child.send(" te\t")
    # The completed "st" (nothing on the line "dominfo te" says "st" before it).
    child.expect_exact("st")
    child.sendline("")
    child.expect(r"State:\s+running")
    child.expect_exact(PROMPT)
    child.send("domstate test --re\t")
    child.expect_exact("ason")
    child.sendline("")
    child.expect(RUNNING_UNKNOWN)
    child.expect_exact(PROMPT)
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_ctrl_c_clears_the_line(shell):
    child, _ = shell
    child.expect_exact(PROMPT)
    child.send("destroy test")
    child.sendcontrol("c")
    child.expect_exact(PROMPT)
    child.sendline("domstate test")
    # The destroy line was dropped, not run.
    child.expect_exact("running")
    child.expect_exact(PROMPT)
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_quit_in_a_command_string_stops_the_rest(shell):
    child, _ = shell
    child.expect_exact(PROMPT)
    child.sendline("echo first; quit; echo never")
    child.expect_exact("first")
    child.expect(pexpect.EOF)
    assert "\nnever" not in child.before.replace("\r", "")


def test_tab_after_a_failed_connect_does_not_reconnect(shell):
    child, _ = shell
    # 'st' written after 'te': TAB completed 'te' to 'test' (a redraw of 'domstate te' does not match).
    completed = r"te(\x1b\[[0-9;?]*[A-Za-z])*st"
    child.expect_exact(PROMPT)
    child.sendline("connect bogus:///")
    expect_error(child, "no connection driver available for bogus:///")
    child.expect_exact(PROMPT)
    # TAB offers no domain (it would have to reopen the connection) and the line stays as typed ...
    child.send("domstate te\t")
    try:
        child.expect(completed, timeout=1)
        raise AssertionError("TAB completed a domain name after a failed connect")
    except pexpect.TIMEOUT:
        pass
    # ... the next command reconnects, as in virsh, and TAB then works again.
    child.sendline("")
    expect_error(child, "failed to get domain 'te'")
    child.expect_exact(PROMPT)
    child.send("domstate te\t")
    child.expect(completed)
    child.sendline(" --reason")
    child.expect(RUNNING_UNKNOWN)
    child.expect_exact(PROMPT)
    child.sendline("quit")
    child.expect(pexpect.EOF)
