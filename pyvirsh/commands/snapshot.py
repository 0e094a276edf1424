"""Snapshot: snapshot-create, snapshot-create-as, snapshot-list, snapshot-info,
snapshot-dumpxml, snapshot-current, snapshot-parent, snapshot-revert,
snapshot-delete, snapshot-edit."""

from __future__ import annotations

import time

from ..declare import argv, command, data, flag, flag_table, string
from ..errors import CommandError
from ..output import format_kv, format_table, state_styler
from .common import (domain_option, exclusive, flag_bits, lookup_domain, print_xml, read_xml_file, reporting,
                     split_commas)

# ---------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------


def snapshot_name_option(help: str, **kw):
    return string("snapshotname", help, completer="snapshots", **kw)


def lookup_snapshot(dom, snapshotname, current: bool, arg: str = "snapshotname", exclusive_current=True):
    """virsh's virshLookupSnapshot: by name, or the current one with --current."""
    if exclusive_current and current and snapshotname:
        raise CommandError("--%s and --current are mutually exclusive" % arg)
    if snapshotname:
        return dom.snapshot_lookup_by_name(snapshotname)
    if current:
        return dom.snapshot_current()
    raise CommandError("--%s or --current is required" % arg)


def parsed_snapshot(snap):
    """The snapshot's definition; the parser (and lxml) load only when a snapshot is there."""
    from ..drivers.snapshots import SnapshotDef
    return SnapshotDef.from_trusted_xml(snap.get_xml_desc())


def snapshot_parent_name(snap):
    from ..drivers.api import DriverError, ErrorCode
    try:
        return snap.get_parent().name
    except DriverError as err:
        if err.code is ErrorCode.NO_DOMAIN_SNAPSHOT:
            return None
        raise


# The flags snapshot-create and snapshot-create-as share: option, help, SnapshotCreateFlags bit.
_CREATE_FLAGS = [
    ("no-metadata", "take snapshot but create no metadata", "NO_METADATA"),
    ("halt", "halt domain after snapshot is created", "HALT"),
    ("disk-only", "capture disk state but not vm state", "DISK_ONLY"),
    ("reuse-external", "reuse any existing external files", "REUSE_EXT"),
    ("quiesce", "quiesce guest's file systems", "QUIESCE"),
    ("atomic", "require atomic operation", "ATOMIC"),
    ("live", "take a live snapshot", "LIVE"),
    ("validate", "validate the XML against the schema", "VALIDATE"),
]

_create_flag_options = flag_table((name, help_text) for name, help_text, _ in _CREATE_FLAGS)


def _create_flags(given: dict, *pairs) -> int:
    """The create flags of the shared options (given by keyword) and the command's own (given, bit) pairs."""
    from ..drivers.api import SnapshotCreateFlags as F

    shared = ((given[name.replace("-", "_")], getattr(F, bit)) for name, _, bit in _CREATE_FLAGS)
    return flag_bits(*pairs, *shared)


def redefine_flags(xml: str, flags: int) -> int:
    """Flags to redefine a snapshot from its XML: DISK_ONLY added for a disk-only one, as virsh does."""
    from ..drivers.api import SnapshotCreateFlags as F

    return (flags | F.DISK_ONLY) if "<state>disk-snapshot</state>" in xml else flags


def create_snapshot(ctl, dom, xml: str, flags: int, source_file=None) -> bool:
    """virshSnapshotCreate: create, then 'Domain snapshot NAME created[ from FILE]'."""
    snap = dom.snapshot_create_xml(xml, flags)
    if source_file:
        ctl.print_extra("Domain snapshot %s created from '%s'" % (snap.name, source_file))
    else:
        ctl.print_extra("Domain snapshot %s created" % snap.name)
    return True


# ---------------------------------------------------------------------------
# snapshot-create, snapshot-create-as
# ---------------------------------------------------------------------------

@command("snapshot-create", "Create a snapshot (disk and RAM) from XML")
@domain_option()
@string("xmlfile", "domain snapshot XML", completer="files")
@flag("redefine", "redefine metadata for existing snapshot")
@flag("current", "with redefine, set current snapshot")
@_create_flag_options
def snapshot_create(ctl, domain, xmlfile, redefine, current, **create):
    from ..drivers.api import SnapshotCreateFlags as F

    flags = _create_flags(create, (redefine, F.REDEFINE), (current, F.CURRENT))
    dom = lookup_domain(ctl, domain)
    xml = read_xml_file(xmlfile) if xmlfile else "<domainsnapshot/>"
    return create_snapshot(ctl, dom, xml, flags, xmlfile)


