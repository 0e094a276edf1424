"""Loading a libvirt test-driver node file (test:///ABS/PATH.xml).

The format is libvirt's: a <node> with <cpu>, <memory>, and <domain>,
<network>, <pool> (with <volume>), <interface> and <device> children, each
inline or referenced by file= relative to the node file. Domains start running
(ids 1, 2, ...) unless the test namespace says otherwise.
"""

from __future__ import annotations

import copy
import os

from ..api import DomainState, DriverError, ErrorCode, NodeInfo, Reason
from ..fsutil import MAX_XML_BYTES, ReadError, read_bounded
from ..ids import parse_uint
from ..xmlutil import parse
from .defaults import DEFAULT_NODE, DEFAULT_POOL
from .state import TEST_NS, TestDomainObj, TestPoolObj, TestState, TestVolObj, test_defaults
from .storage import size_of

_RUNSTATE = "{%s}runstate" % TEST_NS
_TRANSIENT = "{%s}transient" % TEST_NS
_MANAGEDSAVE = "{%s}hasmanagedsave" % TEST_NS
_SNAPSHOT = "{%s}domainsnapshot" % TEST_NS


def _read(path: str) -> bytes:
    """The node file or a file it references: a regular file of at most 10 MiB.

    A FIFO, device or directory is refused without reading (a FIFO must not
    hang the connection, /dev/zero must not fill memory).
    """
    try:
        return read_bounded(path, MAX_XML_BYTES, regular_only=True)
    except ReadError as err:
        if err.stage == "open":
            raise DriverError(ErrorCode.XML_ERROR, "failed to parse xml document '%s'" % path,
                              preamble='I/O warning : failed to load external entity "%s"\n' % path) from None
        if err.stage == "size":
            reason = "file is larger than %d bytes" % MAX_XML_BYTES
        else:
            reason = err.strerror
        raise DriverError(ErrorCode.XML_ERROR,
                          "failed to parse xml document '%s': %s" % (path, reason)) from None


def _count(text: str | None, default: int) -> int:
    """A node file number (cpu counts, memory, runstate); absent or unparsable is the default."""
    value = parse_uint(text.strip()) if text else None
    return default if value is None else value


def _child_document(element, base_dir: str, kind: str):
    """An inline element, or the document its file= attribute names."""
    ref = element.get("file")
    if ref is None:
        return element
    path = ref if os.path.isabs(ref) else os.path.join(base_dir, ref)
    return parse(_read(path), os.path.basename(path), root=kind)


def load_node_file(path: str) -> TestState:
    from lxml import etree

    from ..domxml import DomainDef
    from ..snapshots import SnapshotDef
    from ..storage.pooldef import parse_pool

    node = parse(_read(path), path, root="node")
    base_dir = os.path.dirname(path)
    state = TestState()

    cpu = node.find("cpu")
    model, memory, cpus, mhz, nodes, sockets, cores, threads = DEFAULT_NODE
    if cpu is not None:
        def num(tag, default):
            return _count(cpu.findtext(tag), default)
        mhz = num("mhz", mhz)
        model = cpu.findtext("model") or model
        nodes = num("nodes", nodes)
        sockets = num("sockets", sockets)
        cores = num("cores", cores)
        threads = num("threads", threads)
        cpus = nodes * sockets * cores * threads
        active = num("active", cpus)
        cpus = min(cpus, active)
    memory = _count(node.findtext("memory"), memory)
    state.node = NodeInfo(model, memory, cpus, mhz, nodes, sockets, cores, threads)


    def parse_domain(xml: str) -> DomainDef:
        return DomainDef.from_xml(xml, test_defaults())

    for element in node.iterfind("domain"):
        doc = _child_document(element, base_dir, "domain")
        runstate = doc.findtext(_RUNSTATE)
        transient = doc.find(_TRANSIENT) is not None
        managed_save = doc.find(_MANAGEDSAVE) is not None
        snapshots = [copy_el for copy_el in doc.iterfind(_SNAPSHOT)]
        definition = parse_domain(etree.tostring(doc, encoding="unicode"))
        obj = TestDomainObj(definition)
        obj.persistent = not transient
        obj.managed_save = managed_save
        state.domains.append(obj)
        wanted = _count(runstate, DomainState.RUNNING)
        if wanted != DomainState.SHUTOFF:
            state.start(obj, Reason.RUNNING_UNKNOWN)
            obj.state = wanted
        for snap_el in snapshots:
            # As in libvirt, <test:domainsnapshot> is itself the snapshot document, in
            # libvirt's internal form: <active>1</active> marks the current one.
            inner = _child_document(snap_el, base_dir, "domainsnapshot")
            inner.tag = "domainsnapshot"
            active = inner.findtext("active")
            if active is None:
                raise DriverError(ErrorCode.INTERNAL_ERROR, "Could not find 'active' element")
            current = active.strip() == "1"
            for el in inner.findall("active"):
                inner.remove(el)
            snap = SnapshotDef.parse(etree.tostring(inner, encoding="unicode"), redefine=True)
            obj.snapshot_tree().redefine(snap, None, parse_domain, current)
    for element in node.iterfind("pool"):
        doc = _child_document(element, base_dir, "pool")
        # libvirt ignores a pool's own sizes (they are output only): every test pool
        # starts as the default one, 100 GiB, filled by its volumes' allocations.
        definition = copy.deepcopy(doc)
        for vol_el in definition.findall("volume"):     # an inline pool's volumes are not its definition
            definition.remove(vol_el)
        pool = TestPoolObj(parse_pool(etree.tostring(definition, encoding="unicode")), DEFAULT_POOL["capacity"])
        # libvirt 9.0 reads <volume> children only for inline pools (with file= it
        # looks for them in the pool's own file and finds none); so does the twin.
        volumes = element.iterfind("volume") if element.get("file") is None else ()
        for vol_el in volumes:
            vol = _child_document(vol_el, base_dir, "volume")
            name = vol.findtext("name")
            if not name:
                raise DriverError(ErrorCode.XML_ERROR, "missing volume name element")
            vpath = vol.findtext("target/path") or os.path.join(pool.path, name)
            if not vol.findtext("capacity"):
                raise DriverError(ErrorCode.XML_ERROR, "missing capacity element")
            pool.add_volume(TestVolObj(name, vpath, vol.get("type", "file"), size_of(vol, "capacity"),
                                       size_of(vol, "allocation")))
        state.pools.append(pool)
    for element in node.iterfind("network"):
        from ..network.netdef import parse_network
        from .network import TestNetworkObj

        network = TestNetworkObj(parse_network(etree.tostring(_child_document(element, base_dir, "network"),
                                                              encoding="unicode")))
        network.active = True       # libvirt's test driver starts every network of a node file
        state.networks.append(network)
    return state
