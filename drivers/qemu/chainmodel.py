"""Typed objects for a disk's cached backing chain, bound to the live domain XML.

libvirt writes the chain of a running domain's disk into the <disk> itself: the
top image is the disk's own <source> (with index='1'), each image below it a
nested <backingStore type=... index=...> holding <format> and <source>, and an
empty <backingStore/> ends a chain known to be complete:

    <disk type='file'>                      TopLayer     index  source/@index
      <driver type='qcow2'/>                             format driver/@type
      <source file='top.qcow2' index='3'/>
      <backingStore type='file' index='2'>  BackingLayer index  @index
        <format type='qcow2'/>                           format format/@type
        <source file='base.qcow2'/>
        <backingStore/>                     (the terminator)
      </backingStore>
    </disk>

A DiskChain is the ordered list of those layers, top first, and the only code
that adds, moves or removes their elements: the block jobs and snapshots say
what happened to the chain (an overlay pushed on top, the layers between two
indexes dropped, a pivot to a lower layer or to a copy) and never touch lxml.
Layers are views: they read the document each time and hold nothing else. So
a TopLayer read after a pivot shows the new top: take what you need of the old
one (its index, its image) before asking for the change.
"""

from __future__ import annotations

from ..api import DriverError, ErrorCode
from ..diskinfo import backing_nodes
from ..xmlmodel import XMLObject, XMLProperty, new_element

BACKING = "backingStore"


def format_node(index: int) -> str:
    """QEMU's node name for layer N's format driver (pyvirsh names every node, QEMU probes none)."""
    return "pv%d-f" % index


def storage_node(index: int) -> str:
    """QEMU's node name for layer N's protocol (file or host_device) driver."""
    return "pv%d-s" % index


def data_node(index: int) -> str:
    """QEMU's node name for layer N's external data file (qcow2 data_file), a file node."""
    return "pv%d-d" % index


def _data_store(path: str):
    """libvirt's <dataStore> inside a layer's <source>: the qcow2 image's external data file."""
    store = new_element("dataStore", (("type", "file"),))
    store.append(new_element("format", (("type", "raw"),)))
    store.append(new_element("source", (("file", path),)))
    return store


def _source_path(source) -> str:
    """The image a <source> names (a file, or a block device); None only in a broken cache."""
    if source is None:
        return None         # type: ignore[return-value]
    return source.get("file") or source.get("dev")


class Layer(XMLObject):
    """One image of a cached chain (TopLayer or BackingLayer). In a cached chain every layer
    has an index and a path; only a disk without a cache has a top without an index."""

    index: int
    format: str
    type: str
    readonly: bool

    @property
    def path(self) -> str:
        return _source_path(self.el.find("source"))

    @property
    def node_name(self) -> str:
        return format_node(self.index)

    @property
    def storage_node_name(self) -> str:
        return storage_node(self.index)

    def layers_below(self) -> tuple[list[BackingLayer], bool]:
        """The layers under this one, top down (diskinfo.backing_nodes: the one walk down a
        chain in XML), and whether they end with the terminator (the chain is known complete)."""
        nodes, terminated = backing_nodes(self.el)
        return [BackingLayer(node) for node in nodes], terminated

    @property
    def data_file(self) -> str | None:
        """The external data file of a qcow2 layer (probed at start, kept in the cache), or None."""
        store = self.el.find("source/dataStore/source")
        return store.get("file") if store is not None else None

    def image(self) -> tuple[str, str]:
        """(path, format): what the snapshot and merge bookkeeping records of a layer."""
        return self.path, self.format

    def _set_below(self, below) -> None:
        """Make element `below` (a <backingStore>, or None for the terminator) this layer's only
        backing; anything below it before is detached."""
        self.remove_children(BACKING)
        if below is None:
            below = new_element(BACKING)
        elif below.getparent() is not None:
            below.getparent().remove(below)
        self.el.find("source").addnext(below)


class TopLayer(Layer):
    """The disk's own image: <disk type><driver type/><source index/></disk>."""

    tag = "disk"
    index = XMLProperty("source/@index", int)
    format = XMLProperty("driver/@type", default="raw")
    type = XMLProperty("@type", default="file")
    readonly = XMLProperty("readonly", is_flag=True)


