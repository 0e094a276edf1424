"""A running domain's status file: what survives between pyvirsh invocations.

    <domstatus state='1' reason='1' pid='1234' id='3' pidfile='.../qemu.pid' pending='0'>
      <monitor path='.../qmp.sock'/>
      <pidfile path='.../qemu.pid'/>
      <nextIndex>4</nextIndex>
      <capacity index='1' bytes='67108864'/>...      virtual sizes of cached layers
      <job .../>...                                   block jobs QEMU may still be running
      <release index='3'/>...                         dropped layers whose nodes QEMU must still let go
      <unlink path='...'/>...                         files to remove once those nodes are gone
      <intent op='snapshot'>...</intent>              a multi-step change under way (see intent.py)
      <detaching alias='virtio-disk1'/>...            devices unplugged whose removal QEMU has not confirmed
      <fsFrozen/>                                     a quiesced snapshot's freeze not yet thawed
      <domain type='kvm' id='3'>...</domain>          the live definition, chains cached
    </domstatus>

It is rewritten atomically after every change, under the domain's lock. Its first line
is all a liveness check, `list` and `domstate` need (StatusHead): it is read without an
XML library, whose import alone costs more than the rest of such a command.
"""

from __future__ import annotations

from ..xmlescape import escape
from .statefile import corrupt_state_file, parse_state, parse_state_text

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

    from lxml import etree

    from ..domxml import DomainDef
    from .readview import DefinitionView

_HEAD_FIELDS = ("state", "reason", "pid", "id", "pidfile", "pending")


class StatusHead:
    """The status file's first line: the running domain's state, reason, QEMU pid and
    pidfile, domain id, and whether the next command must reconcile something."""

    def __init__(self, state: int, reason: int, pid: int, domid: int, pidfile: str, pending: bool):
        self.state, self.reason = state, reason
        self.pid, self.pidfile = pid, pidfile
        self.id = domid
        self.pending = pending

    @classmethod
    def read(cls, path: str) -> StatusHead | None:
        """None if there is no status file; a file whose first line is not a head (a
        pyvirsh before the head was written) is read in full."""
        try:
            with open(path, "rb") as f:
                line = f.readline(8192).decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise corrupt_state_file(path, err.strerror or str(err)) from None
        attrs = {}
        for part in line.rstrip("\n>").split("' ")[:len(_HEAD_FIELDS)]:
            name, _, value = part.partition("='")
            attrs[name.rpartition(" ")[2]] = value.rstrip("'")
        try:
            return cls(int(attrs["state"]), int(attrs["reason"]), int(attrs["pid"]), int(attrs["id"]),
                       _unescape(attrs["pidfile"]), attrs["pending"] == "1")
        except (KeyError, ValueError):
            status = Status.load(path)
            return status.head() if status is not None else None


