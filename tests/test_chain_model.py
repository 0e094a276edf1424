"""The XML model of cached backing chains and snapshot disks (drivers/qemu/chainmodel.py,
snapshotmodel.py), without QEMU: each transformation a block job or snapshot asks for,
checked on the XML it leaves (the layout libvirt writes) and on the indexes it reports
dropped. The QEMU tests (test_chain_integrity.py, test_blockjobs.py, test_snapshots.py)
check the same transformations against QEMU's own block graph."""

from __future__ import annotations

import pytest
from lxml import etree

from pyvirsh.drivers.api import DriverError
from pyvirsh.drivers.qemu.chainmodel import BackingLayer, DiskChain, TopLayer
from pyvirsh.drivers.qemu.snapshotmodel import (SnapshotDisk, SnapshotIntent, metadata_document,
                                                read_metadata_document)


class Probed:
    def __init__(self, path, fmt, kind="file"):
        self.path, self.format, self.type = path, fmt, kind


def disk(extra: str = "") -> DiskChain:
    return DiskChain(etree.fromstring(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/i/top'/>"
        "<target dev='vda' bus='virtio'/>%s</disk>" % extra))


def xml(chain: DiskChain) -> str:
    return etree.tostring(chain.el, encoding="unicode")


def cached() -> DiskChain:
    """top (1) <- mid (2) <- base (3, raw), then overlays s1 (4) and s2 (5) pushed on top."""
    chain = disk()
    assert chain.record([Probed("/i/top", "qcow2"), Probed("/i/mid", "qcow2"), Probed("/dev/base", "raw", "block")],
                        1) == 4
    chain.push_overlay("/i/s1", "qcow2", "file", 4)
    chain.push_overlay("/i/s2", "qcow2", "file", 5)
    return chain


def view(chain: DiskChain) -> list[tuple]:
    return [(layer.index, layer.path, layer.format, layer.type, layer.readonly) for layer in chain.layers()]


def test_record_writes_libvirts_layout_numbered_from_the_next_free_index():
    chain = disk()
    assert not chain.cached and chain.layers() == []
    assert chain.record([Probed("/i/top", "qcow2"), Probed("/dev/base", "raw", "block")], 7) == 9
    assert xml(chain) == (
        "<disk type=\"file\" device=\"disk\"><driver name=\"qemu\" type=\"qcow2\"/>"
        "<source file=\"/i/top\" index=\"7\"/>"
        "<backingStore type=\"block\" index=\"8\"><format type=\"raw\"/><source dev=\"/dev/base\"/>"
        "<backingStore/></backingStore><target dev=\"vda\" bus=\"virtio\"/></disk>")
    assert view(chain) == [(7, "/i/top", "qcow2", "file", False), (8, "/dev/base", "raw", "block", True)]
    assert isinstance(chain.top, TopLayer) and isinstance(chain.layers()[1], BackingLayer)
    assert [layer.node_name for layer in chain.layers()] == ["pv7-f", "pv8-f"]
    assert chain.top.storage_node_name == "pv7-s"
    # Recording again replaces the old cache (a restart numbers afresh).
    assert chain.record([Probed("/i/top", "qcow2")], 1) == 2
    assert view(chain) == [(1, "/i/top", "qcow2", "file", False)]
    assert chain.top.layers_below() == ([], True)


def test_push_overlay_puts_the_old_top_below_the_new_one():
    chain = cached()
    assert chain.indexes() == [5, 4, 1, 2, 3]
    assert [layer.path for layer in chain.layers()] == ["/i/s2", "/i/s1", "/i/top", "/i/mid", "/dev/base"]
    assert chain.top.format == "qcow2" and chain.el.get("type") == "file"
    assert chain.top.layers_below()[1] is True


def test_pull_drops_every_layer_between_top_and_base():
    chain = cached()
    assert chain.drop_between(chain.top, chain.by_index(2)) == [4, 1]
    assert chain.indexes() == [5, 2, 3]
    assert chain.drop_between(chain.top, None) == [2, 3]         # a full pull: nothing below
    assert chain.indexes() == [5] and chain.top.layers_below() == ([], True)


def test_intermediate_commit_drops_the_committed_layers():
    chain = cached()
    top = chain.by_index(4)
    base = chain.by_index(2)
    assert [layer.path for layer in chain.between(top, base)] == ["/i/s1", "/i/top"]
    assert chain.parent_of(top).index == 5
    assert chain.drop_between(chain.parent_of(top), base) == [4, 1]
    assert chain.indexes() == [5, 2, 3]
    with pytest.raises(DriverError, match="has no parent"):
        chain.parent_of(chain.top)


def test_active_commit_pivot_makes_the_base_the_top():
    chain = cached()
    assert chain.pivot_to_layer(chain.by_index(1)) == [5, 4]    # counted before the top changed
    assert view(chain)[0] == (1, "/i/top", "qcow2", "file", False)
    assert chain.indexes() == [1, 2, 3]
    assert chain.el.find("source").attrib == {"file": "/i/top", "index": "1"}
    assert chain.pivot_to_layer(chain.top) == []


