"""Loading a libvirt test-driver node file (test:///ABS/PATH.xml).

The format is libvirt's: a <node> with <cpu>, <memory>, and <domain>,
<network>, <pool> (with <volume>), <interface> and <device> children, each
inline or referenced by file= relative to the node file. Domains start running
(ids 1, 2, ...) unless the test namespace says otherwise.
"""

from __future__ import annotations

import os

from ..api import DomainState, DriverError, ErrorCode, NodeInfo, Reason
from ..xmlutil import parse
from .defaults import DEFAULT_NODE
from .driver import TEST_NS, TestDomainObj, TestState

_RUNSTATE = "{%s}runstate" % TEST_NS
_TRANSIENT = "{%s}transient" % TEST_NS
_MANAGEDSAVE = "{%s}hasmanagedsave" % TEST_NS
_SNAPSHOT = "{%s}domainsnapshot" % TEST_NS


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise DriverError(ErrorCode.XML_ERROR, "failed to parse xml document '%s'" % path,
                          preamble='I/O warning : failed to load external entity "%s"\n' % path) from None


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
    from .driver import TestConnection

    node = parse(_read(path), path, root="node")
    base_dir = os.path.dirname(path)
    state = TestState()

    cpu = node.find("cpu")
    model, memory, cpus, mhz, nodes, sockets, cores, threads = DEFAULT_NODE
    if cpu is not None:
        def num(tag, default):
            text = cpu.findtext(tag)
            return int(text) if text and text.strip().isdigit() else default
        mhz = num("mhz", mhz)
        model = cpu.findtext("model") or model
        nodes = num("nodes", nodes)
        sockets = num("sockets", sockets)
        cores = num("cores", cores)
        threads = num("threads", threads)
        cpus = nodes * sockets * cores * threads
        active = num("active", cpus)
        cpus = min(cpus, active)
    mem_text = node.findtext("memory")
    if mem_text and mem_text.strip().isdigit():
        memory = int(mem_text)
    state.node = NodeInfo(model, memory, cpus, mhz, nodes, sockets, cores, threads)

    helper = TestConnection("test://" + path, state, False)
    for element in node.iterfind("domain"):
        doc = _child_document(element, base_dir, "domain")
        runstate = doc.findtext(_RUNSTATE)
        transient = doc.find(_TRANSIENT) is not None
        managed_save = doc.find(_MANAGEDSAVE) is not None
        snapshots = [copy_el for copy_el in doc.iterfind(_SNAPSHOT)]
        definition = helper._parse_definition(etree.tostring(doc, encoding="unicode"))
        obj = TestDomainObj(definition)
        obj.persistent = not transient
        obj.managed_save = managed_save
        state.domains.append(obj)
        wanted = int(runstate) if runstate and runstate.strip().isdigit() else DomainState.RUNNING
        if wanted != DomainState.SHUTOFF:
            state.start(obj, Reason.RUNNING_UNKNOWN)
            obj.state = wanted
        for snap_el in snapshots:
            inner = snap_el.find("domainsnapshot") if snap_el.get("file") is None else \
                _child_document(snap_el, base_dir, "domainsnapshot")
            if inner is None:
                continue
            snap = SnapshotDef.parse(etree.tostring(inner, encoding="unicode"), redefine=True)
            tree = obj.snapshot_tree()
            tree.add(snap)
            if inner.findtext("active") == "1":
                tree.current = snap.name
    for element in node.iterfind("pool"):
        doc = _child_document(element, base_dir, "pool")
        pool = {
            "name": doc.findtext("name"),
            "uuid": doc.findtext("uuid"),
            "type": doc.get("type"),
            "path": doc.findtext("target/path") or "",
            "capacity": int(doc.findtext("capacity") or 0),
            "allocation": int(doc.findtext("allocation") or 0),
            "available": int(doc.findtext("available") or 0),
            "volumes": [], "active": True, "persistent": True, "autostart": False,
        }
        # libvirt 9.0 reads <volume> children only for inline pools (with file= it
        # looks for them in the pool's own file and finds none); so does the twin.
        volumes = element.iterfind("volume") if element.get("file") is None else ()
        for vol_el in volumes:
            vol = _child_document(vol_el, base_dir, "volume")
            name = vol.findtext("name")
            vpath = vol.findtext("target/path") or os.path.join(pool["path"], name)
            allocation = int(vol.findtext("allocation") or 0)
            pool["volumes"].append({"name": name, "path": vpath, "type": vol.get("type", "file"),
                                    "capacity": int(vol.findtext("capacity") or 0),
                                    "allocation": allocation, "format": None})
            pool["allocation"] += allocation
            pool["available"] = max(pool["capacity"] - pool["allocation"], 0)
        state.pools.append(pool)
    return state
