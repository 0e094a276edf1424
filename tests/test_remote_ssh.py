"""Remote hosts over a real OpenSSH: DRIVER+ssh:// URIs against sshd instances the tests start.

Two far "hosts" (tests/sshhosts.py): two sshd on loopback, each with its own port,
host key, config, authorized key and state directories. The near end is the real
ssh client with strict host-key checking against a known_hosts file holding the
host's key; the far end is this checkout's pyvirsh (`pyvirsh=` in the URI).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from difftool import compare, pyvirsh_argv, run_virsh, run_in_process, virsh_missing_reason
from sshhosts import SshHosts, sshd_missing_reason
from test_differential import CASES

pytestmark = pytest.mark.skipif(sshd_missing_reason() is not None, reason=sshd_missing_reason() or "")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    # host0 serves through a warm far server (stream-local forwarding), host1 over --driver-stdio.
    group = SshHosts(str(tmp_path_factory.mktemp("ssh")), 2, no_forwarding=(1,)).start()
    try:
        yield group.hosts
    finally:
        group.stop()


def pyvirsh(uri: str, *args: str, timeout: int = 120, **env_extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, LANG="C", **env_extra)
    env.pop("PYVIRSH_DEFAULT_URI", None)
    return subprocess.run(pyvirsh_argv() + ["-c", uri] + list(args), capture_output=True, text=True,
                          env=env, timeout=timeout)


# --------------------------------------------------------------------------
# The local test-driver suite's differential command lines, over test+ssh://
# --------------------------------------------------------------------------

_URI_WORDS = re.compile(r"\b(uri|connect)\b")
# an `event` that listens: event listeners stay on the near end (drivers/remote/protocol.py
# LOCAL_ONLY), so over ssh it is "not supported" where the local test driver waits
_LISTENS = re.compile(r"(^|; )event [^;]*--timeout")


def _remote_cases():
    """The differential cases on test:/// URIs whose output does not print or switch the URI:
    each with the index of its -c URI."""
    out = []
    for args in CASES:
        if "-c" not in args[:-1]:
            continue
        at = args.index("-c") + 1
        if not args[at].startswith("test:///") or any(_URI_WORDS.search(a) or _LISTENS.search(a)
                                                      for a in args[at + 1:]):
            continue
        out.append((args, at))
    return out


REMOTE_CASES = _remote_cases()


def test_most_differential_cases_run_remotely():
    assert len(REMOTE_CASES) >= 200


@pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")
@pytest.mark.parametrize("number", range(len(REMOTE_CASES)),
                         ids=[" ".join(c[0])[:70] for c in REMOTE_CASES])
def test_same_as_local_virsh_over_ssh(hosts, number):
    """virsh -c test:///... on this machine and pyvirsh -c test+ssh://host/... print the same;
    the cases alternate between the two hosts. Files named on the command line (define
    d1.xml) are read here, on the near end, and sent as content."""
    args, at = REMOTE_CASES[number]
    host = hosts[number % len(hosts)]
    far = args[at]
    remote = list(args)
    remote[at] = host.uri(far)
    theirs = run_virsh(args)
    # In process the environment is made afresh (difftool): name the hosts' control directory.
    control = os.environ["PYVIRSH_SSH_CONTROL_DIR"]
    ours = run_in_process(remote, env_extra={"PYVIRSH_SSH_CONTROL_DIR": control})
    assert ours == theirs


def test_uri_and_hostname_as_virsh_prints_them_remotely(hosts):
    uri = hosts[0].uri("test:///default")
    result = pyvirsh(uri, "uri; hostname")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "%s\n\n%s\n\n" % (uri, os.uname().nodename)


def test_a_read_only_remote_connection(hosts):
    result = subprocess.run(pyvirsh_argv() + ["-r", "-c", hosts[1].uri("test:///default"), "destroy test"],
                            capture_output=True, text=True, timeout=120)
    theirs = compare(["-r", "-c", "test:///default", "destroy test"])[0]
    assert (result.stdout, result.stderr, result.returncode) == theirs


def test_the_two_hosts_keep_their_own_state(hosts, tmp_path):
    """qemu:///session lives under each far login's XDG directories (sshd's SetEnv per host)."""
    xml = tmp_path / "only.xml"
    xml.write_text("<domain type='kvm'><name>only-on-host0</name><memory>65536</memory>"
                   "<os><type arch='x86_64'>hvm</type></os></domain>")
    first, second = (h.uri("qemu:///session") for h in hosts)
    assert pyvirsh(first, "define", str(xml)).returncode == 0
    try:
        assert "only-on-host0" in pyvirsh(first, "list", "--all", "--name").stdout
        assert pyvirsh(second, "list", "--all", "--name").stdout == "\n"
        assert os.listdir(os.path.join(hosts[0].state, "config"))
    finally:
        pyvirsh(first, "undefine", "only-on-host0")