def memspec_xml(spec: str) -> str:
    """--memspec [file=]name[,snapshot=type] as a <memory> element."""
    from ..drivers.xmlescape import escape
    snapshot = file = None
    items = split_commas(spec)
    if not items:
        raise CommandError("unable to parse memspec: %s" % spec)
    for item in items:
        if snapshot is None and item.startswith("snapshot="):
            snapshot = item[len("snapshot="):]
        elif file is None and item.startswith("file="):
            file = item[len("file="):]
        elif file is None and item.startswith("/"):
            file = item
        else:
            raise CommandError("unable to parse memspec: %s" % spec)
    out = "<memory"
    if snapshot is not None:
        out += " snapshot='%s'" % escape(snapshot)
    if file is not None:
        out += " file='%s'" % escape(file)
    return out + "/>\n"


def diskspec_xml(spec: str, indent: str) -> str:
    """--diskspec disk[,snapshot=type][,driver=type][,stype=type][,file=name] as a <disk> element."""
    from ..drivers.xmlescape import escape
    items = split_commas(spec)
    if not items:
        raise CommandError("unable to parse diskspec: %s" % spec)
    name, fields = items[0], {}
    for item in items[1:]:
        key, eq, value = item.partition("=")
        if not eq or key not in ("snapshot", "driver", "stype", "file") or key in fields:
            raise CommandError("unable to parse diskspec: %s" % spec)
        fields[key] = value
    stype = fields.get("stype")
    if stype not in (None, "file", "block"):
        raise CommandError("Unknown storage type: '%s'" % stype, "unable to parse diskspec: %s" % spec)
    head = indent + "<disk name='%s'" % escape(name)
    if "snapshot" in fields:
        head += " snapshot='%s'" % fields["snapshot"]
    if stype is not None:
        head += " type='%s'" % stype
    if "driver" not in fields and "file" not in fields:
        return head + "/>\n"
    out = head + ">\n"
    if "driver" in fields:
        out += indent + "  <driver type='%s'/>\n" % fields["driver"]
    if "file" in fields:
        out += indent + "  <source %s='%s'/>\n" % ("dev" if stype == "block" else "file",
                                                   escape(fields["file"]))
    return out + indent + "</disk>\n"


@command("snapshot-create-as", "Create a snapshot (disk and RAM) from arguments")
@domain_option()
@string("name", "name of snapshot")
@string("description", "description of snapshot")
@flag("print-xml", "print XML document rather than create")
@_create_flag_options
@string("memspec", "memory attributes: [file=]name[,snapshot=type]", named_only=True)
@argv("diskspec", "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]")
def snapshot_create_as(ctl, domain, name, description, print_xml, memspec, diskspec, **create):
    from ..drivers.xmlescape import escape

    flags = _create_flags(create)
    dom = lookup_domain(ctl, domain)
    xml = "<domainsnapshot>\n"
    if name is not None:
        xml += "  <name>%s</name>\n" % escape(name)
    if description is not None:
        xml += "  <description>%s</description>\n" % escape(description)
    if memspec is not None:
        xml += "  " + memspec_xml(memspec)
    if diskspec:
        xml += "  <disks>\n" + "".join(diskspec_xml(spec, "    ") for spec in diskspec) + "  </disks>\n"
    xml += "</domainsnapshot>\n"
    if print_xml:
        ctl.print(xml + "\n")
        return True
    return create_snapshot(ctl, dom, xml, flags)


# ---------------------------------------------------------------------------
# snapshot-list
# ---------------------------------------------------------------------------

def tree_lines(names: list[str], parents: dict) -> list[str]:
    """virsh's vshTreePrint over every root, siblings in list order."""
    out: list[str] = []

    def visit(index: int, last: int, root: bool, indent: str):
        name = names[index]
        out.append("%s%s%s\n" % (indent, "" if root else "+- ", name))
        if not root:
            indent += (" " if index == last else "|") + " "
        children = [i for i, n in enumerate(names) if parents.get(n) == name]
        next_last = children[-1] if children else -1
        if children:
            out.append("%s  |\n" % indent)
        for child in children:
            visit(child, next_last, False, indent + "  ")
        if not children and index == last:
            out.append("%s\n" % indent)

    for i, name in enumerate(names):
        if parents.get(name) is None:
            visit(i, i, True, "")
    return out


