"""Far "hosts" for the remote tests: real OpenSSH sshd instances on loopback.

Each host is one `sshd -D` on 127.0.0.1 with its own port, host key,
sshd_config, authorized key (made for the test) and environment (SetEnv: its
own XDG state, config and runtime directories, so qemu:///session on one host
is not the other's). The near side reaches it with the real `ssh` through a
one-line wrapper that adds `-F` with the test's client config: the test's key,
a known_hosts file holding exactly this host's key, strict host-key checking,
no prompts. Nothing listens beyond loopback; stop() ends sshd and every
connection it accepted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SSHD = "/usr/sbin/sshd"
FAR_PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")


def sshd_missing_reason() -> str | None:
    if not os.path.exists(SSHD) or shutil.which("ssh") is None:
        return "OpenSSH (Debian openssh-server, openssh-client) is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pyvirsh-test", "-f", path],
                   check=True, capture_output=True)
    with open(path + ".pub") as f:
        return f.read().strip()


class SshHost:
    def __init__(self, name: str, directory: str, client_key: str, client_pub: str, forwarding: bool = True):
        self.name = name
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.port = _free_port()
        self.state = os.path.join(directory, "state")
        for sub in ("config", "state", "run"):
            os.makedirs(os.path.join(self.state, sub), mode=0o700, exist_ok=True)
        host_pub = _keygen(os.path.join(directory, "host_key"))
        with open(os.path.join(directory, "authorized_keys"), "w") as f:
            f.write(client_pub + "\n")
        with open(os.path.join(directory, "sshd_config"), "w") as f:
            f.write("\n".join([
                "ListenAddress 127.0.0.1:%d" % self.port,
                "HostKey %s/host_key" % directory,
                "PidFile %s/sshd.pid" % directory,
                "AuthorizedKeysFile %s/authorized_keys" % directory,
                "AuthenticationMethods publickey",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "X11Forwarding no",
                # Local (stream-local) forwarding reaches the warm far server; a host without
                # it is served over --driver-stdio.
                "AllowTcpForwarding %s" % ("local" if forwarding else "no"),
                "AllowStreamLocalForwarding %s" % ("local" if forwarding else "no"),
                "LogLevel INFO",        # one "Accepted publickey" line per connection, in sshd.log
                "SetEnv PYVIRSH_TEST_HOST=%s XDG_CONFIG_HOME=%s/config XDG_STATE_HOME=%s/state "
                "XDG_RUNTIME_DIR=%s/run" % (name, self.state, self.state, self.state),
                "",
            ]))
        with open(os.path.join(directory, "known_hosts"), "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (self.port, " ".join(host_pub.split()[:2])))
        with open(os.path.join(directory, "ssh_config"), "w") as f:
            f.write("\n".join([
                "Host *",
                "  IdentityFile %s" % client_key,
                "  IdentitiesOnly yes",
                "  UserKnownHostsFile %s/known_hosts" % directory,
                "  GlobalKnownHostsFile /dev/null",
                "  StrictHostKeyChecking yes",
                "  BatchMode yes",
                "  LogLevel ERROR",
                "",
            ]))
        self.ssh = os.path.join(directory, "ssh")
        with open(self.ssh, "w") as f:
            f.write('#!/bin/sh\nexec ssh -F %s/ssh_config "$@"\n' % directory)
        os.chmod(self.ssh, 0o755)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)    # sshd's privilege separation directory
        with open(os.path.join(self.dir, "sshd.log"), "w") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", os.path.join(self.dir, "sshd_config")],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)
        # Wait until this sshd says it listens (state, not a fixed sleep). Not a connection to
        # the port: the port was free when _free_port chose it, but another test worker's sshd
        # may have taken it since, and would answer in place of this one, which failed.
        listening = "Server listening on 127.0.0.1 port %d." % self.port
        deadline = time.monotonic() + 30
        while True:
            with open(os.path.join(self.dir, "sshd.log")) as f:
                log = f.read()
            if listening in log and self.proc.poll() is None:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start: " + log)
            time.sleep(0.02)

    def uri(self, driver_path: str, **params) -> str:
        """DRIVER+ssh://127.0.0.1:PORT/PATH with the test's ssh and the far pyvirsh."""
        params = {"command": self.ssh, "pyvirsh": FAR_PYVIRSH, **params}
        driver, _, path = driver_path.partition("://")
        path, _, query = path.partition("?")
        items = ([query] if query else []) + ["%s=%s" % kv for kv in params.items()]
        return "%s+ssh://127.0.0.1:%d%s?%s" % (driver, self.port, path, "&".join(items))

    def stop(self) -> None:
        """sshd and every session it forked (the whole process group started for it)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None


    def logins(self) -> int:
        """How many ssh connections sshd has accepted so far."""
        with open(os.path.join(self.dir, "sshd.log")) as f:
            return f.read().count("Accepted publickey")


class SshHosts:
    """N hosts sharing one client key, and a private ssh control socket directory (short: a
    socket path holds 107 bytes) that the near end uses while the hosts run."""

    def __init__(self, directory: str, count: int, no_forwarding: tuple = ()):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.control_dir = tempfile.mkdtemp(prefix="pvssh-", dir="/tmp")
        self._saved_control = os.environ.get("PYVIRSH_SSH_CONTROL_DIR")
        key = os.path.join(directory, "client_key")
        pub = _keygen(key)
        self.hosts = [SshHost("host%d" % i, os.path.join(directory, "host%d" % i), key, pub,
                              forwarding=i not in no_forwarding)
                      for i in range(count)]

    def start(self):
        os.environ["PYVIRSH_SSH_CONTROL_DIR"] = self.control_dir
        for host in self.hosts:
            host.start()
        return self

    def masters(self) -> list[str]:
        return [os.path.join(self.control_dir, n) for n in os.listdir(self.control_dir)]

    def exit_masters(self) -> None:
        """End the shared connections (ControlPersist masters) the tests left behind."""
        for socket_path in self.masters():
            subprocess.run(["ssh", "-o", "ControlPath=" + socket_path, "-O", "exit", "x"],
                           capture_output=True, timeout=30)

    def stop(self):
        self.exit_masters()
        for host in self.hosts:
            host.stop()
        if self._saved_control is None:
            os.environ.pop("PYVIRSH_SSH_CONTROL_DIR", None)
        else:
            os.environ["PYVIRSH_SSH_CONTROL_DIR"] = self._saved_control
        shutil.rmtree(self.control_dir, ignore_errors=True)