def test_an_unknown_host_key_is_refused_by_ssh(hosts, tmp_path):
    """Host keys are OpenSSH's business: a host whose key is not the known one is not reached."""
    bad = tmp_path / "known_hosts"
    other_key = Path(hosts[1].dir, "known_hosts").read_text().split(" ", 1)[1]
    bad.write_text("[127.0.0.1]:%d %s" % (hosts[0].port, other_key))
    wrapper = tmp_path / "ssh"
    config = Path(hosts[0].dir, "ssh_config").read_text().replace(hosts[0].dir + "/known_hosts", str(bad))
    (tmp_path / "ssh_config").write_text(config)
    wrapper.write_text('#!/bin/sh\nexec ssh -F %s/ssh_config "$@"\n' % tmp_path)
    wrapper.chmod(0o755)
    # A fresh connection: a warm shared one was verified when it was made and is not checked again.
    result = pyvirsh(hosts[0].uri("test:///default", command=str(wrapper)), "list",
                     PYVIRSH_SSH_CONTROL_DIR="none")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: failed to connect to the hypervisor\nerror: Cannot recv data: ")
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr or "verification failed" in result.stderr
    assert result.stderr.endswith(": Connection reset by peer\n")


def test_keyfile_no_tty_and_no_verify_reach_ssh(hosts, tmp_path):
    """libvirt's own parameters, with the real ssh and no wrapper config: the key from keyfile=,
    the host key accepted by no_verify=1, BatchMode by no_tty=1 (no prompt can hang the test)."""
    host = hosts[0]
    uri = ("test+ssh://root@127.0.0.1:%d/default?keyfile=%s&no_verify=1&no_tty=1&pyvirsh=%s"
           % (host.port, os.path.join(os.path.dirname(host.dir), "client_key"),
              host.uri("x:///").split("pyvirsh=")[1]))
    env = dict(os.environ, LANG="C", PYVIRSH_SSH_CONTROL_DIR="none")    # a connection of its own
    # A private HOME is not enough for ssh (it reads the passwd entry's home): keep the user's
    # known_hosts untouched by pointing ssh's user config at an empty one through command=.
    wrapper = tmp_path / "ssh"
    (tmp_path / "cfg").write_text("UserKnownHostsFile %s/kh\nGlobalKnownHostsFile /dev/null\n" % tmp_path)
    wrapper.write_text('#!/bin/sh\nexec ssh -F %s/cfg "$@"\n' % tmp_path)
    wrapper.chmod(0o755)
    result = subprocess.run(pyvirsh_argv() + ["-c", uri + "&command=" + str(wrapper), "list --name"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "test\n\n", "")
    assert (tmp_path / "kh").read_text().startswith("[127.0.0.1]:%d " % host.port)


def test_a_missing_far_pyvirsh_is_the_far_shells_words(hosts):
    result = pyvirsh(hosts[0].uri("test:///default", pyvirsh="/nonexistent/pyvirsh"), "list")
    assert (result.returncode, result.stdout) == (1, "")
    # The login shell's words (bash: "bash: line 1: /nonexistent/pyvirsh: No such file or directory").
    assert re.fullmatch(r"error: failed to connect to the hypervisor\n"
                        r"error: Cannot recv data: [^\n]*/nonexistent/pyvirsh: [^\n]+: "
                        r"Connection reset by peer\n",
                        result.stderr), result.stderr


def test_a_far_uri_that_cannot_open_is_the_far_drivers_error(hosts):
    result = pyvirsh(hosts[0].uri("qemu:///embed"), "list")
    local = pyvirsh("qemu:///embed", "list")
    assert (result.returncode, result.stdout, result.stderr) == (local.returncode, local.stdout, local.stderr)


def test_transports_other_than_ssh():
    result = pyvirsh("test+tcp://127.0.0.1/default", "list")
    assert result.stderr == ("error: failed to connect to the hypervisor\n"
                             "error: unsupported configuration: transport 'tcp' needs libvirt's daemon; "
                             "pyvirsh reaches remote hosts through ssh only (test+ssh://)\n")
    theirs = run_virsh(["-c", "test+foo://h/default", "list"])
    ours = run_in_process(["-c", "test+foo://h/default", "list"])
    assert ours == theirs


# --------------------------------------------------------------------------
# QEMU over qemu+ssh:// (embed?root= on the far host)
# --------------------------------------------------------------------------

@pytest.fixture
def remote_env(env, hosts):
    """The conftest's embedded QEMU driver, reached through the first host; env.local_uri is the
    same root opened directly, to compare with."""
    env.local_uri = env.uri
    env.uri = hosts[0].uri(env.uri)
    return env


def test_qemu_scenario_over_ssh(remote_env):
    from qemuhelp import (assert_cache_matches_disk, chain_from_xml, check_view, expected_view, make_chain,
                          write_patterns)

    env = remote_env
    paths = make_chain(env, ["base.qcow2", "l1.qcow2", "top.qcow2"])
    write_patterns(paths)
    env.define("vm", [("vda", paths[-1], "qcow2")])     # the XML file is read here and sent
    assert env.ok("list", "--all") == " Id   Name   State\n-----------------------\n -    vm     shut off\n\n"
    assert env.ok("start", "vm") == "Domain 'vm' started\n\n"
    assert len(env.qemu_pids()) == 1
    assert env.ok("snapshot-create-as", "vm", "s1", "--disk-only") == "Domain snapshot s1 created\n"
    overlay = os.path.join(env.images, "top.s1")
    live = env.ok("dumpxml", "vm")
    assert chain_from_xml(live)[0] == (overlay, "qcow2")
    rule = "-" * (12 + len(overlay))
    assert env.ok("domblklist", "vm") == " Target   Source\n%s\n vda      %s\n\n" % (rule, overlay)
    # The new overlay took index 4 on top of top.qcow2 [1], l1 [2], base [3].
    result = env.run("blockcommit", "vm", "vda", "--top", "vda[1]", "--base", "vda[3]", "--wait", "--verbose")
    assert (result.returncode, result.stdout) == (0, "\nCommit complete\n"), result.stderr
    assert result.stderr.startswith("\rBlock commit: [") and result.stderr.endswith("\rBlock commit: [100 %]")
    live = env.ok("dumpxml", "vm")
    assert_cache_matches_disk(live)
    assert chain_from_xml(live) == [(overlay, "qcow2"), (paths[0], "qcow2")]
    # The same root opened on the near host directly shows the same.
    local = subprocess.run(pyvirsh_argv() + ["-c", env.local_uri, "dumpxml", "vm"], capture_output=True,
                           text=True)
    assert local.stdout == live
    assert env.ok("destroy", "vm") == "Domain 'vm' destroyed\n\n"
    assert env.qemu_pids() == []
    check_view(overlay, expected_view(3))
    for command in (["domblklist", "vm"], ["dominfo", "vm"], ["snapshot-list", "vm"],
                    ["blockpull", "nope", "vda"]):
        local = subprocess.run(pyvirsh_argv() + ["-c", env.local_uri] + command, capture_output=True,
                               text=True)
        remote = env.run(*command)
        assert (remote.returncode, remote.stdout, remote.stderr) == \
            (local.returncode, local.stdout, local.stderr)


# --------------------------------------------------------------------------
# One shared ssh connection per host (ControlMaster / ControlPersist)
# --------------------------------------------------------------------------

def test_one_shot_commands_share_one_ssh_connection(hosts):
    host = hosts[1]
    uri = host.uri("test:///default")
    assert pyvirsh(uri, "list").returncode == 0          # warm (or already warm)
    logins = host.logins()
    for command in ("list", "dominfo test", "hostname"):
        assert pyvirsh(uri, command).returncode == 0
    assert host.logins() == logins                       # no new ssh login: the master carried them
    control = os.environ["PYVIRSH_SSH_CONTROL_DIR"]
    assert os.stat(control).st_mode & 0o777 == 0o700
    assert any(os.path.exists(p) for p in (os.path.join(control, n) for n in os.listdir(control)))


@pytest.fixture
def short_dir():
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix="pvc-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _refused(path, why):
    return ("error: failed to connect to the hypervisor\n"
            "error: operation forbidden: ssh control socket directory '%s' is not private: %s\n"
            % (path, why))


def test_the_control_directory_is_checked_before_use(hosts, short_dir):
    uri = hosts[0].uri("test:///default")
    made = os.path.join(short_dir, "made")
    assert pyvirsh(uri, "list", PYVIRSH_SSH_CONTROL_DIR=made).returncode == 0
    assert os.stat(made).st_mode & 0o777 == 0o700 and os.listdir(made)   # made private, then used
    subprocess.run(["ssh", "-o", "ControlPath=%s/%s" % (made, os.listdir(made)[0]), "-O", "exit", "x"],
                   capture_output=True, timeout=30)

    open_dir = os.path.join(short_dir, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o755)
    link = os.path.join(short_dir, "link")
    os.symlink(made, link)
    other = os.path.join(short_dir, "other")
    os.mkdir(other, 0o700)
    os.chown(other, 65534, 65534)
    a_file = os.path.join(short_dir, "file")
    open(a_file, "w").close()
    for path, why in ((open_dir, "its mode is 0755, not 0700"), (link, "it is not a directory"),
                      (other, "it belongs to uid 65534, not to uid %d" % os.geteuid()),
                      (a_file, "it is not a directory"),
                      ("relative", "it must be an absolute path of at most 49 bytes")):
        result = pyvirsh(uri, "list", PYVIRSH_SSH_CONTROL_DIR=path)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", _refused(path, why))
    assert os.listdir(open_dir) == [] and os.listdir(other) == []


def test_a_warm_one_shot_runs_no_ssh_and_reuses_the_far_server(hosts, tmp_path):
    """Once warm, a one-shot connects to the master's forwarding socket: no ssh is run (the
    command= wrapper logs every run), the same far server answers, and its socket is private."""
    host = hosts[0]
    log = tmp_path / "ssh.log"
    wrapper = tmp_path / "ssh"
    wrapper.write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (log, host.ssh))
    wrapper.chmod(0o755)
    uri = host.uri("test:///default", command=str(wrapper))
    assert pyvirsh(uri, "list --name").stdout == "test\n\n"
    runs = log.read_text()
    assert "--driver-serve" in runs and "-O forward" in runs     # cold: started, then forwarded
    servers = _far_servers(host, "test:///default")
    assert len(servers) >= 1
    for command, out in (("list --name", "test\n\n"), ("domstate test", "running\n\n"),
                         ("destroy test; domstate test", "Domain 'test' destroyed\n\nshut off\n\n")):
        result = pyvirsh(uri, command)
        assert (result.returncode, result.stdout, result.stderr) == (0, out, "")
    assert log.read_text() == runs                      # no ssh at all
    # No server was started (one that an earlier test started and this one's took over may
    # have ended meanwhile).
    after = set(_far_servers(host, "test:///default"))
    assert after and after <= set(servers)
    # Each connection is served afresh: the destroyed test domain is back for the next one.
    assert pyvirsh(uri, "domstate test").stdout == "running\n\n"
    far_dir = "/tmp/pyvirsh-serve-%d" % os.geteuid()
    if not os.path.isdir(far_dir):
        far_dir = os.path.join(host.state, "run", "pyvirsh-serve")
    assert os.stat(far_dir).st_mode & 0o777 == 0o700
    sockets = [os.path.join(far_dir, n) for n in os.listdir(far_dir) if n.endswith(".sock")]
    assert sockets and all(os.stat(p).st_mode & 0o777 == 0o600 for p in sockets)
    near = [n for n in os.listdir(os.environ["PYVIRSH_SSH_CONTROL_DIR"]) if n.endswith(".pv")]
    assert near