@command("snapshot-list", "Snapshot List")
@domain_option()
@flag("parent", "add a column showing parent snapshot")
@flag("roots", "list only snapshots without parents")
@flag("leaves", "list only snapshots without children")
@flag("no-leaves", "list only snapshots that are not leaves (with children)")
@flag("metadata", "list only snapshots that have metadata that would prevent undefine")
@flag("no-metadata", "list only snapshots that have no metadata managed by libvirt")
@flag("inactive", "filter by snapshots taken while inactive")
@flag("active", "filter by snapshots taken while active (full system snapshots)")
@flag("disk-only", "filter by disk-only snapshots")
@flag("internal", "filter by internal snapshots")
@flag("external", "filter by external snapshots")
@flag("tree", "list snapshots in a tree")
@string("from", "limit list to children of given snapshot", completer="snapshots")
@flag("current", "limit list to children of current snapshot")
@flag("descendants", "with --from, list all descendants")
@flag("name", "list snapshot names only")
@flag("topological", "sort list topologically rather than by name")
def snapshot_list(ctl, domain, parent, roots, leaves, no_leaves, metadata, no_metadata, inactive, active,
                  disk_only, internal, external, tree, current, descendants, name, topological, **kw):
    from ..drivers.api import SnapshotListFlags as F

    from_snap = kw["from"]
    exclusive("tree", tree, "name", name)
    exclusive("parent", parent, "roots", roots)
    exclusive("parent", parent, "tree", tree)
    exclusive("roots", roots, "tree", tree)
    exclusive("roots", roots, "from", from_snap is not None)
    exclusive("roots", roots, "current", current)
    filters = [("leaves", leaves, F.LEAVES), ("no-leaves", no_leaves, F.NO_LEAVES),
               ("inactive", inactive, F.INACTIVE), ("active", active, F.ACTIVE),
               ("disk-only", disk_only, F.DISK_ONLY), ("internal", internal, F.INTERNAL),
               ("external", external, F.EXTERNAL)]
    for option, given, _ in filters:
        if given and tree:
            raise CommandError("--%s and --tree are mutually exclusive" % option)
    if descendants and from_snap is None and not current:
        raise CommandError("--descendants requires either --from or --current")
    flags = flag_bits(*((given, bit) for _, given, bit in filters), (topological, F.TOPOLOGICAL),
                      (roots, F.ROOTS), (metadata, F.METADATA), (no_metadata, F.NO_METADATA),
                      (descendants, F.DESCENDANTS))

    dom = lookup_domain(ctl, domain)
    start = None
    if from_snap is not None or current:
        start = lookup_snapshot(dom, from_snap, current, "from")
    if start is not None:
        if tree:
            flags |= F.DESCENDANTS
        snaps = start.list_all_children(flags)
    else:
        snaps = dom.list_all_snapshots(flags)
    if not flags & F.TOPOLOGICAL:
        snaps.sort(key=lambda s: s.name.lower())
    if start is not None and tree:
        snaps.insert(0, start)

    if ctl.out.json:
        docs = []
        for s in snaps:
            snapdef = parsed_snapshot(s)
            docs.append({"name": s.name, "creation_time": snapdef.creation_time, "state": snapdef.state,
                         "parent": snapdef.parent, "current": s.is_current(),
                         "location": "external" if snapdef.is_external else "internal"})
        ctl.out.emit_json({"snapshots": docs})
        return True

    names = [s.name for s in snaps]
    if tree:
        listed = set(names)
        parents = {}
        for s in snaps:
            p = None if start is not None and s.name == start.name else snapshot_parent_name(s)
            parents[s.name] = p if p in listed else None
        ctl.print("".join(tree_lines(names, parents)))
        return True
    if name:
        ctl.print("".join(n + "\n" for n in names))
        return True

    rows = []
    for s in snaps:
        snapdef = parsed_snapshot(s)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(snapdef.creation_time))
        row = [s.name, stamp, snapdef.state]
        if parent:
            row.append(snapdef.parent or "")
        rows.append(row)
    header = ["Name", "Creation Time", "State"] + (["Parent"] if parent else [])
    ctl.print(format_table(header, rows, ctl.quiet, state_styler(ctl.out, 2)))
    return True


