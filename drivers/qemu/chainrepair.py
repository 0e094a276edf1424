"""Recovery that needs no person: a cached chain that disagrees with QEMU is rebuilt from QEMU.

QEMU is the one authority on what a running domain has open. The cache in the status file
can still come to disagree with it: a status file rolled back (a backup restored, a file
system snapshot, a hand edit) or a bug. Acting on such a cache is how data is lost: a
snapshot would put its overlay over the wrong image, a commit would merge into a layer the
guest no longer reads. So before a chain-altering operation, and after every job, each
disk's cached chain is compared with QEMU's graph (after a job: at the end of the
reconcile, once the job is dismissed); where they differ the disk's chain is rebuilt from
the graph, layer by layer: the index from pyvirsh's node name (pvN-f), the path, format
and size from QEMU's image information; the next free index moves past every index QEMU
uses. A warning says what was repaired (drivers.notices, printed by the shell) and the
status is saved.

A disk is left alone when its graph cannot be read as pyvirsh's own (a node QEMU named, a
job's filter node on top: jobs are reconciled by blockjobs) or when it has a job recorded.
"""

from __future__ import annotations

import os

from .. import notices
from .chaincache import chain_of

# pvN-f: the format node of cached layer N (chainmodel.format_node)
_PREFIX, _SUFFIX = "pv", "-f"


def _index_of(node: str | None) -> int | None:
    if node is None or not node.startswith(_PREFIX) or not node.endswith(_SUFFIX):
        return None
    number = node[len(_PREFIX):-len(_SUFFIX)]
    return int(number) if number.isdigit() else None


class Graph:
    """QEMU's block graph, read once: each device's root node and image chain (query-block:
    file name, format and size per layer, top down) and the nodes' backing edges
    (x-debug-query-block-graph: which pyvirsh node backs which). query-named-block-nodes is
    not used: QEMU 7.2 crashes answering it while a finished stream still holds the nodes it
    dropped (seen in tests/test_blockjobs.py's partial pull)."""

    def __init__(self, q):
        self.drives = {}
        for drive in q.execute("query-block"):
            inserted = drive.get("inserted")
            if inserted:
                self.drives[drive.get("qdev", "")] = inserted
        graph = q.execute("x-debug-query-block-graph")
        by_id = {n["id"]: n["name"] for n in graph["nodes"]}
        self.names = set(by_id.values())
        self.children: dict[tuple[str, str], str] = {}
        for edge in graph["edges"]:
            self.children[(by_id[edge["parent"]], edge["name"])] = by_id[edge["child"]]

    def drive_of(self, alias: str) -> dict | None:
        for qdev, inserted in self.drives.items():
            if qdev in (alias, "/machine/peripheral/" + alias) or qdev.startswith("/machine/peripheral/%s/" % alias):
                return inserted
        return None

    def chain_of(self, inserted: dict) -> list[dict] | None:
        """The drive's layers from its root down, as dicts (index, path, format, type, size), or
        None when a node on the way is not one of pyvirsh's or a name is not a plain path."""
        out: list[dict] = []
        node: str | None = inserted.get("node-name")
        image: dict | None = inserted.get("image")
        while node is not None:
            index = _index_of(node)
            if index is None or image is None or len(out) > len(self.names):
                return None
            path = image.get("filename", "")
            if not path.startswith("/"):
                return None         # json:{...} or a protocol: not a name pyvirsh caches
            out.append({"index": index, "path": path, "format": image.get("format"),
                        "type": "block" if _is_block(path) else "file", "size": image.get("virtual-size")})
            node = self.children.get((node, "backing"))
            image = image.get("backing-image")
        return out if image is None else None


def _is_block(path: str) -> bool:
    import stat
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _cached(disk) -> list[tuple[int, str, str]]:
    return [(layer.index, layer.path, layer.format) for layer in chain_of(disk).layers()]


def repair_chains(dom, q) -> list[str]:
    """Rebuild every disk's cached chain that disagrees with QEMU's graph; return the targets
    repaired (the status is saved when there is any)."""
    status = dom.status
    if status is None:
        return []
    graph: Graph | None = None
    repaired = []
    for disk in status.definition.disks():
        cached = _cached(disk)
        if not cached or status.job_for(disk.target) is not None:
            continue
        if graph is None:
            graph = Graph(q)
        alias = disk.el.find("alias")
        inserted = graph.drive_of(alias.get("name")) if alias is not None and alias.get("name") else None
        live = graph.chain_of(inserted) if inserted is not None else None
        if live is None or [(layer["index"], layer["path"], layer["format"]) for layer in live] == cached:
            continue
        data_files = {layer.path: layer.data_file for layer in chain_of(disk).layers()}
        for layer in live:      # query-block does not name data files; an image keeps its own
            layer["data_file"] = data_files.get(layer["path"])
        chain_of(disk).rebuild(live)
        for layer in live:
            if layer["size"] is not None:
                status.capacity[layer["index"]] = layer["size"]
        status.next_index = max(status.next_index, 1 + max(_index_of(n) or 0 for n in graph.names))
        notices.warn("cached backing chain of disk '%s' disagreed with QEMU's block graph (%s); rebuilt "
                     "from the graph as %s" % (disk.target, " <- ".join(p for _, p, _ in cached),
                                               " <- ".join(layer["path"] for layer in live)))
        repaired.append(disk.target)
    if repaired:
        dom.save_status()
    return repaired
