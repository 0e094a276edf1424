"""Where the QEMU driver keeps its state, for each kind of URI.

    qemu:///system          /etc/pyvirsh/qemu, /var/lib/pyvirsh/qemu, /run/pyvirsh/qemu,
                            /var/log/pyvirsh/qemu
    qemu:///session         $XDG_CONFIG_HOME, $XDG_STATE_HOME and $XDG_RUNTIME_DIR (each /pyvirsh/qemu)
    qemu:///embed?root=DIR  DIR/config, DIR/state, DIR/run, DIR/log

config holds the persistent definitions (NAME.xml); state holds snapshot
metadata and caches; run holds each running domain's status XML, QMP socket,
event monitors, pidfile and lock, and the connection's event log; log holds
QEMU's stderr per domain. Directories are 0700. Every state file's path comes
from a method below.
"""

from __future__ import annotations

import os

from ..api import DriverError, ErrorCode
from ..fsutil import ensure_dir

# How a domain's files in the config and run directories are named (NAME + suffix); the
# listing below recognises them by these, the path methods build them from them.
CONFIG_SUFFIX = ".xml"
STATUS_SUFFIX = ".status.xml"
SHUTOFF_SUFFIX = ".shutoff"
SPAWN_INTENT_SUFFIX = ".spawning"
START_PLAN_SUFFIX = ".startplan"


class DriverPaths:
    def __init__(self, mode: str, root: str | None):
        self.mode = mode        # system, session or embed
        if mode == "embed":
            if root is None:
                raise DriverError(ErrorCode.INVALID_ARG, "qemu:///embed needs a root directory (?root=DIR)")
            root = os.path.abspath(root)
            self.config = os.path.join(root, "config")
            self.state = os.path.join(root, "state")
            self.run = os.path.join(root, "run")
            self.log = os.path.join(root, "log")
        elif mode == "system":
            self.config = "/etc/pyvirsh/qemu"
            self.state = "/var/lib/pyvirsh/qemu"
            self.run = "/run/pyvirsh/qemu"
            self.log = "/var/log/pyvirsh/qemu"
        else:
            home = os.path.expanduser("~")
            xdg_config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
            xdg_state = os.environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
            xdg_runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(xdg_state, "pyvirsh", "run")
            self.config = os.path.join(xdg_config, "pyvirsh", "qemu")
            self.state = os.path.join(xdg_state, "pyvirsh", "qemu")
            self.run = os.path.join(xdg_runtime, "pyvirsh", "qemu")
            self.log = os.path.join(xdg_state, "pyvirsh", "qemu", "log")

    def create(self) -> None:
        try:
            for d in (self.config, self.state, self.run, self.log, self.snapshot_dir, self.locks):
                ensure_dir(d)
        except OSError as err:
            raise DriverError(ErrorCode.SYSTEM_ERROR, "cannot create the QEMU driver's state directories: %s"
                              % err) from None

    @property
    def snapshot_dir(self) -> str:
        return os.path.join(self.state, "snapshots")

    @property
    def locks(self) -> str:
        return os.path.join(self.run, "locks")

    def config_file(self, name: str) -> str:
        return os.path.join(self.config, name + CONFIG_SUFFIX)

    def snapshot_file(self, name: str) -> str:
        return os.path.join(self.snapshot_dir, name + ".xml")

    def lock_file(self, name: str) -> str:
        return os.path.join(self.locks, name + ".lock")

    def console_lock_file(self, name: str, device: str) -> str:
        """Held (flock, with the holder's pid) by the console session on a domain's device.
        A leading dot, as no domain name has: never a domain's own lock file."""
        return os.path.join(self.locks, ".console-%s.%s.lock" % (device, name))

    def run_dir(self, name: str) -> str:
        return os.path.join(self.run, name)

    def status_file(self, name: str) -> str:
        return os.path.join(self.run, name + STATUS_SUFFIX)

    def monitor_socket(self, name: str) -> str:
        return os.path.join(self.run_dir(name), "qmp.sock")

    def listener_socket(self, name: str, slot: int) -> str:
        """QEMU's extra QMP monitors, kept for event listeners (see events.py): commands use
        qmp.sock, so a listener holding one of these never blocks them."""
        return os.path.join(self.run_dir(name), "events%d.sock" % slot)

    def listener_lock_file(self, name: str, slot: int) -> str:
        """Held (flock) by the listener using that monitor: QEMU serves one client per monitor."""
        return os.path.join(self.locks, ".events-%d.%s.lock" % (slot, name))

    @property
    def event_log(self) -> str:
        """The connection's event log: lifecycle events of pyvirsh's own state changes, one
        JSON line each, appended by the commands and followed by listeners (see events.py)."""
        return os.path.join(self.run, "events.jsonl")

    def pidfile(self, name: str) -> str:
        return os.path.join(self.run_dir(name), "qemu.pid")

    def shutoff_file(self, name: str) -> str:
        """Why a shut-off domain last stopped (a Reason number)."""
        return os.path.join(self.run, name + SHUTOFF_SUFFIX)

    def offline_jobs_file(self, name: str) -> str:
        """qemu-img jobs of a shut-off domain (see offline.py)."""
        return os.path.join(self.state, "offline-jobs-%s.json" % name)

    def spawn_intent_file(self, name: str) -> str:
        """Exists while a start spawns QEMU and has not yet recorded it in the status."""
        return os.path.join(self.run, name + SPAWN_INTENT_SUFFIX)

    def start_plan_file(self, name: str) -> str:
        """The command line of the domain's last start, spawned first by the next (startplan.py)."""
        return os.path.join(self.run, name + START_PLAN_SUFFIX)

    @property
    def save_dir(self) -> str:
        """Managed save images (NAME.save), in libvirt's save-image format."""
        return os.path.join(self.state, "save")

    def managed_save_file(self, name: str) -> str:
        return os.path.join(self.save_dir, name + ".save")

    @property
    def autostart_dir(self) -> str:
        """One empty file per domain marked for autostart (libvirt keeps symlinks there)."""
        return os.path.join(self.config, "autostart")

    def autostart_file(self, name: str) -> str:
        return os.path.join(self.autostart_dir, name)

    @property
    def dump_dir(self) -> str:
        """Guest memory dumps of <on_crash>coredump-*</on_crash> (libvirt's auto dump path)."""
        return os.path.join(self.state, "dump")

    def log_file(self, name: str) -> str:
        return os.path.join(self.log, name + ".log")

    def id_counter(self) -> str:
        return os.path.join(self.run, "next-id")

    def capabilities_cache(self) -> str:
        return os.path.join(self.state, "capabilities.json")