# ---------------------------------------------------------------------------
# snapshot-info, snapshot-dumpxml, snapshot-current, snapshot-parent
# ---------------------------------------------------------------------------

@command("snapshot-info", "Returns basic information about a snapshot.")
@domain_option()
@snapshot_name_option("snapshot name")
@flag("current", "info on current snapshot")
def snapshot_info(ctl, domain, snapshotname, current):
    from ..drivers.api import SnapshotListFlags as F

    dom = lookup_domain(ctl, domain)
    snap = lookup_snapshot(dom, snapshotname, current)
    snapdef = parsed_snapshot(snap)
    # One record (the --json document), printed either way.
    record = {"name": snap.name, "domain": dom.name, "current": snap.is_current(), "state": snapdef.state,
              "location": "external" if snapdef.is_external else "internal", "parent": snapdef.parent,
              "children": len(snap.list_all_children(0)),
              "descendants": len(snap.list_all_children(F.DESCENDANTS)), "metadata": snap.has_metadata()}
    if ctl.out.json:
        ctl.out.emit_json(record)
        return True
    ctl.print(format_kv([
        ("Name:", record["name"]),
        ("Domain:", record["domain"]),
        ("Current:", "yes" if record["current"] else "no"),
        ("State:", record["state"]),
        ("Location:", record["location"]),
        ("Parent:", record["parent"] or "-"),
        ("Children:", record["children"]),
        ("Descendants:", record["descendants"]),
        ("Metadata:", "yes" if record["metadata"] else "no"),
    ]))
    return True


@command("snapshot-dumpxml", "Snapshot Dump XML")
@domain_option()
@data("snapshotname", "snapshot name", completer="snapshots")
@flag("security-info", "include security sensitive information in XML dump")
@string("xpath", "xpath expression to filter the XML document", named_only=True, empty_ok=True)
@flag("wrap", "wrap xpath results in an common root element")
def snapshot_dumpxml(ctl, domain, snapshotname, security_info, xpath, wrap):
    dom = lookup_domain(ctl, domain)
    snap = dom.snapshot_lookup_by_name(snapshotname)
    print_xml(ctl, snap.get_xml_desc(), xpath, wrap)
    return True


def set_current(dom, snap) -> None:
    """virsh makes a snapshot current by redefining it with --current."""
    from ..drivers.api import SnapshotCreateFlags as F
    xml = snap.get_xml_desc()
    dom.snapshot_create_xml(xml, redefine_flags(xml, F.REDEFINE | F.CURRENT))


@command("snapshot-current", "Get or set the current snapshot")
@domain_option()
@flag("name", "list the name, rather than the full xml")
@flag("security-info", "include security sensitive information in XML dump")
@snapshot_name_option("name of existing snapshot to make current", empty_ok=True)
def snapshot_current(ctl, domain, name, security_info, snapshotname):
    # virsh's order: the exclusive options, the domain, then the snapshot name's value.
    exclusive("name", name, "snapshotname", snapshotname is not None)
    dom = lookup_domain(ctl, domain)
    if snapshotname == "":
        raise CommandError("Failed to get option 'snapshotname': Option argument is empty")
    if snapshotname:
        snap = dom.snapshot_lookup_by_name(snapshotname)
        set_current(dom, snap)
        ctl.print_extra("Snapshot %s set as current" % snapshotname)
        return True
    if not dom.has_current_snapshot():
        raise CommandError("domain '%s' has no current snapshot" % domain)
    snap = dom.snapshot_current()
    ctl.print(snap.name if name else snap.get_xml_desc())
    return True


@command("snapshot-parent", "Extract the snapshot's parent, if any")
@domain_option()
@snapshot_name_option("find parent of snapshot name")
@flag("current", "find parent of current snapshot")
def snapshot_parent(ctl, domain, snapshotname, current):
    dom = lookup_domain(ctl, domain)
    snap = lookup_snapshot(dom, snapshotname, current)
    parent = snapshot_parent_name(snap)
    if parent is None:
        raise CommandError("snapshot '%s' has no parent" % snap.name)
    ctl.print(parent)
    return True


# ---------------------------------------------------------------------------
# snapshot-revert, snapshot-delete, snapshot-edit
# ---------------------------------------------------------------------------

