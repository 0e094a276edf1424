"""Domain events: event and qemu-monitor-event, with virsh 9.0's options, texts and exit
status (tools/virsh-domain-event.c, virsh-domain.c). The driver's listener gives events as
tuples of libvirt's numbers (drivers/api.py EventListener); the words are virsh's, here."""

from __future__ import annotations

from ..declare import command, flag, number, string
from ..errors import CommandError
from ..values import timeout_ms
from .common import exclusive, lookup_domain

# virsh's event names, in libvirt's VIR_DOMAIN_EVENT_ID order (9.0)
EVENT_NAMES = ("lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics", "io-error-reason",
               "control-error", "block-job", "disk-change", "tray-change", "pm-wakeup", "pm-suspend",
               "balloon-change", "pm-suspend-disk", "device-removed", "block-job-2", "tunable",
               "agent-lifecycle", "device-added", "migration-iteration", "job-completed",
               "device-removal-failed", "metadata-change", "block-threshold", "memory-failure",
               "memory-device-size-change")

_LIFECYCLE = (
    ("Defined", ("Added", "Updated", "Renamed", "Snapshot")),
    ("Undefined", ("Removed", "Renamed")),
    ("Started", ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup")),
    ("Suspended", ("Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
                   "Post-copy", "Post-copy Error")),
    ("Resumed", ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error")),
    ("Stopped", ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot")),
    ("Shutdown", ("Finished", "Finished after guest request", "Finished after host request")),
    ("PMSuspended", ("Memory", "Disk")),
    ("Crashed", ("Panicked", "Crashloaded")),
)
_JOB_TYPES = ("Unknown", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup")
_JOB_STATUS = ("completed", "failed", "canceled", "ready")
_WATCHDOG = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
_IO_ERROR = ("none", "pause", "report")


def _word(table, index: int, fallback: str = "unknown") -> str:
    return table[index] if isinstance(index, int) and 0 <= index < len(table) else fallback


def describe(event: tuple) -> str:
    """An event as virsh prints it (virshEvent*Print), its newline included."""
    dom, kind, *values = event
    if kind == "lifecycle":
        name, details = _LIFECYCLE[values[0]] if 0 <= values[0] < len(_LIFECYCLE) else ("unknown", ())
        return "event 'lifecycle' for domain '%s': %s %s\n" % (dom, name, _word(details, values[1]))
    if kind in ("block-job", "block-job-2"):
        disk, job_type, status = values
        return "event '%s' for domain '%s': %s for %s %s\n" % (kind, dom, _word(_JOB_TYPES, job_type), disk,
                                                             _word(_JOB_STATUS, status))
    if kind == "rtc-change":
        return "event 'rtc-change' for domain '%s': %d\n" % (dom, values[0])
    if kind == "balloon-change":
        return "event 'balloon-change' for domain '%s': %dKiB\n" % (dom, values[0])
    if kind in ("device-removed", "device-added", "device-removal-failed"):
        return "event '%s' for domain '%s': %s\n" % (kind, dom, values[0])
    if kind in ("io-error", "io-error-reason"):
        path, alias, action = values[:3]
        words = "%s (%s) %s" % (path, alias, _word(_IO_ERROR, action))
        if kind == "io-error-reason":
            words += " due to %s" % values[3]
        return "event '%s' for domain '%s': %s\n" % (kind, dom, words)
    if kind == "watchdog":
        return "event 'watchdog' for domain '%s': %s\n" % (dom, _word(_WATCHDOG, values[0]))
    if kind == "tray-change":
        return "event 'tray-change' for domain '%s' disk %s: %s\n" % (dom, values[0],
                                                                      _word(("opened", "closed"), values[1]))
    return "event '%s' for domain '%s'\n" % (kind, dom)       # reboot, control-error, pm-*


def _timestamp() -> str:
    """virTimeStringNowRaw: UTC, milliseconds, '+0000'."""
    import time
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + ".%03d+0000" % (int(now * 1000) % 1000)


def _loop(ctl, listener, accept, loop: bool, timeout: int | None) -> bool:
    """Print accepted events until one arrives (or with --loop until the timeout or Ctrl-C),
    then virsh's closing lines; true when any event was printed."""
    import time
    count = 0
    deadline = None if timeout is None else time.monotonic() + timeout / 1000.0
    outcome = "done"
    from ..interrupts import interruptible
    try:
        with interruptible():
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    outcome = "timeout"
                    break
                event = listener.next(remaining)
                if event is None:
                    continue
                text = accept(event)
                if text is None:
                    continue
                try:
                    ctl.print(text)
                    ctl.out.stdout.flush()
                finally:
                    count += 1      # a Ctrl-C just after the print must not leave it uncounted
                if not loop:
                    break
    except KeyboardInterrupt:
        outcome = "interrupt"
    finally:
        listener.close()
    if outcome == "interrupt":
        ctl.print("event loop interrupted\n")
    elif outcome == "timeout":
        ctl.print("event loop timed out\n")
    ctl.print("events received: %d\n" % count)
    return count > 0


@command("event", "List event types, or wait for domain events to occur")
@string("domain", "filter by domain name, id or uuid", completer="domains")
@string("event", "which event type to wait for")
@flag("all", "wait for all events instead of just one type")
@flag("loop", "loop until timeout or interrupt, rather than one-shot")
@number("timeout", "timeout seconds")
@flag("list", "list valid event types")
@flag("timestamp", "show timestamp for each printed event")
def event(ctl, domain, event, all, loop, timeout, list, timestamp):
    exclusive("all", all, "event", event is not None)
    exclusive("list", list, "all", all)
    exclusive("list", list, "event", event is not None)
    if list:
        ctl.print("".join(name + "\n" for name in EVENT_NAMES))
        return True
    if event is None and not all:
        raise CommandError("one of --list, --all, or --event <type> is required")
    if event is not None and event not in EVENT_NAMES:
        raise CommandError("unknown event type %s" % event)
    ms = timeout_ms(timeout)
    dom = lookup_domain(ctl, domain) if domain is not None else None
    listener = ctl.conn.domain_event_listener(dom)

    def accept(item):
        if event is not None and item[1] != event:
            return None
        return (_timestamp() + ": " if timestamp else "") + describe(item)
    return _loop(ctl, listener, accept, loop, ms)


@command("qemu-monitor-event", "Listen for QEMU Monitor Events")
@string("domain", "filter by domain name, id or uuid", completer="domains")
@string("event", "filter by event name")
@flag("pretty", "pretty-print any JSON output")
@flag("loop", "loop until timeout or interrupt, rather than one-shot")
@number("timeout", "timeout seconds")
@flag("regex", "treat event as a regex rather than literal filter")
@flag("no-case", "treat event case-insensitively")
@flag("timestamp", "show timestamp for each printed event")
def qemu_monitor_event(ctl, domain, event, pretty, loop, timeout, regex, no_case, timestamp):
    import json
    ms = timeout_ms(timeout)
    dom = lookup_domain(ctl, domain) if domain is not None else None
    listener = ctl.conn.qemu_monitor_event_listener(dom)
    matcher = None
    if event is not None:       # libvirt compiles the filter as it registers the listener
        if regex:
            from ..glibregex import RegexError, compile_filter
            try:
                matcher = compile_filter(event, no_case)
            except RegexError as err:
                listener.close()
                raise CommandError("invalid argument: failed to compile regex '%s': %s" % (event, err)) from None
        elif no_case:
            matcher = lambda name: name.lower() == event.lower()
        else:
            matcher = lambda name: name == event

    def accept(item):
        name, qemu_event, seconds, micros, details = item
        if matcher is not None and not matcher(qemu_event):
            return None
        if pretty and details is not None:
            details = json.dumps(json.loads(details), indent=2)
        shown = details if details is not None else "<null>"
        if timestamp:
            return "%s: event %s for domain '%s': %s\n" % (_timestamp(), qemu_event, name, shown)
        return "event %s at %d.%06d for domain '%s': %s\n" % (qemu_event, seconds, micros, name, shown)
    return _loop(ctl, listener, accept, loop, ms)
