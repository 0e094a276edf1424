"""DRIVER+ssh://[user@]host[:port]/PATH[?params]: the ssh command line and the far end's URI.

The parameters are libvirt's for its ssh transport, as OpenSSH's options:

    command=SSH      the ssh binary (default: ssh on PATH)
    keyfile=FILE     -i FILE
    no_verify=1      -o StrictHostKeyChecking=no
    no_tty=1         -o BatchMode=yes (never prompt: fail instead)
    sshauth=LIST     -o PreferredAuthentications=... (agent/privkey -> publickey, password,
                     keyboard-interactive)
    name=URI         the far end's URI as it is (default: DRIVER:///PATH with the other params)
    pyvirsh=PATH     the far host's pyvirsh (default: pyvirsh on the login's PATH)

The ssh argv is libvirt's (-p, -l, -i, -T -e none, ...), followed by the
connection-sharing options of controlpath.py. The far command is one argv,
quoted for the far login shell, which is how ssh carries a command.
"""

from __future__ import annotations

import shlex

from ..api import DriverError, ErrorCode

TRANSPORT_PARAMS = ("command", "keyfile", "no_verify", "no_tty", "sshauth", "name", "pyvirsh",
                    "known_hosts", "known_hosts_verify", "netcat", "socket", "mode", "proxy")
OTHER_TRANSPORTS = ("tls", "unix", "ext", "tcp", "libssh2", "libssh")
_AUTH_METHODS = {"agent": "publickey", "privkey": "publickey", "password": "password",
                 "keyboard-interactive": "keyboard-interactive"}


class RemoteURI:
    def __init__(self, uri, driver, user, host, port, path, params):
        self.uri = uri
        self.driver = driver
        self.user = user
        self.host = host
        self.port = port
        self.path = path
        self.params = params

    @classmethod
    def parse(cls, uri: str, scheme: str, authority: str, path: str, params: dict) -> RemoteURI:
        """From drivers.split_uri's parts of a URI whose scheme holds a '+'."""
        driver, _, transport = scheme.partition("+")
        if transport != "ssh":
            if transport in OTHER_TRANSPORTS:
                raise DriverError(ErrorCode.CONFIG_UNSUPPORTED,
                                  "transport '%s' needs libvirt's daemon; pyvirsh reaches remote hosts "
                                  "through ssh only (%s+ssh://)" % (transport, driver))
            raise DriverError(ErrorCode.INVALID_ARG, "remote_open: transport in URL not recognised "
                              "(should be tls|unix|ssh|ext|tcp|libssh2|libssh)")
        user, at, hostport = authority.rpartition("@")
        if "@" in user or (at and not user):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Unable to parse URI %s" % uri)
        host, port = hostport, None
        if hostport.startswith("["):            # [IPv6]:port
            host, bracket, tail = hostport[1:].partition("]")
            if not bracket or (tail and not tail.startswith(":")):
                raise DriverError(ErrorCode.INTERNAL_ERROR, "Unable to parse URI %s" % uri)
            port = tail[1:] or None
        elif ":" in hostport:
            host, _, port = hostport.partition(":")
        if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Unable to parse URI %s" % uri)
        if not driver or host.startswith("-") or (user or "").startswith("-"):
            raise DriverError(ErrorCode.INTERNAL_ERROR, "Unable to parse URI %s" % uri)
        return cls(uri, driver, user or None, host or "localhost", port, path, params)

    def far_uri(self) -> str:
        """The URI the far end opens: the driver's local URI, with the non-transport params."""
        if "name" in self.params:
            return self.params["name"]
        rest = [(k, v) for k, v in self.params.items() if k not in TRANSPORT_PARAMS]
        query = ""
        if rest:
            from urllib.parse import quote      # only remote URIs with params pay for it
            query = "?" + "&".join("%s=%s" % (quote(k, safe=""), quote(v, safe="/:,")) for k, v in rest)
        return "%s://%s%s" % (self.driver, "", self.path or "/") + query

    def far_command(self, mode: str = "--driver-stdio") -> str:
        argv = [self.params.get("pyvirsh") or "pyvirsh", mode, self.far_uri()]
        return " ".join(shlex.quote(a) for a in argv)

    def ssh_argv(self, control: list[str] | None = None, mode: str = "--driver-stdio") -> list[str]:
        """ssh running the far pyvirsh in mode (--driver-stdio, or --driver-serve)."""
        return self.ssh_options(control) + ["--", self.host, self.far_command(mode)]

    def control_argv(self, control: list[str], operation: list[str]) -> list[str]:
        """ssh asking the shared connection's master for an operation (-O forward -L ...)."""
        return self.ssh_options(control) + operation + ["--", self.host]

    def ssh_options(self, control: list[str] | None = None) -> list[str]:
        p = self.params
        argv = [p.get("command") or "ssh"]
        if self.port:
            argv += ["-p", self.port]
        if self.user:
            argv += ["-l", self.user]
        if p.get("keyfile"):
            argv += ["-i", p["keyfile"]]
        argv += ["-T", "-e", "none"]
        if _flag(p.get("no_tty")):
            argv += ["-o", "BatchMode=yes"]
        if _flag(p.get("no_verify")):
            argv += ["-o", "StrictHostKeyChecking=no"]
        if p.get("sshauth"):
            methods = []
            for word in p["sshauth"].split(","):
                method = _AUTH_METHODS.get(word)
                if method is None:
                    raise DriverError(ErrorCode.INVALID_ARG, "Invalid authentication method: '%s'" % word)
                if method not in methods:
                    methods.append(method)
            argv += ["-o", "PreferredAuthentications=" + ",".join(methods)]
        return argv + (control or [])


def _flag(value) -> bool:
    """libvirt reads these parameters as integers: set when non-zero."""
    return value is not None and value.strip() not in ("", "0")