def test_a_stale_far_socket_and_a_dead_master_are_replaced(hosts):
    """A far server killed outright leaves its socket behind: the next one-shot starts a new
    server, which takes the path over. A master killed outright ends its far server, leaves
    the near forwarding socket behind, and the next one-shot makes both afresh."""
    import signal

    host = hosts[0]
    uri = host.uri("test:///default")
    assert pyvirsh(uri, "list --name").returncode == 0
    # Only this URI's servers: a server another test started for another URI may end idle
    # between the listing and the kill (seen in CI as ProcessLookupError).
    old = _far_servers(host, "test:///default")
    assert old
    for pid in old:
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid)
    result = pyvirsh(uri, "list --name")
    assert (result.returncode, result.stdout, result.stderr) == (0, "test\n\n", "")
    new = _far_servers(host, "test:///default")
    assert new and not set(new) & set(old)
    os.kill(_master(host), signal.SIGKILL)
    assert all(_gone(pid) for pid in new)
    assert any(n.endswith(".pv") for n in os.listdir(os.environ["PYVIRSH_SSH_CONTROL_DIR"]))
    result = pyvirsh(uri, "list --name")
    assert (result.returncode, result.stdout, result.stderr) == (0, "test\n\n", "")
    latest = _far_servers(host, "test:///default")
    assert latest and not set(latest) & set(new)


