"""What the read commands need of a definition file, readable without an XML library.

The QEMU driver's one source of truth stays its XML files: the persistent definition
(config/NAME.xml) and the running domain's status (run/NAME.status.xml). Beside each, the
code that saves it writes a derived view (a hidden `.FILE.view` in the same directory):
the facts `dominfo`, `domblklist` and `dumpxml` print, computed from the file as the lxml
path reads it back. Importing lxml alone costs more than the rest of such a command.

A view names the size and CRC-32 of the exact bytes it was made from; a reader checks them
against the file it would otherwise parse and, when they differ (a writer killed between
the two renames, a hand edit, a pyvirsh from before views), ignores the view, parses the
XML and writes the view again (refill). A stale view is therefore never used; nor is a torn
one (it is written without fsync, and carries a CRC-32 of itself). Where no view can be
written, the XML path answers every time. The format, one field a line:

    pyvirsh-view 1 <DomainDisk fields>;<DiskLayer fields>
    source <size> <crc32> <crc32 of the rest of the view>
    uuid\t=6695eb01-...                     scalars: key, tab, encoded value
    disk\t=file\t=disk\t=vda\t...           a DomainDisk (fields in __slots__ order, chain apart)
    layer\t#1\t=/img/top.qcow2\t...         a DiskLayer of the disk above (its chain, top first)
    xml                                     then the rendered XML to the end of the file
    (or `xml source`: the rendered XML is the source file's text itself)

Encoded values: `-` None, `+` True, `!` False, `#N` an int, `=text` a string with
backslash, tab and newline escaped. The first line lists the record fields, so a view
written for other record shapes is ignored too.
"""

from __future__ import annotations

import os

from ..api import DiskLayer, DomainDisk, DriverError
from ..fsutil import atomic_write, remove

# The type checker reads any name TYPE_CHECKING as true; Python skips the block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..domxml import DomainDef

_DISK_FIELDS = tuple(f for f in DomainDisk.__slots__ if f != "chain")
_LAYER_FIELDS = DiskLayer.__slots__
_MAGIC = "pyvirsh-view 1 %s;%s" % (",".join(_DISK_FIELDS), ",".join(_LAYER_FIELDS))
_SCALARS = ("uuid", "title", "os_type", "memory_kib", "current_memory_kib", "vcpus")


def view_path(source: str) -> str:
    """The view of a file: hidden, in the same directory (domain names never start with
    a dot, so it names no domain's file)."""
    return os.path.join(os.path.dirname(source), ".%s.view" % os.path.basename(source))


class DefinitionView:
    """The facts of one definition the read commands print (see the module docstring)."""

    def __init__(self, uuid: str, title: str, os_type: str, memory_kib: int, current_memory_kib: int,
                 vcpus: int, disks: list[DomainDisk], xml: str):
        self.uuid = uuid
        self.title = title
        self.os_type = os_type
        self.memory_kib = memory_kib
        self.current_memory_kib = current_memory_kib
        self.vcpus = vcpus
        self.disks = disks
        self.xml = xml

    @classmethod
    def of(cls, definition: DomainDef, domid: int | None) -> DefinitionView:
        """The view of a parsed definition, as the lxml read path computes each fact
        (domid: the running domain's id in the XML, None for an inactive definition)."""
        from ..diskinfo import disk_records
        return cls(definition.uuid, definition.title, definition.os_type, definition.memory_kib,
                   definition.current_memory_kib, definition.vcpus, disk_records(definition),
                   definition.to_xml(domid))


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------

def write_view(source: str, source_text: str, view: DefinitionView | None) -> bool:
    """Record the view of source (whose text was just written); None removes it (the
    definition could not be read back, so the XML path must answer). False when no view
    was written."""
    path = view_path(source)
    if view is None:
        _drop(path)
        return False
    import zlib
    data = source_text.encode("utf-8")
    try:
        lines = ["%s\t%s" % (key, _encode(getattr(view, key))) for key in _SCALARS]
        for disk in view.disks:
            lines.append("\t".join(["disk"] + [_encode(getattr(disk, f)) for f in _DISK_FIELDS]))
            for layer in disk.chain:
                lines.append("\t".join(["layer"] + [_encode(getattr(layer, f)) for f in _LAYER_FIELDS]))
    except TypeError:           # a value the format cannot hold: the XML path answers
        _drop(path)
        return False
    if view.xml == source_text:
        lines.append("xml source\n")
        body = "\n".join(lines)
    else:
        lines.append("xml\n")
        body = "\n".join(lines) + view.xml
    head = "%s\nsource %d %d %d\n" % (_MAGIC, len(data), zlib.crc32(data), zlib.crc32(body.encode("utf-8")))
    try:
        # Not fsynced: a view lost or torn in a crash fails its own check and is not used.
        atomic_write(path, head + body, durable=False)
    except OSError:
        _drop(path)
        return False
    return True


