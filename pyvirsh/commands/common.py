"""What many commands share: the domain option, the domain lookup, the way a
driver failure becomes virsh's two error lines, the XML file reader and
printer, flag bits, and virsh's comma-separated lists."""

from __future__ import annotations

from ..declare import data
from ..errors import CommandError
from ..values import to_int

BY_ID, BY_UUID, BY_NAME = 1, 2, 4
BY_ANY = BY_ID | BY_UUID | BY_NAME


def domain_option(help: str = "domain name, id or uuid", *, required: bool = True):
    return data("domain", help, required=required, completer="domains")


def lookup_domain(ctl, name: str, by: int = BY_ANY):
    """virsh's domain lookup: by id if the word is a number, then uuid, then name.

    On failure virsh prints a single line naming the word as the user typed it.
    """
    from ..drivers.api import DriverError

    conn = ctl.conn
    dom = None
    if by & BY_ID:
        domid = to_int(name, 0, 2**31 - 1)
        if domid is not None:
            try:
                dom = conn.lookup_domain_by_id(domid)
            except DriverError:
                dom = None
    if dom is None and by & BY_UUID and len(name) == 36:
        try:
            dom = conn.lookup_domain_by_uuid(name)
        except DriverError:
            dom = None
    if dom is None and by & BY_NAME:
        try:
            dom = conn.lookup_domain_by_name(name)
        except DriverError:
            dom = None
    if dom is None:
        raise CommandError("failed to get domain '%s'" % name)
    return dom


class reporting:
    """with reporting(context): a driver failure inside becomes virsh's context line
    followed by the driver's words. (A class, not contextlib: that import alone costs a
    one-shot command more than the command's own work.)"""

    def __init__(self, context: str):
        self.context = context

    def __enter__(self):
        return self

    def __exit__(self, kind, err, traceback):
        from ..drivers.api import DriverError

        if kind is not None and issubclass(kind, DriverError):
            raise CommandError(self.context, str(err)) from None
        return False


def read_xml_file(path: str) -> str:
    """Read an XML file the way virsh does (virFileReadAll with a 10 MiB cap).

    The reading itself (the cap, a FIFO that must not hang the open) is
    drivers.fsutil.read_bounded, shared with the test driver's node files.
    """
    from ..drivers.fsutil import ReadError, read_bounded

    try:
        data = read_bounded(path)
    except ReadError as err:
        verb = "open" if err.stage == "open" else "read"
        raise CommandError("Failed to %s file '%s': %s" % (verb, path, err.strerror)) from None
    return data.decode("utf-8", "replace")


def exclusive(first: str, first_given, second: str, second_given) -> None:
    """virsh's VSH_EXCLUSIVE_OPTIONS: 'Options --a and --b are mutually exclusive'."""
    if first_given and second_given:
        raise CommandError("Options --%s and --%s are mutually exclusive" % (first, second))


def requires(needed: str, needed_given, by: str, by_given) -> None:
    """virsh's VSH_REQUIRE_OPTION: 'Option --a is required by option --b'."""
    if by_given and not needed_given:
        raise CommandError("Option --%s is required by option --%s" % (needed, by))


def flag_bits(*pairs) -> int:
    """The flags word from (given, bit) pairs: every bit whose option was given."""
    flags = 0
    for given, bit in pairs:
        if given:
            flags |= bit
    return flags


def split_commas(text: str) -> list[str]:
    """Split on ',' with ',,' standing for a literal comma (vshStringToArray)."""
    if text == "":
        return []
    pieces, current, i = [], [], 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                current.append(",")
                i += 2
                continue
            pieces.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    pieces.append("".join(current))
    return pieces


def domain_disks(dom, inactive: bool = False) -> list:
    """The domain's disks as api.DomainDisk records (live unless inactive is set)."""
    return dom.get_disks(inactive)


def print_xml(ctl, text: str, xpath, wrap: bool) -> None:
    """Print an XML document, or with --xpath the matching nodes (virshDumpXML)."""
    if xpath is None:
        ctl.print(text)
        return
    if xpath == "":
        raise CommandError()
    from ..drivers.xmlutil import xpath_dump
    ctl.print(xpath_dump(text, xpath, wrap))
