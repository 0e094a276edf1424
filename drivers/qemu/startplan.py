"""The start plan: the QEMU command line of a domain's last start, spawned at the next start
before the domain XML is parsed, and kept only if that start builds the same line.

Why: parsing the XML needs lxml, whose import alone takes ~25 ms here, and QEMU needs ~50 ms
from its exec to its monitor's greeting. With a plan, `start` spawns QEMU first and imports,
parses, probes the chains and builds the command line while QEMU starts up.

Why that is safe: QEMU starts stopped (-S) and gets `cont` only after the check. The start
builds its command line from the definition and the chains it probes now, exactly as without a
plan, and compares it with the one spawned, word for word: the same, and that QEMU is the one
this start would have spawned; different (the images' chains changed, pyvirsh or QEMU was
upgraded...), and that QEMU, which never ran the guest, is killed and the built line spawned.
The outcome is always that of a start without a plan; a plan only saves time. The chains are
still probed at every start, before the guest runs (shared/DESIGN.md); the planned QEMU opens
only the files the last start's probe admitted, with the formats it found, and the guest sees
none of them before the check.

A plan is written only for starts that need nothing made before QEMU but the monitor socket (no
tap devices, no swtpm, no graphics port to claim) and is used only while the definition file
is the one it was made from (same inode, size and mtime). It is a cache: not fsynced, and one
that cannot be read is ignored and rewritten by the next start.
"""

from __future__ import annotations

import os
from itertools import pairwise

from ..fsutil import atomic_write, remove

_MAGIC = "pyvirsh-startplan 1"


class Plan:
    """argv as spawned; monitor_word: the index of its monitor chardev word, whose fd=N is
    the listening socket's descriptor number in the spawning process."""

    def __init__(self, argv: list[str], monitor_word: int):
        self.argv = argv
        self.monitor_word = monitor_word

    @classmethod
    def of(cls, argv: list[str], monitor_fd: int) -> Plan | None:
        """The plan of argv as spawned with the monitor at monitor_fd (None: no such word)."""
        word = "fd=%d" % monitor_fd
        found = [i for i, w in enumerate(argv) if w.startswith("socket,id=charmonitor,") and word in w.split(",")]
        return cls(list(argv), found[0]) if len(found) == 1 else None

    def with_monitor_fd(self, fd: int) -> list[str]:
        argv = list(self.argv)
        argv[self.monitor_word] = _set_fd(argv[self.monitor_word], fd)
        return argv


class EarlyQemu:
    """A QEMU spawned from a plan, and the monitor socket it was given. settled: adopted
    (the start found it to be the QEMU it spawns) or stopped; either happens once."""

    def __init__(self, pid: int, listener, argv: list[str], output_from: int):
        self.pid = pid
        self.listener = listener
        self.argv = argv
        self.output_from = output_from      # where QEMU's own output begins in the domain log
        self.settled = False


def _definition_key(config_file: str) -> str | None:
    """Which definition file this is: inode, size and mtime (a define replaces it by rename)."""
    try:
        st = os.stat(config_file)
    except OSError:
        return None
    return "%d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def load(plan_file: str, config_file: str) -> Plan | None:
    """The plan made from the present definition file, or None (no plan, a stale or
    unreadable one)."""
    try:
        with open(plan_file, "rb") as f:
            data = f.read()
        magic, key, word, words = data.split(b"\n", 3)
        if magic.decode() != _MAGIC or key.decode() != _definition_key(config_file):
            return None
        argv = [w.decode("utf-8", "surrogateescape") for w in words.split(b"\0")]
        index = int(word)
        _set_fd(argv[index], 0)             # raises if that word has no single fd=N
        return Plan(argv, index)
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def record(plan_file: str, config_file: str, plan: Plan | None) -> None:
    """Keep plan as the definition file's (None: the next start has none)."""
    key = _definition_key(config_file)
    if plan is None or key is None or any("\0" in w for w in plan.argv):
        remove(plan_file)
        return
    text = "%s\n%s\n%d\n%s" % (_MAGIC, key, plan.monitor_word, "\0".join(plan.argv))
    try:
        atomic_write(plan_file, text, durable=False)
    except (OSError, UnicodeEncodeError):
        remove(plan_file)


def make_ready(argv: list[str]) -> bool:
    """Make what QEMU needs from the start's build before it runs argv: the directories its
    listening sockets bind in (devargs makes them as it builds the line). False when a file
    the line names is missing (an NVRAM the build would copy from its template, an image
    moved away...): that start goes without its plan, and the build handles it as always."""
    for option, word in pairwise(argv):
        if option in ("-kernel", "-initrd", "-bios", "-dtb"):
            if not os.path.exists(word):
                return False
        elif option == "-chardev":
            kind, opts = _options(word)
            path = opts.get("path")
            if path is None:
                continue
            if kind == "socket" and opts.get("server") == "on":
                # realpath: a long path is reached through a short link (sockpath.py), which
                # dangles while the directory it stands for is gone
                os.makedirs(os.path.realpath(os.path.dirname(path)), mode=0o700, exist_ok=True)
            elif not os.path.exists(path if kind == "socket" else os.path.dirname(path)):
                return False
        elif word.startswith("{"):
            for path in _json_filenames(word):
                if path is None or not os.path.exists(path):
                    return False
    return True


def _options(word: str) -> tuple[str, dict[str, str]]:
    """QEMU's key=value,key=value option string (a doubled comma is a comma in a value);
    its first part is the backend's kind."""
    parts = word.replace(",,", "\0").split(",")
    opts = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        opts[key] = value.replace("\0", ",")
    return parts[0].replace("\0", ","), opts


def _json_filenames(word: str) -> list[str | None]:
    """The "filename" values of a JSON device or node argument (None: one with an escape,
    which this does not decode)."""
    found: list[str | None] = []
    start = 0
    key = '"filename":"'
    while (start := word.find(key, start)) >= 0:
        start += len(key)
        end = word.find('"', start)
        value = word[start:end] if end >= 0 else ""
        found.append(None if "\\" in value or end < 0 else value)
    return found


def _set_fd(word: str, fd: int) -> str:
    parts = word.split(",")
    fds = [i for i, part in enumerate(parts) if part.startswith("fd=")]
    if len(fds) != 1:
        raise ValueError("no single fd= in %r" % word)
    parts[fds[0]] = "fd=%d" % fd
    return ",".join(parts)
