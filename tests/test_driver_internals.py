"""Driver internals the command-level tests cannot see: hand-kept copies that must
agree, the snapshot metadata cache, corrupt state files, what a lookup imports."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from pyvirsh.drivers.api import DriverError, ErrorCode
from pyvirsh.drivers.fsutil import atomic_write


# ---------------------------------------------------------------------------
# test:///default: the facts kept beside the XML
# ---------------------------------------------------------------------------

def test_default_domain_facts_match_the_default_xml():
    from pyvirsh.drivers.domxml import DomainDef
    from pyvirsh.drivers.test.defaults import DEFAULT_DOMAIN_FACTS, DEFAULT_DOMAIN_XML
    from pyvirsh.drivers.test.driver import TestDomainObj

    from pyvirsh.drivers.diskinfo import disk_records

    parsed = TestDomainObj(DomainDef.from_trusted_xml(DEFAULT_DOMAIN_XML))
    facts = dict(parsed.facts(), name=parsed.name, uuid=parsed.uuid,
                 disks=[disk.to_dict() for disk in disk_records(parsed.definition)])
    assert facts == DEFAULT_DOMAIN_FACTS


def test_default_domain_xml_is_canonical():
    """Printed unparsed while untouched, so it must be what parsing and printing gives."""
    from pyvirsh.drivers.domxml import DomainDef
    from pyvirsh.drivers.test.defaults import DEFAULT_DOMAIN_XML
    from pyvirsh.drivers.test.driver import test_defaults

    definition = DomainDef.from_xml(DEFAULT_DOMAIN_XML, test_defaults())
    assert definition.to_xml() == DEFAULT_DOMAIN_XML


def test_lookup_by_uuid_on_default_does_not_load_lxml():
    code = ("import sys, io, contextlib\n"
            "from pyvirsh.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['-c', 'test:///default', 'domstate', '6695eb01-f6a4-8304-79aa-97f2502e193f'])\n"
            "print('lxml' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"


# ---------------------------------------------------------------------------
# the domain id written by the schema writer
# ---------------------------------------------------------------------------

def test_to_xml_with_id_leaves_the_definition_alone():
    from pyvirsh.drivers.domxml import DomainDef
    from pyvirsh.drivers.qemu.status import Status
    from pyvirsh.drivers.test.defaults import DEFAULT_DOMAIN_XML

    definition = DomainDef.from_trusted_xml(DEFAULT_DOMAIN_XML)
    text = definition.to_xml(5)
    assert text.startswith("<domain type='test' id='5'>\n")
    assert text.replace(" id='5'", "", 1) == DEFAULT_DOMAIN_XML
    assert definition.root.get("id") is None
    status = Status(definition, 1, 1, 1234, 7, "/m", "/p", 3)
    assert "\n  <domain type='test' id='7'>\n    <name>test</name>\n" in status.to_xml()
    assert definition.root.get("id") is None


# ---------------------------------------------------------------------------
# corrupt state files
# ---------------------------------------------------------------------------

def test_corrupt_status_file_is_a_driver_error(tmp_path):
    from pyvirsh.drivers.qemu.status import Status
    path = tmp_path / "d.status.xml"
    path.write_text("<domstatus state='1'><monitor")
    with pytest.raises(DriverError) as info:
        Status.load(str(path))
    assert info.value.code is ErrorCode.INTERNAL_ERROR
    assert str(path) in str(info.value)


def test_corrupt_snapshot_metadata_is_a_driver_error(tmp_path):
    from pyvirsh.drivers.qemu.snapshots import Metadata
    path = tmp_path / "d.xml"
    path.write_text("<snapshots><domainsnapshot>")
    with pytest.raises(DriverError) as info:
        Metadata(str(path))
    assert str(path) in str(info.value)


_STATUS_HEAD = "<domstatus state='%s' reason='1' pid='5' id='2'><monitor path='/m'/><pidfile path='/p'/>"
_STATUS_TAIL = "<nextIndex>2</nextIndex>%s<domain type='kvm'><name>d</name></domain></domstatus>"


@pytest.mark.parametrize("text", [
    "<domstatus state='1' reason='1' pid='5' id='2'><monitor path='/m'/></domstatus>",      # fields missing
    _STATUS_HEAD % "x" + _STATUS_TAIL % "",                                                # not a number
    _STATUS_HEAD % "1" + _STATUS_TAIL % "<job id='pv-vda' disk='vda' kind='pull' base='two'/>",  # job field
])
def test_malformed_status_file_names_the_file_and_the_way_out(tmp_path, text):
    from pyvirsh.drivers.qemu.status import Status
    path = tmp_path / "d.status.xml"
    path.write_text(text)
    with pytest.raises(DriverError) as info:
        Status.load(str(path))
    assert "state file '%s' is unusable" % path in str(info.value)
    assert "move it aside" in str(info.value)


def test_job_fields_keep_their_types_through_the_status_file(tmp_path):
    from pyvirsh.drivers.qemu.status import Job
    from lxml import etree
    job = Job(id="pv-vda", disk="vda", kind="copy", top=1, base=4, bandwidth=1 << 20, flags=2,
              pivot_requested=True)
    again = Job.from_element(etree.fromstring(etree.tostring(job.to_element())), "f")
    assert (again.top, again.base, again.bandwidth, again.flags) == (1, 4, 1 << 20, 2)
    assert again.pivot_requested is True and again.abort_requested is False and again.pivot_on_ready is False
    assert job.to_element().get("pivot-requested") == "1" and job.to_element().get("abort-requested") is None


@pytest.mark.parametrize("name, reader, text", [
    ("offline-jobs-d.json", "read_json", "{not json"),
    ("d.shutoff", "read_number", "crashed"),
    ("next-id", "read_number", ""),
])
def test_corrupt_small_state_files_are_errors_not_empty(tmp_path, name, reader, text):
    from pyvirsh.drivers.qemu import statefile
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DriverError) as info:
        getattr(statefile, reader)(str(path))
    assert str(path) in str(info.value)
    assert getattr(statefile, reader)(str(tmp_path / "absent")) is None


def test_unreadable_state_file_is_an_error(tmp_path):
    from pyvirsh.drivers.qemu.statefile import read_state
    (tmp_path / "dir.status.xml").mkdir()
    with pytest.raises(DriverError) as info:
        read_state(str(tmp_path / "dir.status.xml"))
    assert "dir.status.xml' is unusable" in str(info.value)


# ---------------------------------------------------------------------------
# the QEMU snapshot metadata: parsed once while the file stays the same
# ---------------------------------------------------------------------------

def _snapshot_xml(*names, current=None):
    body = "".join("<domainsnapshot><name>%s</name><state>shutoff</state><creationTime>%d</creationTime>"
                   "</domainsnapshot>" % (name, n) for n, name in enumerate(names, 1))
    return "<snapshots%s><owned/>%s</snapshots>" % (" current='%s'" % current if current else "", body)


@pytest.fixture
def snapdom(tmp_path, monkeypatch):
    from pyvirsh.drivers.qemu import snapshots

    class Dom(snapshots.Snapshots):
        name = "d"
        paths = SimpleNamespace(snapshot_file=lambda name: str(tmp_path / (name + ".xml")))

    parses = []
    real = snapshots.parse_state

    def counting_parse(path):
        root = real(path)
        if root is not None:        # a missing file is not a parse
            parses.append(path)
        return root

    monkeypatch.setattr(snapshots, "parse_state", counting_parse)
    return Dom(), str(tmp_path / "d.xml"), parses


def test_snapshot_handles_share_one_parse(snapdom):
    dom, path, parses = snapdom
    names = ["s%d" % i for i in range(20)]
    atomic_write(path, _snapshot_xml(*names, current="s19"))
    snaps = dom.list_all_snapshots()
    assert sorted(s.name for s in snaps) == sorted(names)
    for snap in snaps:
        assert "<name>%s</name>" % snap.name in snap.get_xml_desc()
        assert snap.is_current() == (snap.name == "s19")
        snap.list_all_children()
    assert dom.snapshot_count() == 20
    assert parses == [path]


def test_snapshot_cache_follows_the_file(snapdom):
    dom, path, parses = snapdom
    assert dom.snapshot_count() == 0
    atomic_write(path, _snapshot_xml("a"))
    first = dom._metadata()
    assert list(first.tree.snaps) == ["a"] and dom._metadata() is first
    atomic_write(path, _snapshot_xml("a", "b"))          # another process wrote it
    assert list(dom._metadata().tree.snaps) == ["a", "b"]
    assert len(parses) == 2


def test_snapshot_update_reads_afresh_and_drops_the_cache(snapdom):
    dom, path, parses = snapdom
    atomic_write(path, _snapshot_xml("a", "b"))
    cached = dom._metadata()
    meta = dom._metadata_for_update()
    assert meta is not cached and len(parses) == 2
    meta.tree.remove("b")
    meta.save()
    assert list(dom._metadata().tree.snaps) == ["a"]
    assert list(cached.tree.snaps) == ["a", "b"]          # the read copy was never changed
    dom.drop_snapshot_metadata()
    assert dom.snapshot_count() == 0
    with pytest.raises(DriverError) as info:
        dom.snapshot_lookup_by_name("a")
    assert info.value.code is ErrorCode.NO_DOMAIN_SNAPSHOT
