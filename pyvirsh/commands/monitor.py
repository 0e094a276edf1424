"""Domain Monitoring: list, dominfo, domstate, domblklist, domblkinfo."""

from __future__ import annotations

from ..declare import command, flag, flag_table, string
from ..errors import CommandError
from ..output import STATE_STYLES, format_kv, format_table, pretty_size, state_styler
from .common import domain_disks, domain_option, exclusive, lookup_domain

# ---------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------

_LIST_FLAGS = [
    ("inactive", "list inactive domains"),
    ("all", "list inactive & active domains"),
    ("transient", "list transient domains"),
    ("persistent", "list persistent domains"),
    ("with-snapshot", "list domains with existing snapshot"),
    ("without-snapshot", "list domains without a snapshot"),
    ("with-checkpoint", "list domains with existing checkpoint"),
    ("without-checkpoint", "list domains without a checkpoint"),
    ("state-running", "list domains in running state"),
    ("state-paused", "list domains in paused state"),
    ("state-shutoff", "list domains in shutoff state"),
    ("state-other", "list domains in other states"),
    ("autostart", "list domains with autostart enabled"),
    ("no-autostart", "list domains with autostart disabled"),
    ("with-managed-save", "list domains with managed save state"),
    ("without-managed-save", "list domains without managed save"),
    ("uuid", "list uuid's only"),
    ("name", "list domain names only"),
    ("id", "list domain IDs only"),
    ("table", "list table (default)"),
    ("managed-save", "mark inactive domains with managed save state"),
    ("title", "show domain title"),
]


def _pair(include_a: bool, include_b: bool, test_a) -> callable:
    """A two-sided filter (e.g. persistent/transient): neither or both means no filtering."""
    if include_a == include_b:
        return lambda dom: True
    return (lambda dom: test_a(dom)) if include_a else (lambda dom: not test_a(dom))


def collect_domains(ctl, opts: dict) -> list:
    """The domains `list` shows, filtered and sorted as virsh does."""
    from ..drivers.api import DomainState

    active = not (opts["inactive"] or opts["state_shutoff"])
    inactive = opts["inactive"] or opts["state_shutoff"]
    if opts["all"]:
        active = inactive = True
    filters = [
        _pair(active, inactive, lambda d: d.get_id() != -1),
        _pair(opts["persistent"], opts["transient"], lambda d: d.is_persistent()),
        _pair(opts["with_managed_save"], opts["without_managed_save"], lambda d: d.has_managed_save()),
        _pair(opts["autostart"], opts["no_autostart"], lambda d: d.get_autostart()),
        _pair(opts["with_snapshot"], opts["without_snapshot"], _has_snapshots),
        _pair(opts["with_checkpoint"], opts["without_checkpoint"], lambda d: False),
    ]
    states = []
    if opts["state_running"]:
        states.append(lambda s: s == DomainState.RUNNING)
    if opts["state_paused"]:
        states.append(lambda s: s == DomainState.PAUSED)
    if opts["state_shutoff"]:
        states.append(lambda s: s == DomainState.SHUTOFF)
    if opts["state_other"]:
        states.append(lambda s: s not in (DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTOFF))
    if states:
        filters.append(lambda d: any(f(d.get_state()[0]) for f in states))

    domains = [d for d in ctl.conn.list_all_domains() if all(f(d) for f in filters)]
    running = sorted((d for d in domains if d.get_id() != -1), key=lambda d: d.get_id())
    stopped = sorted((d for d in domains if d.get_id() == -1), key=lambda d: d.name.lower())
    return running + stopped


def _has_snapshots(dom) -> bool:
    return bool(dom.list_all_snapshots())