def _drop(path: str) -> None:
    """No view is always correct (readers parse the XML); a directory that cannot be
    written to (a read-only file system) just keeps the read path slow."""
    try:
        remove(path)
    except OSError:
        pass


def save_with_view(source: str, text: str, load: Callable[[str], DefinitionView]) -> None:
    """Write a definition file atomically, then its view from load(text): the view of the
    definition as the XML read path parses it back."""
    atomic_write(source, text)
    write_view(source, text, _view_of(load, text))


def refill(source: str, load: Callable[[str], DefinitionView]) -> DefinitionView | None:
    """The view of source's present text, written beside it (no view, or a stale one: a
    pyvirsh from before views wrote the file, or its writer was killed in between).
    None when there is no such file, it cannot be read (the XML path reports it), or the
    view cannot be written: a view is used only once it is on disk, so the XML path
    answers wherever views cannot be kept."""
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    view = _view_of(load, text)
    return view if write_view(source, text, view) else None


def _view_of(load: Callable[[str], DefinitionView], text: str) -> DefinitionView | None:
    try:
        return load(text)
    except (DriverError, ValueError, TypeError, AttributeError):
        return None             # the XML path reports it, as it always did


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------

def read_view(source: str) -> DefinitionView | None:
    """source's view if it was made from source's present bytes, else None (parse the XML)."""
    try:
        with open(source, "rb") as f:
            data = f.read()
        with open(view_path(source), "rb") as f:
            magic, source_line, raw = f.read().split(b"\n", 2)
    except (OSError, ValueError):       # ValueError: not even two lines
        return None
    if magic != _MAGIC.encode():
        return None
    import zlib
    if source_line != b"source %d %d %d" % (len(data), zlib.crc32(data), zlib.crc32(raw)):
        return None
    body = raw.decode("utf-8")          # its CRC matched: what the writer encoded
    fields, sep, xml = ("\n" + body).partition("\nxml")
    if not sep:
        return None
    try:
        return _parse(fields.split("\n")[1:], xml, data)
    except (ValueError, IndexError, KeyError, TypeError):
        return None


def _parse(lines: list[str], xml: str, data: bytes) -> DefinitionView:
    scalars: dict[str, object] = {}
    disks: list[DomainDisk] = []
    for line in lines:
        key, _, rest = line.partition("\t")
        if key == "disk":
            values = dict(zip(_DISK_FIELDS, map(_decode, rest.split("\t")), strict=True))
            disks.append(DomainDisk(chain=[], **values))
        elif key == "layer":
            values = dict(zip(_LAYER_FIELDS, map(_decode, rest.split("\t")), strict=True))
            disks[-1].chain.append(DiskLayer(**values))
        elif key in _SCALARS:
            scalars[key] = _decode(rest)
        else:
            raise ValueError(key)
    if xml == " source\n":
        text = data.decode("utf-8")
    elif xml.startswith("\n"):
        text = xml[1:]
    else:
        raise ValueError("xml")
    return DefinitionView(disks=disks, xml=text, **scalars)    # type: ignore[arg-type]


def _encode(value) -> str:
    if value is None:
        return "-"
    if value is True:
        return "+"
    if value is False:
        return "!"
    if isinstance(value, int):
        return "#%d" % value
    if not isinstance(value, str):
        raise TypeError(value)
    return "=" + value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _decode(field: str):
    kind, text = field[0], field[1:]
    if kind == "=":
        if "\\" not in text:
            return text
        return "\\".join(part.replace("\\t", "\t").replace("\\n", "\n") for part in text.split("\\\\"))
    if kind == "#":
        return int(text)
    if field == "-":
        return None
    if field == "+":
        return True
    if field == "!":
        return False
    raise ValueError(field)


def save_config(path: str, text: str) -> None:
    """Write a persistent definition and its view."""
    save_with_view(path, text, config_loader(path))


def config_loader(path: str) -> Callable[[str], DefinitionView]:
    """The view of a persistent definition's text, parsed as the driver's load_config does."""
    def load(text: str) -> DefinitionView:
        from ..domxml import DomainDef
        return DefinitionView.of(DomainDef.from_trusted_xml(text, path), None)
    return load
