"""bash, zsh and fish completion, run in the real shells."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from difftool import pyvirsh_argv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {"bash": "pyvirsh.bash", "zsh": "_pyvirsh", "fish": "pyvirsh.fish"}
BIN = os.path.dirname(sys.executable)


def shell_env(**extra):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], LANG="C")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    env.update(extra)
    return env


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_shipped_scripts_are_what_pyvirsh_prints(shell):
    printed = subprocess.run(pyvirsh_argv() + ["completion", shell], capture_output=True, text=True,
                             check=True).stdout
    with open(os.path.join(ROOT, "completions", SCRIPTS[shell])) as f:
        assert f.read() == printed


def bash_complete(line: str, env=None) -> list[str]:
    """Complete `line` in a real bash with the shipped script, as bash itself sets COMP_*."""
    script = r"""
source "$SCRIPT"
COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}
# Split the way bash does for COMP_WORDS (COMP_WORDBREAKS includes ':' and '=').
COMP_WORDS=(); word=""
for ((i = 0; i < ${#COMP_LINE}; i++)); do
    c="${COMP_LINE:i:1}"
    if [[ "$c" == " " ]]; then [[ -n "$word" ]] && COMP_WORDS+=("$word"); word=""
    elif [[ "$COMP_WORDBREAKS" == *"$c"* ]]; then [[ -n "$word" ]] && COMP_WORDS+=("$word"); COMP_WORDS+=("$c"); word=""
    else word+="$c"; fi
done
COMP_WORDS+=("$word"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_pyvirsh_completion pyvirsh
printf '%s\n' "${COMPREPLY[@]}"
"""
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], capture_output=True, text=True,
                          env=shell_env(SCRIPT=os.path.join(ROOT, "completions", "pyvirsh.bash"), LINE=line,
                                        **(env or {})))
    assert proc.stderr == ""
    return [v for v in proc.stdout.splitlines() if v]


def fish_complete(line: str) -> list[str]:
    script = "source %s; complete -C %s" % (os.path.join(ROOT, "completions", "pyvirsh.fish"),
                                            "'" + line.replace("'", "\\'") + "'")
    proc = subprocess.run(["fish", "--no-config", "-c", script], capture_output=True, text=True, env=shell_env())
    assert proc.returncode == 0, proc.stderr
    return [v.split("\t")[0] for v in proc.stdout.splitlines() if v]


def test_bash_completes_commands_options_and_domains():
    assert bash_complete("pyvirsh -c test:///default doms") == ["domstate", "domstats"]
    assert bash_complete("pyvirsh -c test:///default domstate ") == ["test"]
    assert bash_complete("pyvirsh -c test:///default domstate test --re") == ["--reason"]
    assert bash_complete("pyvirsh --connect=test:///default domblkinfo test ") == ["vda"]
    # URIs themselves, although bash splits them at ':'.
    assert bash_complete("pyvirsh -c qemu:///emb") == ["///embed?root="]
    assert "-c" in bash_complete("pyvirsh -")


def test_fish_completes_commands_and_domains():
    assert fish_complete("pyvirsh -c test:///default doms") == ["domstate", "domstats"]
    assert fish_complete("pyvirsh -c test:///default domstate ") == ["test"]
    assert fish_complete("pyvirsh -c test:///default snapshot-c") == ["snapshot-create", "snapshot-create-as",
                                                                      "snapshot-current"]


@pytest.fixture
def qemu_domains(env, qcow2_chain):
    (img,) = qcow2_chain(["a.qcow2"])
    b = env.path("b.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", b, "16M"], check=True)
    env.define("alpha", [("vda", img, "qcow2")])
    env.define("beta", [("vda", b, "qcow2")])
    env.ok("start", "alpha", "--paused")
    return env


def test_completion_after_an_embedded_uri_filters_by_state(qemu_domains):
    env = qemu_domains
    uri = env.uri
    for complete in (bash_complete, fish_complete):
        assert complete("pyvirsh -c %s start " % uri) == ["beta"]
        assert complete("pyvirsh -c %s destroy " % uri) == ["alpha"]
        assert complete("pyvirsh -c %s dominfo " % uri) == ["alpha", "beta"]
        assert complete("pyvirsh -c %s blockcommit alpha vda --top vda" % uri) == ["vda", "vda[1]"]
    env.ok("snapshot-create-as", "alpha", "snap1", "--disk-only")
    assert bash_complete("pyvirsh -c %s snapshot-info alpha " % uri) == ["snap1"]
    env.ok("destroy", "alpha")


def test_completion_is_passive(qemu_domains):
    """TAB reads state only: even a domain whose QEMU died is left for a real command to clean up."""
    env = qemu_domains
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid in env.qemu_pids():       # gone (a zombie has no command line left to match)
        assert time.monotonic() < deadline, "QEMU %d survived SIGKILL" % pid
        time.sleep(0.01)
    status = os.path.join(env.root, "run", "alpha.status.xml")
    assert bash_complete("pyvirsh -c %s destroy " % env.uri) == ["alpha"]
    assert bash_complete("pyvirsh -c %s domblkinfo alpha " % env.uri) == ["vda"]
    assert os.path.exists(status)
    # Silent on a bad URI: no domains, no error, only what needs no connection.
    assert bash_complete("pyvirsh -c bogus:/// domstate ") == ["--domain", "--reason"]
    env.ok("list", "--all")
    assert not os.path.exists(status)


@pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("zsh") is None,
                    reason="needs tmux and zsh (CI installs both)")
def test_zsh_completes_in_an_interactive_shell(tmp_path):
    session = "pyvirsh-zsh-%d" % os.getpid()
    zdot = tmp_path / "zdot"
    zdot.mkdir()
    fpath = tmp_path / "functions"
    fpath.mkdir()
    shutil.copy(os.path.join(ROOT, "completions", "_pyvirsh"), fpath / "_pyvirsh")
    (zdot / ".zshrc").write_text("fpath=(%s $fpath)\nautoload -U compinit && compinit -u\nPS1='zsh> '\n" % fpath)
    env = shell_env(ZDOTDIR=str(zdot), TERM="xterm")
    # A tmux server of its own (-L), as tests/test_console.py's: not the user's default one,
    # which another test worker or another run on this machine may be using or ending.
    tmux = ["tmux", "-L", session]
    subprocess.run(tmux + ["new-session", "-d", "-s", session, "-x", "120", "-y", "20", "zsh"], env=env,
                   check=True)
    try:
        def screen():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        def wait_for(text, timeout=15.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if text in screen():
                    return True
                time.sleep(0.05)
            return False

        def tab_until(text):
            # zsh may swallow the first TAB after an earlier completion listed its matches;
            # a user presses it again, and so does the test (at most three times).
            for _ in range(3):
                subprocess.run(tmux + ["send-keys", "-t", session, "Tab"], check=True)
                if wait_for(text, 4.0):
                    return
            raise AssertionError("%r not on screen:\n%s" % (text, screen()))

        assert wait_for("zsh>")
        subprocess.run(tmux + ["send-keys", "-t", session, "pyvirsh -c test:///default domblkl"], check=True)
        tab_until("pyvirsh -c test:///default domblklist")
        subprocess.run(tmux + ["send-keys", "-t", session, "te"], check=True)
        tab_until("domblklist test")
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


def test_completion_binds_words_as_the_binder_does():
    """The engine binds the words before the cursor with pyvirsh.parsing's rules: aliases included."""
    from pyvirsh.completion import complete

    def names(words, incomplete):
        return [value for value, _ in complete(None, words, incomplete)]

    # blockcopy's hidden --raw is --format=raw: --format is then given, as the binder sees it ...
    assert names(["blockcopy", "dom", "vda"], "--fo") == ["--format"]
    assert names(["blockcopy", "dom", "vda", "--raw"], "--fo") == []
    assert "--format" not in names(["blockcopy", "dom", "vda", "--raw"], "")
    # ... and echo's --str is --string: the next word is its value, not a new option.
    assert "--shell" in names(["echo"], "")
    assert names(["echo", "--str"], "") == []
    # An alias is never offered itself.
    assert names(["echo"], "--s") == ["--shell", "--split", "--string"]


def test_completion_conn_is_cached_closed_and_never_reconnects():
    from pyvirsh.errors import ConnectError
    from pyvirsh.session import Session

    # A session never connected (a bash/zsh/fish TAB) connects for completion.
    ctl = Session("test:///default")
    view = ctl.completion_conn()
    assert view is not None and ctl.connected
    assert ctl.completion_conn() is view
    # A failed connect drops the connection: TAB then does not open it again behind the user's back.
    with pytest.raises(ConnectError):
        ctl.connect("bogus:///")
    assert ctl.completion_conn() is None
    assert ctl._conn is None and ctl.connected      # still reopened by the next command, not by TAB
    assert ctl.conn is not None                         # the next command reconnects ...
    assert ctl.completion_conn() not in (None, view)    # ... and TAB then reads the new connection
    ctl.close()
    assert ctl._completion is None
    # Silent when the session's URI cannot be opened.
    assert Session("bogus:///").completion_conn() is None