@command("list", "Returns list of domains.")
@flag_table(_LIST_FLAGS)
def list_domains(ctl, **opts):
    exclusive("table", opts["table"], "name", opts["name"])
    exclusive("table", opts["table"], "id", opts["id"])
    want_uuid, want_name, want_id, want_title = opts["uuid"], opts["name"], opts["id"], opts["title"]
    table = opts["table"] or not (want_uuid or want_name or want_id)
    domains = collect_domains(ctl, opts)

    if ctl.out.json:
        from ..drivers.api import state_label
        ctl.out.emit_json({"domains": [
            {"id": d.get_id() if d.get_id() != -1 else None, "name": d.name, "uuid": d.uuid,
             "state": state_label(d.get_state()[0]), "persistent": d.is_persistent(),
             "autostart": d.get_autostart(), "title": _title(d)} for d in domains]})
        return True

    if not table:
        lines = []
        for dom in domains:
            domid = dom.get_id()
            fields = []
            if want_uuid:
                fields.append(dom.uuid)
            if want_id:
                if domid == -1 and not want_uuid and not want_name:
                    continue
                fields.append(str(domid) if domid != -1 else "-")
            if want_name:
                fields.append(dom.name)
            lines.append(" ".join(fields) + "\n")
        ctl.print("".join(lines))
        return True

    from ..drivers.api import DomainState, state_label

    header = ["Id", "Name", "State"]
    if want_title:
        header.append("Title")
    if want_uuid:
        header.append("UUID")
    rows = []
    for dom in domains:
        domid = dom.get_id()
        state, _reason = dom.get_state()
        label = state_label(state)
        if opts["managed_save"] and state == DomainState.SHUTOFF and dom.has_managed_save():
            label = "saved"
        row = [str(domid) if domid != -1 else "-", dom.name, label]
        if want_title:
            row.append(_title(dom))
        if want_uuid:
            row.append(dom.uuid)
        rows.append(row)
    ctl.print(format_table(header, rows, ctl.quiet, state_styler(ctl.out, 2)))
    return True


# ---------------------------------------------------------------------------
# dominfo, domstate
# ---------------------------------------------------------------------------

@command("dominfo", "Returns basic information about the domain.")
@domain_option()
def dominfo(ctl, domain):
    from ..drivers.api import state_label

    dom = lookup_domain(ctl, domain)
    domid = dom.get_id()
    info = dom.get_info()
    # One record (the --json document), asked of the driver once and printed either way.
    record = {
        "id": domid if domid != -1 else None, "name": dom.name, "uuid": dom.uuid,
        "os_type": dom.get_os_type(), "state": state_label(info.state), "vcpus": info.nr_virt_cpu,
        "cpu_time_seconds": info.cpu_time_ns / 1e9, "max_memory_kib": info.max_mem_kib,
        "used_memory_kib": info.memory_kib, "persistent": dom.is_persistent(),
        "autostart": dom.get_autostart(), "managed_save": dom.has_managed_save()}
    security_model = _security_model(ctl.conn)
    label = dom.get_security_label() if security_model.model else None
    record["messages"] = _messages(dom)
    if ctl.out.json:
        ctl.out.emit_json(record)
        return True
    pairs = [
        ("Id:", str(domid) if domid != -1 else "-"),
        ("Name:", record["name"]),
        ("UUID:", record["uuid"]),
        ("OS Type:", record["os_type"]),
        ("State:", record["state"]),
        ("CPU(s):", str(info.nr_virt_cpu)),
    ]
    if info.cpu_time_ns:
        pairs.append(("CPU time:", "%.1lfs" % record["cpu_time_seconds"]))
    pairs += [
        ("Max memory:", "%d KiB" % info.max_mem_kib),
        ("Used memory:", "%d KiB" % info.memory_kib),
        ("Persistent:", "yes" if record["persistent"] else "no"),
        ("Autostart:", "enable" if record["autostart"] else "disable"),
        ("Managed save:", "yes" if record["managed_save"] else "no"),
    ]
    if security_model.model:
        pairs.append(("Security model:", security_model.model))
        pairs.append(("Security DOI:", security_model.doi))
        if label is not None and label.label:
            pairs.append(("Security label:", "%s (%s)" % (label.label,
                                                        "enforcing" if label.enforcing else "permissive")))
    for i, message in enumerate(record["messages"]):
        pairs.append(("Messages:" if i == 0 else "", message))
    ctl.print(format_kv(pairs))
    return True


def _security_model(conn):
    """virNodeGetSecurityModel; a driver without one shows no security lines (virsh's dominfo)."""
    from ..drivers.api import DriverError, ErrorCode, SecurityModel

    try:
        return conn.get_security_model()
    except DriverError as err:
        if err.code is not ErrorCode.NO_SUPPORT:
            raise
        return SecurityModel("", "")