@command("snapshot-revert", "Revert domain to snapshot")
@domain_option()
@snapshot_name_option("snapshot name")
@flag("current", "revert to current snapshot")
@flag("running", "after reverting, change state to running")
@flag("paused", "after reverting, change state to paused")
@flag("force", "try harder on risky reverts")
@flag("reset-nvram", "re-initialize NVRAM from its pristine template")
def snapshot_revert(ctl, domain, snapshotname, current, running, paused, force, reset_nvram):
    from ..drivers.api import DriverError, ErrorCode
    from ..drivers.api import SnapshotRevertFlags as F

    flags = flag_bits((running, F.RUNNING), (paused, F.PAUSED), (reset_nvram, F.RESET_NVRAM))
    dom = lookup_domain(ctl, domain)
    snap = lookup_snapshot(dom, snapshotname, current)
    with reporting("Failed to revert snapshot %s" % snap.name):
        try:
            snap.revert(flags)
        except DriverError as err:
            # --force is used only when the driver says it would make a difference.
            if not (force and err.code is ErrorCode.SNAPSHOT_REVERT_RISKY):
                raise
            snap.revert(flags | F.FORCE)
    ctl.print_extra("Domain snapshot %s reverted\n" % snap.name)
    return True


@command("snapshot-delete", "Snapshot Delete")
@domain_option()
@snapshot_name_option("snapshot name")
@flag("current", "delete current snapshot")
@flag("children", "delete snapshot and all children")
@flag("children-only", "delete children but not snapshot")
@flag("metadata", "delete only libvirt metadata, leaving snapshot contents behind")
def snapshot_delete(ctl, domain, snapshotname, current, children, children_only, metadata):
    from ..drivers.api import SnapshotDeleteFlags as F

    flags = flag_bits((children, F.CHILDREN), (children_only, F.CHILDREN_ONLY), (metadata, F.METADATA_ONLY))
    dom = lookup_domain(ctl, domain)
    snap = lookup_snapshot(dom, snapshotname, current)
    with reporting("Failed to delete snapshot %s" % snap.name):
        snap.delete(flags)
    if children_only:
        ctl.print_extra("Domain snapshot %s children deleted\n" % snap.name)
    else:
        ctl.print_extra("Domain snapshot %s deleted\n" % snap.name)
    return True


@command("snapshot-edit", "Edit the domain snapshot XML for a named snapshot")
@domain_option()
@snapshot_name_option("snapshot name")
@flag("current", "also set edited snapshot as current")
@flag("rename", "allow renaming an existing snapshot")
@flag("clone", "allow cloning to new name")
def snapshot_edit(ctl, domain, snapshotname, current, rename, clone):
    from ..drivers.api import SnapshotCreateFlags as F
    from ..drivers.api import DriverError
    from ..drivers.api import SnapshotDeleteFlags as D
    from .editing import edit_document, failed_with

    exclusive("rename", rename, "clone", clone)
    dom = lookup_domain(ctl, domain)
    snap = lookup_snapshot(dom, snapshotname, current, exclusive_current=False)
    original = snap.get_xml_desc()
    define_flags = redefine_flags(original, F.REDEFINE | (F.CURRENT if current and snapshotname else 0))

    def apply(text):
        return dom.snapshot_create_xml(text, define_flags)

    # With --current an unchanged document is defined again (to make it current).
    try:
        edited = edit_document(ctl, original, apply, redefine_unchanged=bool(define_flags & F.CURRENT))
    except CommandError as err:
        raise failed_with(err, "Failed to update %s" % snap.name) from None
    if edited is None:
        ctl.print_extra("Snapshot %s XML configuration not changed.\n" % snap.name)
        return True
    if edited.name == snap.name:
        ctl.print_extra("Snapshot %s edited.\n" % snap.name)
    elif clone:
        ctl.print_extra("Snapshot %s cloned to %s.\n" % (snap.name, edited.name))
    else:
        victim = snap if rename else edited
        try:
            victim.delete(D.METADATA_ONLY)
        except DriverError as err:
            raise CommandError(str(err), "Failed to clean up %s" % victim.name,
                               "Failed to update %s" % snap.name) from None
        if not rename:
            raise CommandError("Must use --rename or --clone to change %s to %s" % (snap.name, edited.name),
                               "Failed to update %s" % snap.name)
    return True