def test_a_host_without_forwarding_is_served_over_stdio(hosts):
    """host1's sshd forbids forwarding: the first one-shot finds out and notes it beside the
    near socket, and one-shots go over --driver-stdio while the note is fresh."""
    host = hosts[1]
    uri = host.uri("test:///default")
    assert pyvirsh(uri, "list --name").stdout == "test\n\n"
    control = os.environ["PYVIRSH_SSH_CONTROL_DIR"]
    assert any(n.endswith(".pv.refused") for n in os.listdir(control))
    assert pyvirsh(uri, "domstate test").stdout == "running\n\n"


def test_a_command_string_keeps_one_connection(hosts):
    """Without sharing, a command string of ten commands still logs in once."""
    host = hosts[0]
    logins = host.logins()
    text = "; ".join(["list", "dominfo test", "domstate test", "domid test", "domuuid test"] * 2)
    result = pyvirsh(host.uri("test:///default"), text, PYVIRSH_SSH_CONTROL_DIR="none")
    assert (result.returncode, result.stderr) == (0, "")
    assert host.logins() == logins + 1


# --------------------------------------------------------------------------
# A lost connection in the middle of blockcommit --wait
# --------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _far_servers(host, uri: str | None = None) -> list[int]:
    """The far servers (not their forked children) running for this host's logins; for one
    far URI only when uri is given (others may end idle meanwhile)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/environ" % entry, "rb") as f:
                environ = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
            with open("/proc/%s/cmdline" % parent, "rb") as f:
                parent_argv = f.read().split(b"\0")
        except OSError:
            continue
        if (b"--driver-serve" in argv and b"--driver-serve" not in parent_argv
                and ("PYVIRSH_TEST_HOST=%s" % host.name).encode() in environ
                and (uri is None or uri.encode() in argv)):
            found.append(int(entry))
    return found


def _master(host) -> int:
    """The pid of the host's shared connection (the ControlMaster), from `ssh -O check` on the
    control path ssh itself works out (-G) for the host."""
    control = os.environ["PYVIRSH_SSH_CONTROL_DIR"]
    config = subprocess.run([host.ssh, "-p", str(host.port), "-o", "ControlPath=%s/%%C" % control, "-G",
                             "127.0.0.1"], capture_output=True, text=True, timeout=30).stdout
    path = re.search(r"^controlpath (.+)$", config, re.MULTILINE).group(1)
    check = subprocess.run(["ssh", "-o", "ControlPath=" + path, "-O", "check", "x"],
                           capture_output=True, text=True, timeout=30)
    found = re.search(r"Master running \(pid=(\d+)\)", check.stderr)
    assert found, check.stderr
    return int(found.group(1))


def _gone(pid: int, seconds: float = 30) -> bool:
    import time
    deadline = time.monotonic() + seconds
    while True:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True         # reaped between two looks
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _in_its_wait(proc, seconds: float = 60) -> bytes:
    """What a `--wait --verbose` command has printed on stderr up to its first progress line,
    read as it comes. From that line on the command is inside its wait, where Ctrl-C aborts
    the job and a lost connection is a failed query. The job showing in the far QEMU (`blockjob
    --info` on the local URI) is not enough: under load the answer that the job started may
    still be on its way back over ssh, and a Ctrl-C then ends the command before it waits
    (status 130, as virsh's would)."""
    import select
    import time

    seen = b""
    deadline = time.monotonic() + seconds
    while b" %]" not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        if select.select([proc.stderr], [], [], left)[0]:
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, (proc.wait(), seen)
            seen += chunk
    return seen


@pytest.mark.parametrize("way", ["far server", "stdio"])
def test_killing_ssh_mid_blockcommit_wait_leaves_the_job_to_finish(env, hosts, way):
    """Through the warm far server (host0) the ssh that dies is the ControlMaster, which also
    ends the far server; over --driver-stdio (host1, no forwarding) it is the command's own ssh."""
    import signal
    import time

    from qemuhelp import (assert_cache_matches_disk, chain_from_xml, check_view, expected_view, make_chain,
                          write_patterns)

    host = hosts[0] if way == "far server" else hosts[1]
    env.local_uri = env.uri
    env.uri = host.uri(env.uri)
    paths = make_chain(env, ["base.qcow2", "l1.qcow2", "l2.qcow2", "top.qcow2"])
    write_patterns(paths)
    env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm")
    qemu = env.qemu_pids()
    # 1 byte/s: the job cannot end while the connection lives.
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "blockcommit", "vm", "vda", "--top", "vda[2]",
                                              "--base", "vda[4]", "--wait", "--verbose", "--bandwidth", "1",
                                              "--bytes"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    printed = _in_its_wait(proc)
    if way == "far server":
        servers = _far_servers(host)
        assert servers and _children(proc.pid) == []      # no ssh of its own: the master carries it
        os.kill(_master(host), signal.SIGKILL)
        assert all(_gone(pid) for pid in servers)         # the far server's life ends with the master's
    else:
        ssh = _children(proc.pid)
        assert ssh, "no ssh child"
        for pid in ssh:
            os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    err = printed + err
    assert (proc.returncode, out) == (1, b"\n")
    assert re.fullmatch(rb"(\rBlock commit: \[ *\d+ %\])*error: failed to query job for disk vda\n"
                        rb"error: End of file while reading data: Input/output error\n", err), err
    # QEMU and its job carry on; the next connection sees the job, speeds it up and it finishes.
    assert env.qemu_pids() == qemu
    info = env.run("blockjob", "vm", "vda", "--info")
    assert info.stderr.startswith("\rBlock Commit: ["), info.stderr
    env.ok("blockjob", "vm", "vda", "--bandwidth", "0")
    deadline = time.monotonic() + 60
    while "No current block job" not in env.ok("blockjob", "vm", "vda"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    live = env.ok("dumpxml", "vm")
    assert_cache_matches_disk(live)
    assert chain_from_xml(live) == [(paths[3], "qcow2"), (paths[0], "qcow2")]
    env.ok("destroy", "vm")
    check_view(paths[-1], expected_view(4))


# --------------------------------------------------------------------------
# --hosts FILE: one command line on many hosts
# --------------------------------------------------------------------------

def _hosts_file(tmp_path, hosts, extra=""):
    path = tmp_path / "hosts"
    path.write_text("# far hosts\n" + "".join("%s %s\n" % (h.name, h.uri("test:///default")) for h in hosts)
                    + extra)
    return str(path)


def test_hosts_runs_on_every_host_and_fails_if_one_does(hosts, tmp_path):
    path = _hosts_file(tmp_path, hosts, "down test+ssh://127.0.0.1:1/default?no_tty=1\n")
    result = subprocess.run(pyvirsh_argv() + ["--hosts", path, "destroy test; domstate test"],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYVIRSH_SSH_CONTROL_DIR="none"))
    each = "Domain 'test' destroyed\n\nshut off\n\n"
    assert result.stdout == "=== host0 ===\n%s=== host1 ===\n%s=== down ===\n" % (each, each)
    assert result.stderr == ("down: error: failed to connect to the hypervisor\n"
                             "down: error: Cannot recv data: ssh: connect to host 127.0.0.1 port 1: "
                             "Connection refused: Connection reset by peer\n")
    assert result.returncode == 1
    ok = subprocess.run(pyvirsh_argv() + ["--hosts=" + _hosts_file(tmp_path, hosts), "-q", "domstate test"],
                        capture_output=True, text=True, timeout=120)
    expected = "=== host0 ===\nrunning\n=== host1 ===\nrunning\n"      # -q: no blank line after each
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, expected, "")