class BackingLayer(Layer):
    """An image below the top: <backingStore type index><format type/><source/></backingStore>."""

    tag = BACKING
    index = XMLProperty("@index", int)
    format = XMLProperty("format/@type", default="raw")
    type = XMLProperty("@type", default="file")
    readonly = True                 # QEMU opens backing images read-only

    @classmethod
    def new(cls, path: str, fmt: str, disk_type: str | None, index: int,
            data_file: str | None = None) -> BackingLayer:
        """A detached layer (libvirt's element and attribute order)."""
        kind = disk_type if disk_type in ("file", "block") else "file"
        layer = cls(new_element(BACKING, (("type", kind), ("index", str(index)))))
        layer.format = fmt
        source = new_element("source", (("dev" if kind == "block" else "file", path),))
        if data_file:
            source.append(_data_store(data_file))
        layer.el.append(source)
        return layer


class DiskChain(XMLObject):
    """The cached chain of one live <disk>, top first."""

    tag = "disk"

    @property
    def top(self) -> TopLayer:
        return TopLayer(self.el)

    @property
    def cached(self) -> bool:
        """Is a chain recorded (a live disk with media), or is this an inactive definition?"""
        source = self.el.find("source")
        # (an ejected drive keeps an empty <source index='N'/> in libvirt's live XML: no chain)
        return source is not None and source.get("index") is not None and names_media(source)

    def layers(self) -> list[Layer]:
        """Every layer, top first; empty for a disk without a cached chain."""
        if not self.cached:
            return []
        return [self.top, *self.top.layers_below()[0]]

    def written_below(self) -> tuple[list[BackingLayer], bool]:
        """The layers below the top as the XML has them (a user's <backingStore> chain in a
        definition, or the cache), and whether they end with the terminator."""
        return self.top.layers_below()

    def indexes(self) -> list[int]:
        return [layer.index for layer in self.layers()]

    def by_index(self, index: int) -> Layer:
        for layer in self.layers():
            if layer.index == index:
                return layer
        raise DriverError(ErrorCode.INTERNAL_ERROR, "backing store index %s vanished from the cache" % index)

    def position(self, layer: Layer) -> int:
        return self.indexes().index(layer.index)

    def parent_of(self, layer: Layer) -> Layer:
        chain = self.layers()
        position = self.position(layer)
        if position == 0:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "top '%s' has no parent in the chain" % layer.path)
        return chain[position - 1]

    def below(self, layer: Layer) -> list[Layer]:
        """The layers under `layer`, top down."""
        return self.layers()[self.position(layer) + 1:]

    def between(self, top: Layer, base: Layer) -> list[Layer]:
        """The layers from top down to just above base."""
        return self.layers()[self.position(top):self.position(base)]

    def find(self, target: str, spec: str) -> Layer:
        """Resolve 'vda', 'vda[N]' or a path to one layer (libvirt's wording on failure)."""
        chain = self.layers()
        if spec.startswith(target + "[") and spec.endswith("]"):
            number = spec[len(target) + 1:-1]
            if not number.isdigit():
                raise DriverError(ErrorCode.INVALID_ARG, "invalid backing store index '%s'" % spec)
            for layer in chain:
                if layer.index == int(number):
                    return layer
            raise DriverError(ErrorCode.INVALID_ARG, "could not find backing store index '%s' in chain for "
                              "'%s'" % (number, target))
        if spec == target and chain:
            return chain[0]
        for layer in chain:
            if layer.path == spec:
                return layer
        raise DriverError(ErrorCode.INVALID_ARG, "could not find image '%s' in chain for '%s'" % (spec, target))

    # ------------------------------------------------------------------
    # the transformations (each returns the indexes of the layers it dropped)
    # ------------------------------------------------------------------

    def record(self, probed: list, next_index: int, reserved: tuple[int, ...] = ()) -> int:
        """Cache a probed chain (objects with path, format, type; top first), ended by the
        terminator: its first layers take the indexes reserved for them (in order), the rest
        are numbered from next_index down; return the next free index."""
        numbers = iter(reserved)

        def number() -> int:
            nonlocal next_index
            index = next(numbers, None)
            if index is None:
                index, next_index = next_index, next_index + 1
            return index
        self.top.index = number()
        upper: Layer = self.top
        upper.remove_children(BACKING)
        top_data = getattr(probed[0], "data_file", None)
        if top_data and self.el.find("source/dataStore") is None:
            self.el.find("source").append(_data_store(top_data))
        for info in probed[1:]:
            layer = BackingLayer.new(info.path, info.format, info.type, number(),
                                     getattr(info, "data_file", None))
            upper._set_below(layer.el)
            upper = layer
        upper._set_below(None)
        return next_index

    def rebuild(self, live: list[dict]) -> None:
        """Replace the whole cached chain by one read from QEMU (chainrepair): dicts with index,
        path, format and type, top first; the indexes are QEMU's node numbers, kept as they are."""
        top = live[0]
        self._replace_top_source(top["path"], top["type"], top["format"], top["index"], top.get("data_file"))
        upper: Layer = self.top
        for info in live[1:]:
            layer = BackingLayer.new(info["path"], info["format"], info["type"], info["index"], info.get("data_file"))
            upper._set_below(layer.el)
            upper = layer
        upper._set_below(None)

    def drop_between(self, upper: Layer, lower: Layer | None) -> list[int]:
        """`lower` (or nothing: the terminator) becomes upper's backing (a pull, an intermediate
        commit); the layers that were between them are dropped."""
        dropped = []
        for layer in upper.layers_below()[0]:
            if lower is not None and layer.el is lower.el:
                break
            if layer.index is not None:
                dropped.append(layer.index)
        upper._set_below(lower.el if lower is not None else None)
        return dropped

    def pivot_to_layer(self, layer: Layer) -> list[int]:
        """A lower layer becomes the disk's top (an active commit pivoted); the layers above it
        are dropped, its own backing stays."""
        indexes = self.indexes()         # before the change: the top's view then shows the new top
        position = indexes.index(layer.index)
        if position == 0:
            return []
        below = layer.el.find(BACKING)
        self._replace_top_source(layer.path, layer.type, layer.format, layer.index, layer.data_file)
        self.top._set_below(below)
        return indexes[:position]

    def pivot_to_copy(self, path: str, fmt: str, disk_type: str, index: int, keep_backing: bool) -> list[int]:
        """A copy was pivoted to: it becomes the top, over the old backing if shallow."""
        chain = self.layers()
        dropped = [chain[0].index] + ([] if keep_backing else [item.index for item in chain[1:]])
        self._replace_top_source(path, disk_type, fmt, index)
        if not keep_backing:
            self.top._set_below(None)
        return dropped

    def push_overlay(self, path: str, fmt: str, disk_type: str, index: int) -> None:
        """An external snapshot: the new overlay is the top, the old top its backing."""
        old = self.top
        pushed = BackingLayer.new(old.path, old.format, old.type, old.index, old.data_file)
        for el in old.remove_children(BACKING):
            pushed.el.append(el)
        self._replace_top_source(path, disk_type, fmt, index)
        self.top._set_below(pushed.el)

    def mark_empty(self, index: int) -> None:
        """An empty drive's number: libvirt's live <source index='N'/>, after <driver>."""
        source = self.el.find("source")
        if source is None:
            source = new_element("source", ())
            anchor = self.el.find("driver")
            if anchor is not None:
                anchor.addnext(source)
            else:
                self.el.insert(0, source)
        source.set("index", str(index))

    def forget(self) -> None:
        """No chain cached: a persistent definition keeps neither detected layers nor indexes."""
        self.remove_children(BACKING)
        self.top.index = None
        source = self.el.find("source")
        for store in source.findall("dataStore") if source is not None else []:
            source.remove(store)        # detected, like the chain: not part of a definition
        if source is not None and not source.attrib and len(source) == 0:
            self.el.remove(source)      # an empty drive's live <source index='N'/>: nothing left

    def point_at(self, disk, disk_type: str, path: str, fmt: str) -> None:
        """The disk (a domxml.Disk over this element) names one image, with nothing cached below
        it (the persistent definition after a pivot, a snapshot or a revert)."""
        disk.set_source(disk_type, path)
        if self.el.find("driver") is None:
            self.el.append(new_element("driver", (("name", "qemu"),)))
        self.top.format = fmt
        self.remove_children(BACKING)

    def _replace_top_source(self, path: str, disk_type: str, fmt: str, index: int,
                            data_file: str | None = None) -> None:
        """A fresh <source> (nothing of the old image's source stays) with the new index."""
        old = self.el.find("source")
        source = new_element("source", (("dev" if disk_type == "block" else "file", path), ("index", str(index))))
        if data_file:
            source.append(_data_store(data_file))
        old.addprevious(source)
        self.el.remove(old)
        self.el.set("type", disk_type)
        self.el.find("driver").set("type", fmt)


def names_media(source) -> bool:
    """Does a <source> name a medium (an image, device, directory, network or pool volume)?
    An ejected drive's live <source index='N'/> names none."""
    return any(source.get(a) for a in ("file", "dev", "dir", "name", "volume"))
