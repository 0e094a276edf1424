"""Hardened XML parsing and libvirt-style XML writing, shared by every XML kind
pyvirsh handles (domains, snapshots, storage, node files).

Parsing never resolves entities, never loads a DTD and never touches the
network: a guest-influenced or hostile document cannot make pyvirsh read a
host file. Parse errors are reported the way libvirt reports libxml2's, with
the offending line and a caret under the position.

Writing follows libvirt's formatter: two-space indent, single-quoted
attributes, elements and attributes in a fixed schema order (unknown ones are
dropped, as libvirt drops what it does not model), text escaped for & < > ' ".
"""

from __future__ import annotations

from lxml import etree

from .api import DriverError, ErrorCode
from .fsutil import MAX_XML_BYTES   # the one size limit, also for documents given as text
from .xmlescape import escape


class _NoExternalLoads(etree.Resolver):
    """Answers every load libxml2 attempts (external DTD subset, parameter
    entity) with an empty document and remembers it: nothing is read from the
    host, not even a FIFO that would block."""

    def __init__(self):
        super().__init__()
        self.refused: list[str] = []

    def resolve(self, url, pubid, context):
        self.refused.append(url or pubid or "")
        return self.resolve_string("", context)


def _parser(encoding: str | None) -> etree.XMLParser:
    # A fresh parser per untrusted document: lxml's error log, which the caret
    # message is built from, belongs to the parser, and so does the resolver guard.
    return etree.XMLParser(encoding=encoding, resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, collect_ids=False)


def parse(text: str | bytes, url: str, root: str | None = None) -> etree._Element:
    """Parse a document; url names it in error messages ('(domain_definition)').

    A str is parsed as the UTF-8 it is encoded to, whatever its XML declaration
    says (as libvirt parses the strings virsh hands it); bytes (a node file)
    follow their declaration. Entities are never expanded: a document that
    declares one, puts a reference inside text, or needs anything loaded (an
    external DTD, a parameter entity) is refused. A reference to an external
    entity that is an element's whole content reads as empty, as in libvirt,
    which never loads it either.
    """
    if isinstance(text, str):
        data, encoding = text.encode("utf-8"), "utf-8"
    else:
        data, encoding = text, None
    if len(data) > MAX_XML_BYTES:
        raise DriverError(ErrorCode.XML_ERROR, "document is larger than %d bytes" % MAX_XML_BYTES)
    parser = _parser(encoding)
    guard = _NoExternalLoads()
    parser.resolvers.add(guard)
    try:
        element = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise _syntax_error(data, url, parser, err) from None
    except ValueError as err:   # e.g. an XML declaration inside a str
        raise DriverError(ErrorCode.XML_ERROR, str(err)) from None
    if element is None:
        raise DriverError(ErrorCode.XML_DETAIL, "(%s):1: Document is empty\n(null)\n^" % url)
    _refuse_entities(element, guard)
    if root is not None and element.tag != root:
        raise DriverError(ErrorCode.XML_ERROR,
                          "expecting root element of '%s', not '%s'" % (root, element.tag))
    return element


def _refuse_entities(element, guard: _NoExternalLoads) -> None:
    if guard.refused:
        raise DriverError(ErrorCode.XML_ERROR,
                          "external DTD or entity '%s' is not supported" % guard.refused[0])
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None:
        for entity in dtd.iterentities():
            if entity.content is not None:
                raise DriverError(ErrorCode.XML_ERROR,
                                  "entity '%s' is declared; entities are not supported" % entity.name)
    for ref in element.iter(etree.Entity):
        parent = ref.getparent()
        pieces = [parent.text] + [child.tail for child in parent]
        if any(piece and piece.strip() for piece in pieces):
            raise DriverError(ErrorCode.XML_ERROR,
                              "entity reference '%s' inside text is not supported" % ref.text)


