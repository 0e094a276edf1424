"""Colour on a terminal only: on in tmux, off with NO_COLOR, --no-color, and on a pipe."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from difftool import pyvirsh_argv

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (CI installs it)")

GREEN = "\x1b[32m"


def in_tmux(command: str, env_extra: dict | None = None) -> str:
    """Run a shell command in a fresh tmux pane (a real terminal); return the screen with escapes."""
    session = "pyvirsh-term-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000)
    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8")
    env.pop("NO_COLOR", None)
    env.update(env_extra or {})
    marker = "__done__"
    # A tmux server of its own (-L), killed at the end: on the shared default server, a
    # new-session that races the previous test's last kill-session finds the server exiting
    # ("server exited unexpectedly", seen in CI).
    tmux = ["tmux", "-L", session]
    subprocess.run(tmux + ["new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                           "sh", "-c", "%s; echo %s; sleep 30" % (command, marker)], env=env, check=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = subprocess.run(tmux + ["capture-pane", "-p", "-e", "-t", session], capture_output=True,
                                    text=True).stdout
            if marker in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError("command did not finish:\n" + screen)
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


def pv() -> str:
    return " ".join(pyvirsh_argv())


def test_colour_on_a_terminal():
    screen = in_tmux("%s -c test:///default 'list; domstate test'" % pv())
    assert GREEN in screen and "running" in screen
    errors = in_tmux("%s -c test:///default 'dominfo nosuch'" % pv())
    assert "\x1b[31merror:" in errors.replace("\x1b[1m", "").replace("\x1b[1;31m", "\x1b[31m")


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color", "pipe"])
def test_no_colour(how):
    env = {"NO_COLOR": "1"} if how == "NO_COLOR" else {}
    option = "--no-color " if how == "--no-color" else ""
    pipe = " 2>&1 | cat" if how == "pipe" else ""
    screen = in_tmux("%s %s-c test:///default 'list; domstate test; dominfo nosuch'%s" % (pv(), option, pipe), env)
    assert "running" in screen and "error: failed to get domain" in screen
    assert "\x1b[32m" not in screen and "\x1b[31m" not in screen and "\x1b[1;31m" not in screen


def test_plain_output_is_unchanged_by_colour_support():
    """What scripts read stays virsh's bytes: no codes on a pipe, ever."""
    out = subprocess.run(pyvirsh_argv() + ["-c", "test:///default", "list"], capture_output=True,
                         env=dict(os.environ, FORCE_COLOR="1")).stdout
    assert out == b" Id   Name   State\n----------------------\n 1    test   running\n\n"