class DomainFilesSeen:
    """Which of one domain's files a DirListing found: a listing's domains are looked at
    without an open or a stat for each file they do not have (most shut-off domains have
    no status, no spawn intent, no shut-off reason)."""

    __slots__ = ("config", "status", "shutoff", "spawn_intent")

    def __init__(self, config: bool, status: bool, shutoff: bool, spawn_intent: bool):
        self.config, self.status, self.shutoff, self.spawn_intent = config, status, shutoff, spawn_intent


class DirListing:
    """The config and run directories, each read once (what a listing of the domains needs):
    which domains there are and which of their files exist at that moment."""

    def __init__(self, paths: DriverPaths):
        self.config = frozenset(_listdir(paths.config))
        self.run = frozenset(_listdir(paths.run))

    def domain_names(self, spawn_intents: bool = True) -> list[str]:
        """Every domain with a definition or a status, sorted; with spawn_intents, also a
        transient domain whose start was killed (only its spawn intent is left)."""
        names = set()
        for entry in self.config:
            if entry.endswith(CONFIG_SUFFIX) and not entry.startswith("."):
                names.add(entry[:-len(CONFIG_SUFFIX)])
        for entry in self.run:
            if entry.endswith(STATUS_SUFFIX) and not entry.startswith("."):
                names.add(entry[:-len(STATUS_SUFFIX)])
            elif spawn_intents and entry.endswith(SPAWN_INTENT_SUFFIX) and not entry.startswith("."):
                names.add(entry[:-len(SPAWN_INTENT_SUFFIX)])
        return sorted(names)

    def running_names(self) -> set[str]:
        """The domains with a status file (their QEMU may have died since)."""
        return {e[:-len(STATUS_SUFFIX)] for e in self.run if e.endswith(STATUS_SUFFIX) and not e.startswith(".")}

    def files_of(self, name: str) -> DomainFilesSeen:
        run = self.run
        return DomainFilesSeen(name + CONFIG_SUFFIX in self.config, name + STATUS_SUFFIX in run,
                               name + SHUTOFF_SUFFIX in run, name + SPAWN_INTENT_SUFFIX in run)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
