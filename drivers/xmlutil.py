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

# libvirt reads at most this much XML from a file (virsh's VSH_MAX_XML_FILE).
MAX_XML_BYTES = 10 * 1024 * 1024


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml's error log belongs to the parser.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, collect_ids=False)


def parse(text: str | bytes, url: str, root: str | None = None) -> etree._Element:
    """Parse a document; url names it in error messages ('(domain_definition)')."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > MAX_XML_BYTES:
        raise DriverError(ErrorCode.XML_ERROR, "document is larger than %d bytes" % MAX_XML_BYTES)
    parser = _parser()
    try:
        element = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise _syntax_error(data, url, err) from None
    except ValueError as err:   # e.g. an XML declaration inside a str
        raise DriverError(ErrorCode.XML_ERROR, str(err)) from None
    if element is None:
        raise DriverError(ErrorCode.XML_DETAIL, "(%s):1: Document is empty\n(null)\n^" % url)
    if root is not None and element.tag != root:
        raise DriverError(ErrorCode.XML_ERROR,
                          "expecting root element of '%s', not '%s'" % (root, element.tag))
    return element


def _syntax_error(data: bytes, url: str, err: etree.XMLSyntaxError) -> DriverError:
    """libvirt's catchXMLError: '(url):LINE: MESSAGE', the line, and a pointer."""
    entry = err.error_log[0] if len(err.error_log) else None
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


def text_of(element, path: str, default=None):
    """Text of the first element at path, or default (entity references read as absent)."""
    found = element.find(path) if element is not None else None
    if found is None or found.text is None:
        return default
    return found.text


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


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

    def write(self, element, indent: int = 0) -> str:
        out: list[str] = []
        self._write(element, None, indent, out)
        return "".join(out)

    def _write(self, element, parent_tag, indent, out):
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
        attrs = "".join(" %s='%s'" % (name, escape(element.get(name)))
                        for name in attr_order if element.get(name) is not None)
        children = []
        for name in child_order:
            children.extend(c for c in element if c.tag == name)
        text = element.text if element.text is not None and element.text.strip() != "" else None
        if not children and text is not None and not len(child_order):
            out.append("%s<%s%s>%s</%s>\n" % (pad, element.tag, attrs, escape(element.text), element.tag))
            return
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
    attrs = "".join(" %s='%s'" % (_qname(element, k), escape(v)) for k, v in element.attrib.items())
    tag = _qname(element, element.tag)
    nsdecl = "".join(" xmlns%s='%s'" % ((":" + p) if p else "", escape(u))
                     for p, u in (element.nsmap or {}).items()
                     if element.getparent() is None or (element.getparent().nsmap or {}).get(p) != u)
    children = [c for c in element if isinstance(c.tag, str)]
    text = element.text if element.text and element.text.strip() else None
    if not children and text is None:
        out.append("%s<%s%s%s/>\n" % (pad, tag, nsdecl, attrs))
    elif not children:
        out.append("%s<%s%s%s>%s</%s>\n" % (pad, tag, nsdecl, attrs, escape(text), tag))
    else:
        out.append("%s<%s%s%s>\n" % (pad, tag, nsdecl, attrs))
        for child in children:
            _write_verbatim(child, indent + 2, out)
        out.append("%s</%s>\n" % (pad, tag))


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
    element = etree.fromstring(document_text.encode("utf-8"),
                               etree.XMLParser(remove_blank_text=True, resolve_entities=False,
                                               no_network=True, load_dtd=False))
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
                nodes.append(_detached_copy(item))
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


def _detached_copy(element):
    import copy
    clone = copy.deepcopy(element)
    clone.tail = None
    return clone


def escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr_dq(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
