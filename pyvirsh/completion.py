"""One completion engine for the interactive shell and for bash, zsh and fish.

Given the words of the current command before the cursor and the word being
typed, it answers with command names, the command's option names, or values
for the option the word will fill, following virsh's own binding rules (a bare
word fills the next positional option). Values come from the option's
completer: domain names (filtered by what the command accepts), disk targets
of the named domain, vda[N] chain indexes, snapshot names, local files.

Completion never raises, never prints and never talks to a hypervisor
process: domain lists come from the driver's cheap listing.
"""

from __future__ import annotations

import os

from .parsing import CommandBinding, OptType

# Which domains a command accepts, so TAB offers only those (virsh's completer filters).
_INACTIVE_ONLY = {"start", "undefine"}
_ACTIVE_ONLY = {"console", "destroy", "shutdown", "reboot", "suspend", "resume", "blockpull", "blockcommit", "blockcopy",
                "blockjob", "blockresize"}


class Request:
    """What a completer needs: the session, the command, what is bound so far."""

    def __init__(self, ctl, command: str, values: dict, incomplete: str):
        self.ctl = ctl
        self.command = command
        self.values = values
        self.incomplete = incomplete


def _conn(ctl):
    """The session's connection as completion may use it: reading state, never talking to QEMU."""
    return None if ctl is None else ctl.completion_conn()


def domain_names(request: Request) -> list[str]:
    conn = _conn(request.ctl)
    if conn is None:
        return []
    if request.command in _INACTIVE_ONLY or request.command in _ACTIVE_ONLY:
        names = conn.list_domain_names_by_state(active=request.command in _ACTIVE_ONLY)
    else:
        names = conn.list_domain_names()
    return sorted(n for n in names if n.startswith(request.incomplete))


def _domain_disks(request: Request):
    conn = _conn(request.ctl)
    name = request.values.get("domain")
    if conn is None or not name:
        return None
    from .commands.common import domain_disks
    return domain_disks(_lookup(conn, name))


def _lookup(conn, name: str):
    """A domain by name, id or uuid, on the completion connection."""
    from .values import INT_MAX, to_int
    for lookup, key in ((conn.lookup_domain_by_id, to_int(name, 0, INT_MAX)),
                        (conn.lookup_domain_by_uuid, name if len(name) == 36 else None),
                        (conn.lookup_domain_by_name, name)):
        if key is None:
            continue
        try:
            return lookup(key)
        except Exception:       # noqa: BLE001, S112 - completion stays silent
            continue
    raise LookupError(name)


def disk_targets(request: Request) -> list[str]:
    disks = _domain_disks(request)
    if disks is None:
        return []
    return [d.target for d in disks if d.target.startswith(request.incomplete)]


def chain_indexes(request: Request) -> list[str]:
    """vda, vda[1], vda[2], ... from the cached chain's index attributes."""
    disks = _domain_disks(request)
    disk_name = request.values.get("path")
    if disks is None or not disk_name:
        return []
    from .drivers.api import find_disk
    disk = find_disk(disks, disk_name)
    if disk is None:
        return []
    out = [disk.target] + ["%s[%d]" % (disk.target, layer.index) for layer in disk.chain
                           if layer.index is not None]
    return [v for v in out if v.startswith(request.incomplete)]


def snapshot_names(request: Request) -> list[str]:
    conn = _conn(request.ctl)
    name = request.values.get("domain")
    if conn is None or not name:
        return []
    dom = _lookup(conn, name)
    return sorted(s.name for s in dom.list_all_snapshots() if s.name.startswith(request.incomplete))


def pool_names(request: Request) -> list[str]:
    conn = _conn(request.ctl)
    if conn is None:
        return []
    return sorted(p.name for p in conn.list_all_storage_pools(0) if p.name.startswith(request.incomplete))


def network_names(request: Request) -> list[str]:
    conn = _conn(request.ctl)
    if conn is None:
        return []
    return sorted(n.name for n in conn.list_all_networks(0) if n.name.startswith(request.incomplete))


def local_files(request: Request) -> list[str]:
    text = request.incomplete
    directory, prefix = os.path.split(text)
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return []
    out = []
    for entry in sorted(entries):
        if entry.startswith(prefix) and (prefix.startswith(".") or not entry.startswith(".")):
            path = os.path.join(directory, entry)
            out.append(path + "/" if os.path.isdir(path) else path)
    return out


COMPLETERS = {
    "domains": domain_names,
    "disks": disk_targets,
    "chain": chain_indexes,
    "snapshots": snapshot_names,
    "files": local_files,
    "pools": pool_names,
    "networks": network_names,
}


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------

def _command_names(incomplete: str) -> list[tuple[str, str]]:
    from .commands import TABLE
    return [(name, entry[2]) for name, entry in TABLE.items() if name.startswith(incomplete)]


def _values_for(ctl, cmd, spec, values, incomplete) -> list[str]:
    completer = COMPLETERS.get(cmd.completer(spec))
    if completer is None:
        return []
    try:
        return list(completer(Request(ctl, cmd.name, values, incomplete)))
    except Exception:           # noqa: BLE001 - completion stays silent
        return []


def complete(ctl, words: list[str], incomplete: str) -> list[tuple[str, str]]:
    """Candidates (value, help) for `incomplete` after `words` of one command."""
    try:
        return _complete(ctl, words, incomplete)
    except Exception:           # noqa: BLE001 - completion stays silent
        return []


def _complete(ctl, words, incomplete):
    if not words:
        return _command_names(incomplete)
    from .tree import command
    cmd = command(words[0])
    if cmd is None:
        return []
    # The words before the cursor, bound by the binder itself, leniently: a word
    # that would be an error is skipped.
    binding = CommandBinding(cmd.name, cmd.specs, lenient=True)
    for word in words[1:]:
        binding.feed(word)
    specs, seen, values = binding.specs, binding.seen, binding.values
    if binding.pending is not None:
        return [(v, "") for v in _values_for(ctl, cmd, specs[binding.pending], values, incomplete)]
    offered = [(i, s) for i, s in enumerate(specs) if s.type is not OptType.ALIAS]
    if incomplete.startswith("-") and not binding.data_only:
        return [("--" + s.name, s.help) for i, s in offered
                if ("--" + s.name).startswith(incomplete) and (i not in seen or s.type is OptType.ARGV)]
    if binding.need:
        found = _values_for(ctl, cmd, specs[binding.need[0]], values, incomplete)
        if found or incomplete:
            return [(v, "") for v in found]
    return [("--" + s.name, s.help) for i, s in offered
            if i not in seen and ("--" + s.name).startswith(incomplete)]