@pytest.mark.parametrize("shallow", [False, True])
def test_copy_pivot_replaces_the_top(shallow):
    chain = cached()
    dropped = chain.pivot_to_copy("/dev/copy", "raw", "block", 9, keep_backing=shallow)
    assert dropped == ([5] if shallow else [5, 4, 1, 2, 3])
    assert chain.el.get("type") == "block" and chain.top.format == "raw"
    assert chain.el.find("source").attrib == {"dev": "/dev/copy", "index": "9"}
    assert chain.indexes() == ([9, 4, 1, 2, 3] if shallow else [9])


def test_find_takes_a_target_an_index_or_a_path_with_libvirts_errors():
    chain = cached()
    assert chain.find("vda", "vda").index == 5
    assert chain.find("vda", "vda[2]").path == "/i/mid"
    assert chain.find("vda", "/dev/base").index == 3
    for spec, message in (("vda[x]", "invalid backing store index 'vda[x]'"),
                          ("vda[9]", "could not find backing store index '9' in chain for 'vda'"),
                          ("/nope", "could not find image '/nope' in chain for 'vda'")):
        with pytest.raises(DriverError) as err:
            chain.find("vda", spec)
        assert str(err.value).endswith(message)
    with pytest.raises(DriverError, match="vanished from the cache"):
        chain.by_index(42)


def test_forget_and_point_at_leave_a_definition_without_a_cache():
    chain = cached()
    chain.forget()
    assert not chain.cached and chain.el.find("backingStore") is None
    assert chain.el.find("source").attrib == {"file": "/i/s2"}

    class Disk:     # what domxml.Disk.set_source does, for the model's caller
        def __init__(self, el):
            self.el = el

        def set_source(self, kind, path):
            self.el.set("type", kind)
            self.el.find("source").attrib.clear()
            self.el.find("source").set("dev" if kind == "block" else "file", path)

    bare = DiskChain(etree.fromstring("<disk type='file'><source file='/a'/><backingStore/></disk>"))
    bare.point_at(Disk(bare.el), "file", "/b", "qcow2")
    assert xml(bare) == '<disk type="file"><source file="/b"/><driver name="qemu" type="qcow2"/></disk>'


def test_a_chain_written_by_the_user_is_read_as_written():
    chain = disk("<backingStore type='file'><format type='qcow2'/><source file='/i/mid'/>"
                 "<backingStore type='block'><format type='raw'/><source dev='/dev/b'/></backingStore>"
                 "</backingStore>")
    written, terminated = chain.written_below()
    assert [(layer.path, layer.format, layer.type) for layer in written] == [("/i/mid", "qcow2", "file"),
                                                                             ("/dev/b", "raw", "block")]
    assert terminated is False
    assert chain.layers() == []         # not a cache: the top has no index


def test_snapshot_disk_points_at_its_overlay():
    entry = SnapshotDisk(etree.fromstring("<disk name='vda' snapshot='external'><source file='/x' "
                                          "startupPolicy='optional'/></disk>"))
    assert entry.external and not entry.internal and entry.source_file == "/x"
    entry.set_external_image("/i/vda.s1")
    assert etree.tostring(entry.el, encoding="unicode") == (
        '<disk name="vda" snapshot="external" type="file"><source file="/i/vda.s1"/>'
        '<driver type="qcow2"/></disk>')


def test_snapshot_intent_and_metadata_round_trip():
    from pyvirsh.drivers.snapshots import SnapshotDef
    snap = SnapshotDef(etree.fromstring("<domainsnapshot><name>s1</name><disks><disk name='vda' "
                                        "snapshot='external'/></disks></domainsnapshot>"))
    intent = SnapshotIntent.new_snapshot(with_metadata=True)
    intent.add_overlay("vda", "/i/vda.s1", 6, created=True, size=1 << 20)
    intent.keep_snapshot(snap)
    assert etree.tostring(intent.el, encoding="unicode").startswith(
        '<intent op="snapshot" metadata="1"><overlay disk="vda" path="/i/vda.s1" index="6" created="1" '
        'size="1048576"/><domainsnapshot>')

    class Status:
        intent = None
    status = Status()
    intent.record_in(status)
    again = SnapshotIntent(status.intent)
    assert again.op == "snapshot" and again.with_metadata
    overlay = again.overlay_for("vda")
    assert (overlay.path, overlay.index, overlay.created, overlay.size) == ("/i/vda.s1", 6, True, 1 << 20)
    with pytest.raises(DriverError, match="no overlay for disk 'vdb'"):
        again.overlay_for("vdb")
    copy = again.snapshot()
    assert copy.name == "s1" and copy.root is not snap.root
    text = metadata_document("s1", {"/i/b", "/i/a"}, [copy])
    assert text.startswith('<snapshots current="s1">\n  <owned>\n    <file path="/i/a"/>\n    <file path="/i/b"/>')
    current, owned, snapshots = read_metadata_document(etree.fromstring(text))
    assert (current, owned, [el.findtext("name") for el in snapshots]) == ("s1", ["/i/a", "/i/b"], ["s1"])
