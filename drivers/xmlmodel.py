"""A small declarative XML model in the spirit of virt-manager's virtinst:
typed objects over lxml elements whose properties are bound to an XPath
(an attribute, '@name', or a child's text or attribute, 'child/@name').

Reading never changes the document; setting a property creates the elements
on its path as needed, and setting None removes the attribute or text.
The document stays the single source: objects hold nothing but their element.
"""

from __future__ import annotations

# lxml is imported where an element is made: reading goes through the elements' own methods,
# and a module that only declares a model must not cost a command lxml's import.


def new_element(tag: str, attrs: tuple = ()):
    """A detached element with attributes in the given order: the one place models make one."""
    from lxml import etree
    el = etree.Element(tag)
    for name, value in attrs:
        el.set(name, value)
    return el


def _split(xpath: str) -> tuple[list[str], str | None]:
    """'target/@dev' -> (['target'], 'dev'); 'serial' -> (['serial'], None) (text)."""
    parts = xpath.split("/")
    if parts[-1].startswith("@"):
        return parts[:-1], parts[-1][1:]
    return parts, None


class XMLProperty:
    """One value bound to an XPath below an object's element.

    kind: str (as written), int (decimal or 0x hex, as libvirt's addresses),
    bool ('yes'/'no' or presence of an empty element when is_flag).
    """

    def __init__(self, xpath: str, kind=str, default=None, is_flag: bool = False):
        self.steps, self.attr = _split(xpath)
        self.kind = kind
        self.default = default
        self.is_flag = is_flag

    def _node(self, element, create: bool):
        node = element
        for step in self.steps:
            if step in ("", "."):
                continue
            child = node.find(step)
            if child is None:
                if not create:
                    return None
                child = new_element(step)
                node.append(child)
            node = child
        return node

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        node = self._node(obj.el, create=False)
        if self.is_flag:
            return node is not None
        if node is None:
            return self.default
        raw = node.get(self.attr) if self.attr else node.text
        if raw is None:
            return self.default
        if self.kind is int:
            return _integer(raw, self.attr, node.tag)
        if self.kind is bool:
            return raw in ("yes", "on")
        return raw

    def __set__(self, obj, value) -> None:
        if self.is_flag:
            node = self._node(obj.el, create=False)
            if value and node is None:
                self._node(obj.el, create=True)
            elif not value and node is not None:
                node.getparent().remove(node)
            return
        if value is None:
            node = self._node(obj.el, create=False)
            if node is not None:
                if self.attr:
                    node.attrib.pop(self.attr, None)
                else:
                    node.text = None
            return
        node = self._node(obj.el, create=True)
        text = ("yes" if value else "no") if self.kind is bool else str(value)
        if self.attr:
            node.set(self.attr, text)
        else:
            node.text = text


class XMLObject:
    """A typed view of one element."""

    tag = ""

    def __init__(self, element):
        self.el = element

    @classmethod
    def all_in(cls, parent) -> list:
        """Every <tag> child of parent, as objects of this class."""
        return [cls(el) for el in parent.iterfind(cls.tag)] if parent is not None else []

    def child(self, tag: str):
        return self.el.find(tag)

    def remove_children(self, tag: str) -> list:
        """Detach every <tag> child; return them (still whole, for a caller to re-attach)."""
        gone = self.el.findall(tag)
        for el in gone:
            self.el.remove(el)
        return gone

def integer_attribute(element, attr: str, default: int | None = None) -> int:
    """An element's numeric attribute (decimal or 0x-hex), default when absent; a value that
    is no number, or a missing one without a default, is libvirt's XML error naming the
    attribute (virXMLPropUInt), never a Python exception."""
    raw = element.get(attr)
    if raw is None:
        if default is None:
            from .api import DriverError, ErrorCode

            raise DriverError(ErrorCode.XML_ERROR, "Missing required attribute '%s' in element '%s'"
                              % (attr, element.tag))
        return default
    return _integer(raw, attr, element.tag)


def _integer(raw: str, attr: str | None, element: str) -> int:
    """A decimal or 0x-hex number; anything else is libvirt's XML error for it (virXMLPropUInt)."""
    from .api import DriverError, ErrorCode

    try:
        return int(raw, 16) if raw.lower().startswith("0x") else int(raw)
    except ValueError:
        what = "attribute '%s' in element '%s'" % (attr, element) if attr else "element '%s'" % element
        raise DriverError(ErrorCode.XML_ERROR, "Invalid value for %s: '%s'. Expected non-negative integer value"
                          % (what, raw)) from None
