"""Changes to a domain definition that both drivers make the same way: description, title
and custom metadata (virDomainGetMetadata/SetMetadata), memory and vCPU counts.

Each function works on a domxml.DomainDef in place and raises libvirt's errors; the
drivers decide which definitions (live, persistent) a call touches.
"""

from __future__ import annotations

from .api import DriverError, ErrorCode, MetadataType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .domxml import DomainDef

_ELEMENT_OF = {MetadataType.DESCRIPTION: "description", MetadataType.TITLE: "title"}


def _no_metadata() -> DriverError:
    return DriverError(ErrorCode.NO_DOMAIN_METADATA, "Requested metadata element is not present")


def get_metadata(definition: DomainDef, kind: int, uri: str | None) -> str:
    from lxml import etree
    root = definition.root
    if kind in _ELEMENT_OF:
        text = root.findtext(_ELEMENT_OF[kind])
        if not text:
            raise _no_metadata()
        return text
    if kind != MetadataType.ELEMENT:
        raise DriverError(ErrorCode.INVALID_ARG, "unknown metadata type '%d'" % kind)
    if uri is None:
        raise DriverError(ErrorCode.INVALID_ARG, "uri in virDomainGetMetadata must not be NULL")
    element = _find_element(root, uri)
    if element is None:
        raise _no_metadata()
    bare = _without_namespace(element, uri)
    return etree.tostring(bare, encoding="unicode", with_tail=False)


def set_metadata(definition: DomainDef, kind: int, metadata: str | None, key: str | None,
                 uri: str | None) -> None:
    from lxml import etree
    root = definition.root
    if kind in _ELEMENT_OF:
        name = _ELEMENT_OF[kind]
        if kind == MetadataType.TITLE and metadata and "\n" in metadata:
            raise DriverError(ErrorCode.RAW, "metadata title can't contain newlines")
        old = root.find(name)
        if not metadata:
            if old is not None:
                root.remove(old)
            return
        if old is None:
            old = etree.SubElement(root, name)
        old.text = metadata
        return
    if kind != MetadataType.ELEMENT:
        raise DriverError(ErrorCode.INVALID_ARG, "unknown metadata type '%d'" % kind)
    if uri is None:
        raise DriverError(ErrorCode.INVALID_ARG, "uri in virDomainSetMetadata must not be NULL")
    container = root.find("metadata")
    old = _find_element(root, uri)
    if old is not None:
        old.getparent().remove(old)
    if metadata is None:
        return
    if not key:
        raise DriverError(ErrorCode.INVALID_ARG, "namespace key is required when modifying metadata")
    from .xmlutil import parse
    given = parse(metadata, "metadata_xml")
    if container is None:
        container = etree.SubElement(root, "metadata")
    container.append(_in_namespace(given, key, uri))


def _find_element(root, uri: str):
    container = root.find("metadata")
    if container is None:
        return None
    for child in container:
        if isinstance(child.tag, str) and child.tag.startswith("{%s}" % uri):
            return child
    return None


def _rename(element, make_tag):
    from lxml import etree
    out = etree.Element(make_tag(element.tag), nsmap=None)
    for name, value in element.attrib.items():
        out.set(name, value)
    out.text = element.text
    for child in element:
        if isinstance(child.tag, str):
            new = _rename(child, make_tag)
        else:
            new = child.__copy__()
        new.tail = child.tail
        out.append(new)
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _in_namespace(element, key: str, uri: str):
    """The given element and its children moved into the namespace uri with prefix key."""
    from lxml import etree

    def tag(old):
        return "{%s}%s" % (uri, _local(old))
    out = etree.Element(tag(element.tag), nsmap={key: uri})
    moved = _rename(element, tag)
    out.text = moved.text
    for name, value in moved.attrib.items():
        out.set(name, value)
    for child in moved:
        out.append(child)
    return out


def _without_namespace(element, uri: str):
    from lxml import etree
    bare = _rename(element, _local)
    etree.cleanup_namespaces(bare)
    return bare


# ---------------------------------------------------------------------------
# memory and vCPUs
# ---------------------------------------------------------------------------

def check_memory_nonzero(kib: int) -> None:
    """libvirt's public API refuses a zero size before any driver sees it."""
    if kib == 0:
        raise DriverError(ErrorCode.RAW, "memory in virDomainSetMemoryFlags must not be zero")


def _set_kib(definition: DomainDef, name: str, kib: int) -> None:
    from lxml import etree
    el = definition.root.find(name)
    if el is None:
        el = etree.SubElement(definition.root, name)
    el.set("unit", "KiB")
    el.text = str(kib)


def set_current_memory(definition: DomainDef, kib: int) -> None:
    if kib > definition.memory_kib:
        raise DriverError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
    _set_kib(definition, "currentMemory", kib)


def set_max_memory(definition: DomainDef, kib: int) -> None:
    """The maximum; the current amount follows it down, as libvirt's."""
    _set_kib(definition, "memory", kib)
    if definition.current_memory_kib > kib:
        _set_kib(definition, "currentMemory", kib)


def set_vcpus(definition: DomainDef, count: int, maximum: bool) -> None:
    """<vcpu current='N'>MAX</vcpu>: the current count, or (maximum) the limit."""
    from lxml import etree
    vcpu = definition.root.find("vcpu")
    if vcpu is None:
        vcpu = etree.SubElement(definition.root, "vcpu")
        vcpu.text = "1"
    if maximum:
        current = min(definition.vcpus, count)
        vcpu.text = str(count)
    else:
        limit = definition.max_vcpus
        if count > limit:
            raise DriverError(ErrorCode.INVALID_ARG, "requested cpu amount exceeds maximum (%d > %d)"
                              % (count, limit))
        current = count
    if current == int(vcpu.text):
        vcpu.attrib.pop("current", None)
    else:
        vcpu.set("current", str(current))