def test_hosts_json_is_one_document_keyed_by_host(hosts, tmp_path):
    import json
    result = subprocess.run(pyvirsh_argv() + ["--hosts", _hosts_file(tmp_path, hosts), "--json",
                                              "domstate test; dominfo nope"],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (1, "")
    document = json.loads(result.stdout)
    assert list(document) == ["host0", "host1"]
    local = subprocess.run(pyvirsh_argv() + ["-c", "test:///default", "--json",
                                             "domstate test; dominfo nope"], capture_output=True, text=True)
    for host in hosts:
        entry = document[host.name]
        assert entry["uri"] == host.uri("test:///default") and entry["status"] == 1
        assert entry["output"] == [json.loads(local.stdout)]
        assert entry["errors"] == [json.loads(local.stderr)]


@pytest.mark.parametrize("content,words", [
    (None, "error: cannot read hosts file '{path}': No such file or directory\n"),
    ("# nothing\n\n", "error: hosts file '{path}' names no host\n"),
    ("a test:///default\na test:///default\n", "error: {path}:2: host name 'a' is used twice\n"),
    ("a b c\n", "error: {path}:1: expected '[NAME] URI', got 'a b c'\n"),
])
def test_a_bad_hosts_file(tmp_path, content, words):
    path = tmp_path / "hosts"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(pyvirsh_argv() + ["--hosts", str(path), "list"], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", words.format(path=path))


def test_the_far_command_carries_no_shell_syntax(hosts, tmp_path):
    """The one shell string ssh carries (the far argv) is quoted word by word: a URI full of shell
    syntax is a URI the far driver refuses, never a command the far shell runs."""
    marker = tmp_path / "ran"
    path = "/nonexistent/x;touch %s;$(touch %s)`touch %s`.xml" % (marker, marker, marker)
    result = pyvirsh(hosts[0].uri("test://" + path), "list")
    local = pyvirsh("test://" + path, "list")
    assert (result.returncode, result.stdout, result.stderr) == (local.returncode, local.stdout, local.stderr)
    assert result.returncode == 1 and not marker.exists()
    result = pyvirsh(hosts[0].uri("test:///default", pyvirsh="%s --version; touch %s" % (
        hosts[0].uri("x:///").split("pyvirsh=")[1], marker)), "list")
    assert result.returncode == 1 and not marker.exists()


def test_an_option_as_the_host_is_refused(tmp_path):
    result = pyvirsh("test+ssh://-oProxyCommand=touch%%20%s/default" % (tmp_path / "ran"), "list")
    assert result.stderr.startswith("error: failed to connect to the hypervisor\n"
                                    "error: internal error: Unable to parse URI test+ssh://-oProxyCommand")
    assert not (tmp_path / "ran").exists()


def test_edit_runs_the_editor_here_and_defines_there(hosts, tmp_path):
    """edit: the far end's XML is edited in a file on the near host and sent back as content."""
    editor = tmp_path / "editor"
    editor.write_text("#!/bin/sh\nsed -i 's/>2097152</>1048576</' \"$1\"\n")
    editor.chmod(0o755)
    text = "edit test; dominfo test; dumpxml test --inactive"
    remote = pyvirsh(hosts[1].uri("test:///default"), text, EDITOR=str(editor), VISUAL=str(editor))
    local = pyvirsh("test:///default", text, EDITOR=str(editor), VISUAL=str(editor))
    assert (remote.returncode, remote.stderr) == (0, "")
    assert "<currentMemory unit='KiB'>1048576</currentMemory>" in remote.stdout
    pattern = re.compile(r"CPU time:.*\n")
    assert pattern.sub("", remote.stdout) == pattern.sub("", local.stdout)


def test_ctrl_c_during_blockcommit_wait_aborts_the_job_over_the_live_connection(remote_env):
    """Ctrl-C reaches pyvirsh, not ssh (it runs with SIGINT ignored): the job is aborted on the
    far end, the connection still in step to say so, and pyvirsh ends as a local run does
    (status 1, 'Commit aborted' and no error: recorded from qemu:///embed on this driver).
    --verbose, so that its first progress line says when it is waiting."""
    import signal

    from qemuhelp import chain_from_xml, check_view, expected_view, make_chain, write_patterns

    env = remote_env
    paths = make_chain(env, ["base.qcow2", "l1.qcow2", "l2.qcow2", "top.qcow2"])
    write_patterns(paths)
    env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm")
    before = chain_from_xml(env.ok("dumpxml", "vm"))
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "blockcommit", "vm", "vda", "--top", "vda[2]",
                                              "--base", "vda[4]", "--wait", "--verbose", "--bandwidth",
                                              "4096", "--bytes"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    printed = _in_its_wait(proc)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (1, b"\nCommit aborted\n")
    assert re.fullmatch(rb"(\rBlock commit: \[ *\d+ %\])+", printed + err), printed + err
    assert "No current block job" in env.ok("blockjob", "vm", "vda")
    assert chain_from_xml(env.ok("dumpxml", "vm")) == before
    env.ok("destroy", "vm")
    check_view(paths[-1], expected_view(4))
