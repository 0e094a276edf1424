"""qemu-monitor-command, domcontrol and domjobinfo, with virsh 9.0's options, output and
messages (tools/virsh-domain.c, virsh-domain-monitor.c); the texts were checked against
virsh + libvirt 9.0 on real QEMU (tests/data/monitor-libvirt.json)."""

from __future__ import annotations

from ..declare import argv, command, flag, string
from ..errors import CommandError
from .common import domain_option, exclusive, lookup_domain


def monitor_json(words: list[str]) -> str:
    """The QMP command text virsh sends: the words as given when they are JSON, otherwise
    a command name and key=value arguments (values read as JSON where they parse)."""
    import json
    text = " ".join(words)
    try:
        json.loads(text)
        return text
    except ValueError:
        pass
    message: dict[str, object] = {"execute": words[0]}
    arguments = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise CommandError("Malformed QEMU monitor command argument '%s'" % word)
        try:
            arguments[key] = json.loads(value)
        except ValueError:
            arguments[key] = value
    if arguments:
        message["arguments"] = arguments
    return json.dumps(message)


def _fds(text: str | None) -> list[int]:
    """--pass-fds N,M,...: virsh's virshFetchPassFdsList."""
    if text is None:
        return []
    fds = []
    for word in text.split(","):
        if not word.isdigit():
            raise CommandError("Unable to parse FD number '%s'" % word)
        fds.append(int(word))
    return fds


@command("qemu-monitor-command", "QEMU Monitor Command")
@domain_option()
@flag("hmp", "command is in human monitor protocol")
@flag("pretty", "pretty-print any qemu monitor protocol output")
@flag("return-value", "extract the value of the 'return' key from the returned string")
@string("pass-fds", "pass file descriptors N,M,... along with the command", named_only=True)
@argv("cmd", "command", required=True)
def qemu_monitor_command(ctl, domain, hmp, pretty, return_value, pass_fds, cmd):
    import json

    from ..drivers.api import QemuMonitorCommandFlags

    exclusive("hmp", hmp, "pretty", pretty)
    exclusive("hmp", hmp, "return-value", return_value)
    dom = lookup_domain(ctl, domain)
    fds = _fds(pass_fds)
    words = list(cmd)
    text = " ".join(words) if hmp else monitor_json(words)
    result = dom.qemu_monitor_command(text, QemuMonitorCommandFlags.HMP if hmp else 0, fds or None)
    if not (pretty or return_value):
        ctl.print(result + "\n")
        return True
    value = json.loads(result)
    if return_value:
        if not isinstance(value, dict) or "return" not in value:
            raise CommandError("'return' member missing")
        value = value["return"]
    ctl.print(json.dumps(value, indent=2) if pretty else json.dumps(value, separators=(",", ":")))
    return True


_CONTROL_STATES = ("ok", "background job", "occupied", "error")
_CONTROL_ERRORS = ("none", "unknown", "monitor failure", "internal (locking) error")


@command("domcontrol", "Returns state of a control interface to the domain.")
@domain_option()
def domcontrol(ctl, domain):
    from ..drivers.api import DomainControlState

    dom = lookup_domain(ctl, domain)
    state, details, ms = dom.get_control_info()
    word = _CONTROL_STATES[state] if 0 <= state < len(_CONTROL_STATES) else "unknown"
    if state not in (DomainControlState.OK, DomainControlState.ERROR):
        ctl.print("%s (%0.3fs)\n" % (word, ms / 1000.0))
    elif state == DomainControlState.ERROR and details > 0:
        ctl.print("%s: %s\n" % (word, _CONTROL_ERRORS[details] if details < len(_CONTROL_ERRORS) else "unknown"))
    else:
        ctl.print(word + "\n")
    return True


_JOB_TYPES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")


@command("domjobinfo", "Returns information about jobs running on a domain.")
@domain_option()
@flag("completed", "return statistics of a recently completed job")
@flag("keep-completed", "don't destroy statistics of a recently completed job when reading")
@flag("anystats", "print statistics for any kind of job (even failed ones)")
@flag("rawstats", "print the raw data returned by libvirt")
def domjobinfo(ctl, domain, completed, keep_completed, anystats, rawstats):
    from ..drivers.api import DriverError, ErrorCode, JobStatsFlags

    dom = lookup_domain(ctl, domain)
    flags = (JobStatsFlags.COMPLETED if completed else 0) | (JobStatsFlags.KEEP_COMPLETED if keep_completed else 0)
    try:
        stats = dom.get_job_stats(flags)
    except DriverError as err:
        if err.code is not ErrorCode.NO_SUPPORT:
            raise
        # virsh falls back on virDomainGetJobInfo, which no pyvirsh driver has either
        if flags or rawstats:
            raise CommandError("Optional flags or --rawstats are not supported by the daemon", str(err)) from None
        raise CommandError("this function is not supported by the connection driver: virDomainGetJobInfo") from None
    job_type = stats.get("type", 0)
    if rawstats:
        ctl.print("Job type: %d\n\n" % job_type)
        for key, value in stats.items():
            if key != "type":
                ctl.print("%s: %s\n" % (key, value))
        return True
    word = _JOB_TYPES[job_type] if 0 <= job_type < len(_JOB_TYPES) else "unknown"
    ctl.print("%-17s %-12s\n" % ("Job type:", word))
    return True