def _syntax_error(data: bytes, url: str, parser: etree.XMLParser,
                  err: etree.XMLSyntaxError) -> DriverError:
    """libvirt's catchXMLError: '(url):LINE: MESSAGE', the line, and a pointer.

    The message is this parse's first error, from the parser's own log: the
    exception's log is lxml's global one and can still hold an earlier
    document's errors.
    """
    log = parser.error_log
    entry = next((e for e in log if e.level >= etree.ErrorLevels.ERROR), None)
    if entry is None and len(log):
        entry = log[0]
    message = entry.message if entry is not None else str(err)
    line = entry.line if entry is not None else (err.lineno or 1)
    column = max((entry.column if entry is not None else (err.offset or 1)) - 1, 0)
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines:
        context = "(null)"
    else:
        context = lines[min(max(line, 1), len(lines)) - 1]
    pointer = "".join("\t" if ch == "\t" else "-" for ch in context[:column]) + "^"
    return DriverError(ErrorCode.XML_DETAIL, "(%s):%d: %s\n%s\n%s" % (url, line, message, context, pointer))


# Documents pyvirsh wrote itself (state files, its own output) share one parser:
# the same hardening (no entities expanded, no DTD, no network), blank text
# dropped, and huge_tree because a saved domain nests inside snapshot and status
# documents, one or two levels deeper than the domain parser allowed.
_TRUSTED_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                                  load_dtd=False, huge_tree=True)


def parse_trusted(text: str, what: str):
    """Parse a document pyvirsh wrote itself; ``what`` names it (the file) in the
    error raised if it is corrupt after all (a truncated or hand-edited state file)."""
    try:
        return etree.fromstring(text.encode("utf-8"), _TRUSTED_PARSER)
    except etree.XMLSyntaxError as err:
        raise DriverError(ErrorCode.INTERNAL_ERROR, "cannot parse '%s': %s" % (what, err)) from None


def set_child(root, tag: str, text: str):
    """The first <tag> child of root, made if missing, with its text set to text."""
    el = root.find(tag)
    if el is None:
        el = etree.SubElement(root, tag)
    el.text = text
    return el


def detached_copy(element):
    """A deep copy of element without its tail text, to be put elsewhere."""
    import copy
    clone = copy.deepcopy(element)
    clone.tail = None
    return clone


def text_of(element, path: str, default=None):
    """Text of the first element at path, or default (entity references read as absent)."""
    found = element.find(path) if element is not None else None
    if found is None or found.text is None:
        return default
    return found.text


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

class Schema:
    """Element and attribute order for one XML kind.

    ``order`` maps an element name (or 'parent/name' where the same name means
    different things in different places) to (attribute names, child names).
    Elements listed in ``verbatim`` are written as they came, in document order.
    Elements listed in ``keep_open`` are written with open and close tags even
    when empty (libvirt always prints <devices>...</devices>).
    """

    def __init__(self, order: dict, verbatim=(), keep_open=()):
        self.order = order
        self.verbatim = set(verbatim)
        self.keep_open = set(keep_open)

    def spec(self, element, parent_tag):
        return self.order.get("%s/%s" % (parent_tag, element.tag)) or self.order.get(element.tag)

    def write(self, element, indent: int = 0, root_attrs: dict | None = None) -> str:
        """element as libvirt formats it. root_attrs gives root attribute values
        the document does not hold (a running domain's id): they win over the
        element's own and are written in the schema's order like them."""
        out: list[str] = []
        self._write(element, None, indent, out, root_attrs)
        return "".join(out)

    def _write(self, element, parent_tag, indent, out, extra=None):
        if not isinstance(element.tag, str):
            return
        pad = " " * indent
        if element.tag in self.verbatim:
            _write_verbatim(element, indent, out)
            return
        spec = self.spec(element, parent_tag)
        if spec is None:
            return
        attr_order, child_order = spec
        values = element.attrib if not extra else dict(element.attrib, **extra)
        attrs = "".join(" %s='%s'" % (name, escape(values[name]))
                        for name in attr_order if values.get(name) is not None)
        # One pass over the children (each lxml child visited costs a proxy), then schema order.
        by_tag = {}
        for child in element:
            by_tag.setdefault(child.tag, []).append(child)
        children = [c for name in child_order if name in by_tag for c in by_tag[name]]
        text = element.text if element.text is not None and element.text.strip() != "" else None
        if not children and text is not None:
            out.append("%s<%s%s>%s</%s>\n" % (pad, element.tag, attrs, escape(element.text), element.tag))
            return
        if not children and element.tag not in self.keep_open:
            out.append("%s<%s%s/>\n" % (pad, element.tag, attrs))
            return
        out.append("%s<%s%s>\n" % (pad, element.tag, attrs))
        for child in children:
            self._write(child, element.tag, indent + 2, out)
        out.append("%s</%s>\n" % (pad, element.tag))