def _unescape(value: str) -> str:
    return (value.replace("&apos;", "'").replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


class Job:
    """A block job recorded while QEMU runs it (see blockjobs.py for its life).

    In the status file each field is an attribute of <job> (underscores as dashes): an int
    as its digits, a flag as '1' when set (absent when not), text as is; an absent field
    reads as its default."""

    # field -> its type in the file (int, bool or str); the one table the reader and writer share
    FIELDS: ClassVar[dict[str, type]] = {
        "id": str, "disk": str, "kind": str,            # kind: pull, commit, active-commit, copy
        "top": int, "base": int,                        # layer indexes (a copy's base: its target's)
        "bandwidth": int, "flags": int,
        "dest": str, "dest_format": str, "dest_type": str,
        "state": str,                                   # running, ready
        "delete": str,                                  # files to remove once committed, one a line
        "pivot_requested": bool, "abort_requested": bool,
        "error": str,
        # A job that merges images for a snapshot delete carries that intent: the
        # next command pivots it once ready and drops the snapshot when it ends.
        "pivot_on_ready": bool, "snapshot": str}

    def __init__(self, *, id: str, disk: str, kind: str, top: int | None = None, base: int | None = None,
                 bandwidth: int = 0, flags: int = 0, dest: str | None = None, dest_format: str | None = None,
                 dest_type: str | None = None, state: str | None = None, delete: str | None = None,
                 pivot_requested: bool = False, abort_requested: bool = False, error: str | None = None,
                 pivot_on_ready: bool = False, snapshot: str | None = None):
        self.id = id
        self.disk = disk
        self.kind = kind
        self.top = top
        self.base = base
        self.bandwidth = bandwidth
        self.flags = flags
        self.dest = dest
        self.dest_format = dest_format
        self.dest_type = dest_type
        self.state = state
        self.delete = delete
        self.pivot_requested = pivot_requested
        self.abort_requested = abort_requested
        self.error = error
        self.pivot_on_ready = pivot_on_ready
        self.snapshot = snapshot

    def to_element(self) -> etree._Element:
        from lxml import etree
        el = etree.Element("job")
        for name in self.FIELDS:
            value = getattr(self, name)
            if value is None or value is False:
                continue
            el.set(name.replace("_", "-"), "1" if value is True else str(value))
        return el

    @classmethod
    def from_element(cls, el: etree._Element, path: str) -> Job:
        values: dict = {}
        for name, kind in cls.FIELDS.items():
            text = el.get(name.replace("_", "-"))
            if text is None:
                continue
            if kind is bool:
                values[name] = text == "1"
            elif kind is int:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise corrupt_state_file(path, "job field %s='%s' is not a number"
                                             % (name.replace("_", "-"), text)) from None
            else:
                values[name] = text
        for name in ("id", "disk", "kind"):
            if name not in values:
                raise corrupt_state_file(path, "a job has no %s" % name)
        return cls(**values)


class Status:
    def __init__(self, definition: DomainDef, state: int, reason: int, pid: int, domid: int,
                 monitor: str, pidfile: str, next_index: int):
        self.definition = definition
        self.state = state
        self.reason = reason
        self.pid = pid
        self.id = domid
        self.monitor = monitor
        self.pidfile = pidfile
        self.next_index = next_index
        self.capacity: dict[int, int] = {}
        self.jobs: list[Job] = []
        self.shutdown_requested = False
        self.last_job: dict[str, str] = {}     # disk -> outcome of its last finished job
        # Work a killed pyvirsh may have left half done; the next command finishes it.
        self.release: list[int] = []            # layer indexes to blockdev-del
        self.unlink: list[str] = []             # files to remove after the release
        self.intent: etree._Element | None = None      # a multi-step change under way
        self.detaching: list[str] = []          # aliases of devices asked to go (hotplug.py)
        self.fs_frozen = False                  # a quiesced snapshot froze the guest: thaw it

    def pending(self) -> bool:
        """Is there anything the next command must reconcile before acting?"""
        return bool(self.jobs or self.release or self.unlink or self.intent is not None or self.detaching
                    or self.fs_frozen)

    def head(self) -> StatusHead:
        return StatusHead(self.state, self.reason, self.pid, self.id, self.pidfile, self.pending())

    def job_for(self, disk: str) -> Job | None:
        for job in self.jobs:
            if job.disk == disk:
                return job
        return None

    def to_xml(self) -> str:
        from lxml import etree
        head = (self.state, self.reason, self.pid, self.id, escape(self.pidfile), int(self.pending()))
        attrs = " ".join("%s='%s'" % pair for pair in zip(_HEAD_FIELDS, head, strict=True))
        lines = ["<domstatus %s>\n" % attrs,
                 "  <monitor path='%s'/>\n" % escape(self.monitor),
                 "  <pidfile path='%s'/>\n" % escape(self.pidfile),
                 "  <nextIndex>%d</nextIndex>\n" % self.next_index]
        if self.shutdown_requested:
            lines.append("  <shutdownRequested/>\n")
        if self.fs_frozen:
            lines.append("  <fsFrozen/>\n")
        for index in sorted(self.capacity):
            lines.append("  <capacity index='%d' bytes='%d'/>\n" % (index, self.capacity[index]))
        for job in self.jobs:
            lines.append("  " + etree.tostring(job.to_element(), encoding="unicode") + "\n")
        for disk, outcome in sorted(self.last_job.items()):
            lines.append("  <lastJob disk='%s' outcome='%s'/>\n" % (escape(disk), escape(outcome)))
        for index in self.release:
            lines.append("  <release index='%d'/>\n" % index)
        for path in self.unlink:
            lines.append("  <unlink path='%s'/>\n" % escape(path))
        for alias in self.detaching:
            lines.append("  <detaching alias='%s'/>\n" % escape(alias))
        if self.intent is not None:
            lines.append("  " + etree.tostring(self.intent, encoding="unicode", with_tail=False) + "\n")
        lines.append(self.definition.to_xml(self.id, 2))
        lines.append("</domstatus>\n")
        return "".join(lines)

    def save(self, path: str) -> None:
        """Write the status atomically, then its view for the read commands (readview.py),
        made from the status as Status.load reads it back."""
        from .readview import save_with_view
        save_with_view(path, self.to_xml(), lambda written: Status.from_text(written, path).view())

    def view(self) -> DefinitionView:
        """What the read commands print of the live definition (readview.py)."""
        from .readview import DefinitionView
        return DefinitionView.of(self.definition, self.id)

    @classmethod
    def load(cls, path: str) -> Status | None:
        root = parse_state(path)
        return cls._from_root(root, path) if root is not None else None

    @classmethod
    def from_text(cls, text: str, path: str) -> Status:
        """The status in text, as read from the file at path."""
        return cls._from_root(parse_state_text(text, path), path)

    @classmethod
    def _from_root(cls, root, path: str) -> Status:
        from ..domxml import DomainDef
        try:
            domain = root.find("domain")
            if domain is None:
                raise corrupt_state_file(path, "no <domain>")
            status = cls(DomainDef(domain), int(root.get("state")), int(root.get("reason")),
                         int(root.get("pid")), int(root.get("id")), root.find("monitor").get("path"),
                         root.find("pidfile").get("path"), int(root.findtext("nextIndex")))
            status.shutdown_requested = root.find("shutdownRequested") is not None
            status.fs_frozen = root.find("fsFrozen") is not None
            for el in root.iterfind("capacity"):
                status.capacity[int(el.get("index"))] = int(el.get("bytes"))
            status.jobs = [Job.from_element(el, path) for el in root.iterfind("job")]
            for el in root.iterfind("lastJob"):
                status.last_job[el.get("disk")] = el.get("outcome")
            status.release = [int(el.get("index")) for el in root.iterfind("release")]
            status.unlink = [el.get("path") for el in root.iterfind("unlink")]
            status.detaching = [el.get("alias") for el in root.iterfind("detaching")]
        except (TypeError, ValueError, AttributeError):
            # int(None), int('x'), None.get: a missing or malformed attribute or element
            raise corrupt_state_file(path, "a field is missing or malformed") from None
        status.intent = root.find("intent")
        return status
