"""`pyvirsh --hosts FILE [OPTIONS] COMMAND...`: one command line on many hosts at once.

FILE names one host a line, `[NAME] URI` (NAME defaults to the URI's host; blank
lines and '#' comments are skipped). Each host runs `pyvirsh -c URI OPTIONS
COMMAND...` in its own process, all in parallel: a fork of this one, so the hosts
pay no Python start of their own; with shared ssh connections and warm far
servers (drivers/remote/sharedserver.py) a warm host costs a few round trips. The output is
printed in the file's order once all are done: each host's stdout under a
`=== NAME ===` line, its stderr lines prefixed with `NAME: `. The exit status is
0 when every host succeeded, else 1.

With --json among the options the whole run is one JSON document keyed by host
name: {"NAME": {"uri": ..., "status": N, "output": [documents], "errors":
[documents]}}, each list holding the JSON documents that host printed (one per
command).
"""

from __future__ import annotations

import json
import os
import sys

USAGE = "usage: pyvirsh --hosts FILE [OPTIONS] COMMAND...\n"


class HostsError(Exception):
    pass


def read_hosts(path: str) -> list[tuple[str, str]]:
    """(name, uri) for each host line of the file, in order; names must be unique."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        why = getattr(err, "strerror", None) or err
        raise HostsError("cannot read hosts file '%s': %s" % (path, why)) from None
    hosts, seen = [], set()
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2:
            raise HostsError("%s:%d: expected '[NAME] URI', got '%s'" % (path, number, line.strip()))
        uri = words[-1]
        name = words[0] if len(words) == 2 else _host_of(uri)
        if name in seen:
            raise HostsError("%s:%d: host name '%s' is used twice" % (path, number, name))
        seen.add(name)
        hosts.append((name, uri))
    if not hosts:
        raise HostsError("hosts file '%s' names no host" % path)
    return hosts


def _host_of(uri: str) -> str:
    authority = uri.partition("://")[2].partition("/")[0]
    return authority.rpartition("@")[2] or uri


def _documents(text: str) -> list:
    """The JSON documents a --json run printed, one after the other; text that is not JSON stays text."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        try:
            value, at = decoder.raw_decode(text, at)
        except ValueError:
            out.append(text[at:])
            return out
        out.append(value)


def run(argv: list[str], pyvirsh) -> int:
    """argv after --hosts: FILE, then the options and command each host runs; pyvirsh is the
    entry point's main, which each host's fork runs (passed in: nothing imports the entry point)."""
    if not argv:
        sys.stderr.write(USAGE)
        return 1
    path, rest = argv[0], argv[1:]
    try:
        hosts = read_hosts(path)
    except HostsError as err:
        sys.stderr.write("error: %s\n" % err)
        return 1
    if not rest:
        sys.stderr.write(USAGE)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    runs = [(name, uri) + _fork_host(pyvirsh, ["-c", uri] + rest) for name, uri in hosts]
    outputs = _collect([fd for _n, _u, _pid, out, err in runs for fd in (out, err)])
    results = []
    for name, uri, pid, out, err in runs:
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        results.append((name, uri, status, outputs[out].decode("utf-8", "replace"),
                        outputs[err].decode("utf-8", "replace")))
    if "--json" in rest:
        document = {name: {"uri": uri, "status": status, "output": _documents(out), "errors": _documents(err)}
                    for name, uri, status, out, err in results}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        for name, _uri, _status, out, err in results:
            sys.stdout.write("=== %s ===\n%s" % (name, out))
            sys.stdout.flush()
            for line in err.splitlines():
                sys.stderr.write("%s: %s\n" % (name, line))
            sys.stderr.flush()
    return 0 if all(status == 0 for _n, _u, status, _o, _e in results) else 1


def _fork_host(pyvirsh, argv: list[str]) -> tuple[int, int, int]:
    """`pyvirsh ARGV` in a forked child, stdin at /dev/null, stdout and stderr into pipes:
    (pid, stdout's read end, stderr's read end)."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            for fd in (devnull, out_read, out_write, err_read, err_write):
                os.close(fd)
            try:
                status = pyvirsh(argv)
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)
    os.close(out_write)
    os.close(err_write)
    return pid, out_read, err_read


def _collect(fds: list[int]) -> dict[int, bytes]:
    """Everything written to each pipe until its end, read side by side (no writer blocks)."""
    import selectors
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _mask in selector.select():
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    return {fd: b"".join(parts) for fd, parts in chunks.items()}


def main(argv: list[str], pyvirsh) -> int:
    try:
        return run(argv, pyvirsh)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")     # noqa: SIM115 - the reader went away; stop quietly
        except OSError:
            pass
        return 1