def _write_verbatim(element, indent, out):
    pad = " " * indent
    # Free-form content is dumped the way libxml2 dumps a node (libvirt's metadata): double quotes.
    attrs = "".join(' %s="%s"' % (_qname(element, k), _escape_attr_verbatim(v))
                    for k, v in element.attrib.items())
    tag = _qname(element, element.tag)
    nsdecl = "".join(' xmlns%s="%s"' % ((":" + p) if p else "", _escape_attr_verbatim(u))
                     for p, u in (element.nsmap or {}).items()
                     if element.getparent() is None or (element.getparent().nsmap or {}).get(p) != u)
    children = [c for c in element if isinstance(c.tag, str)]
    text = element.text if element.text and element.text.strip() else None
    if not children and text is None:
        out.append("%s<%s%s%s/>\n" % (pad, tag, nsdecl, attrs))
    elif not children:
        out.append("%s<%s%s%s>%s</%s>\n" % (pad, tag, nsdecl, attrs, escape_text(text), tag))
    else:
        out.append("%s<%s%s%s>\n" % (pad, tag, nsdecl, attrs))
        for child in children:
            _write_verbatim(child, indent + 2, out)
        out.append("%s</%s>\n" % (pad, tag))


def _escape_attr_verbatim(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;"))


def _qname(element, name: str) -> str:
    if not name.startswith("{"):
        return name
    uri, local = name[1:].split("}", 1)
    for prefix, ns in (element.nsmap or {}).items():
        if ns == uri:
            return "%s:%s" % (prefix, local) if prefix else local
    return local


def xpath_dump(document_text: str, expression: str, wrap: bool) -> str:
    """virsh's --xpath: each matching node as libxml2 dumps it (double quotes).

    Only node-set results are accepted, as in virsh; --wrap gathers the
    matches under one <nodes> element (attributes become its attributes).
    """
    element = parse_trusted(document_text, "xpath document")
    try:
        result = element.xpath(expression)
    except (etree.XPathError, ValueError):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Incorrect xpath '%s'" % expression) from None
    if not isinstance(result, list):
        raise DriverError(ErrorCode.INTERNAL_ERROR, "Incorrect xpath '%s'" % expression)
    if wrap:
        nodes = etree.Element("nodes")
        for item in result:
            if isinstance(item, etree._Element):
                nodes.append(detached_copy(item))
            elif getattr(item, "is_attribute", False):
                nodes.set(item.attrname, str(item))
            elif nodes.text is None and not len(nodes):
                nodes.text = str(item)
        return etree.tostring(nodes, encoding="unicode", pretty_print=True)
    pieces = []
    for item in result:
        if isinstance(item, etree._Element):
            pieces.append(etree.tostring(item, encoding="unicode", pretty_print=True,
                                         with_tail=False).rstrip("\n"))
        elif getattr(item, "is_attribute", False):
            pieces.append(' %s="%s"' % (item.attrname, _escape_attr_dq(str(item))))
        else:
            pieces.append(escape_text(str(item)))
    return "".join(p + "\n" for p in pieces)


def escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr_dq(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