def _messages(dom) -> list[str]:
    """virDomainGetMessages; virsh's dominfo shows none when the call fails."""
    from ..drivers.api import DriverError

    try:
        return dom.get_messages()
    except DriverError:
        return []


def _title(dom) -> str:
    """The domain's title; none when the driver keeps no metadata."""
    from ..drivers.api import DriverError

    try:
        return dom.get_title()
    except DriverError:
        return ""


@command("domstate", "Returns state about a domain.")
@domain_option()
@flag("reason", "also print reason for the state")
def domstate(ctl, domain, reason):
    from ..drivers.api import reason_label, state_label

    dom = lookup_domain(ctl, domain)
    state, why = dom.get_state()
    label = state_label(state)
    if ctl.out.json:
        ctl.out.emit_json({"state": label, "reason": reason_label(state, why)})
        return True
    shown = ctl.out.styled(label, STATE_STYLES.get(label))
    if reason:
        ctl.print("%s (%s)\n" % (shown, reason_label(state, why)))
    else:
        ctl.print("%s\n" % shown)
    return True


# ---------------------------------------------------------------------------
# domblklist, domblkinfo
# ---------------------------------------------------------------------------

@command("domblklist", "Get the summary of block devices for a domain.")
@domain_option()
@flag("inactive", "get inactive rather than running configuration")
@flag("details", "additionally display the type and device value")
def domblklist(ctl, domain, inactive, details):
    dom = lookup_domain(ctl, domain)
    disks = domain_disks(dom, inactive)
    if ctl.out.json:
        ctl.out.emit_json({"disks": [disk_json(disk) for disk in disks]})
        return True
    rows = []
    for disk in disks:
        if not disk.target:
            raise CommandError("unable to query block list details")
        source = disk.source if disk.source is not None else "-"
        rows.append([disk.type, disk.device, disk.target, source] if details else [disk.target, source])
    header = ["Type", "Device", "Target", "Source"] if details else ["Target", "Source"]
    ctl.print(format_table(header, rows, ctl.quiet))
    return True


def disk_json(disk) -> dict:
    """A disk for --json: type, device, target, source and the cached chain (top first)."""
    return {"type": disk.type, "device": disk.device, "target": disk.target, "source": disk.source,
            "chain": [layer.to_dict() for layer in disk.chain]}


def _blkinfo_cells(info, human: bool) -> list[str]:
    if info.capacity == 0 and info.allocation == 0 and info.physical == 0:
        return ["-", "-", "-"]
    values = (info.capacity, info.allocation, info.physical)
    if not human:
        return ["%d" % v for v in values]
    return ["%.3f %s" % pretty_size(v) for v in values]


@command("domblkinfo", "Get block device size info for a domain.")
@domain_option()
@string("device", "block device", completer="disks", empty_ok=True)
@flag("human", "Human readable output")
@flag("all", "display all block devices info")
def domblkinfo(ctl, domain, device, human, all):
    dom = lookup_domain(ctl, domain)
    if not all and not device:
        raise CommandError("command 'domblkinfo' requires <device> option")
    if ctl.out.json:
        targets = [d.target for d in domain_disks(dom) if d.has_source] if all else [device]
        out = []
        for target in targets:
            info = dom.get_block_info(target)
            out.append({"target": target, **info.to_dict()})
        ctl.out.emit_json({"disks": out})
        return True
    if not all:
        info = dom.get_block_info(device)
        cap, alloc, phys = _blkinfo_cells(info, human)
        ctl.print(format_kv([("Capacity:", cap), ("Allocation:", alloc), ("Physical:", phys)]))
        return True
    rows = []
    for disk in domain_disks(dom):
        if not disk.has_source:
            rows.append([disk.target, "-", "-", "-"])
            continue
        info = dom.get_block_info(disk.target)
        rows.append([disk.target] + _blkinfo_cells(info, human))
    ctl.print(format_table(["Target", "Capacity", "Allocation", "Physical"], rows, ctl.quiet))
    return True

