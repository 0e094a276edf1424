"""Hostile or malformed XML gets a clear libvirt-style error and changes nothing.

Each case runs the real CLI and expects status 1, the exact 'error: ' lines
(no traceback, no Python exception reported as an internal error), and
nothing hanging: every run has a timeout, FIFOs included.
"""

from __future__ import annotations

import os
import re

import pytest

from difftool import DATA, call_main, virsh_missing_reason

DOMAIN = ("<domain type='test'><name>%s</name>%s<memory>1024</memory>%s"
          "<os><type>hvm</type></os>%s</domain>")


def run(args, cwd=DATA):
    """pyvirsh's entry point in this process (difftool.call_main), as a one-shot run in cwd.

    tests/test_bad_input.py runs a sample of bad input through the console script as a process.
    """
    out, err, status = call_main(args, cwd=str(cwd))
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), status


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def assert_fails(args, expected: list[str], cwd=DATA):
    """Status 1 and exactly the expected 'error: ' lines (a define's context line and its reason)."""
    out, err, rc = run(args, cwd=cwd)
    assert "Traceback" not in out + err
    assert not re.search(r"internal error: \w+(Error|Exception)\b", err), err
    assert rc == 1, (out, err)
    assert error_lines(err) == expected, err
    return out, err


def define_fails(path, reason: str):
    assert_fails(["-c", "test:///default", "define", str(path)],
                 ["error: Failed to define domain from %s" % path, "error: " + reason])


def domain_file(tmp_path, name="h", title="", vcpu="", devices="", fname="dom.xml"):
    path = tmp_path / fname
    path.write_text(DOMAIN % (name, title, vcpu, devices))
    return path


# 1. A parse error reports this document's error, not one left by an earlier parse.

def test_parse_error_is_this_documents_own(tmp_path):
    loop = tmp_path / "loop.xml"
    loop.write_text('<!DOCTYPE l [<!ENTITY a "&b;"><!ENTITY b "&a;">]><domain><name>&a;</name></domain>')
    bad = tmp_path / "bad.xml"
    bad.write_text("<domain>\n</domai>\n")
    assert_fails(["-c", "test:///default", "define %s; define %s" % (loop, bad)], [
        "error: Failed to define domain from %s" % loop,
        "error: (domain_definition):1: Detected an entity reference loop",
        "error: Failed to define domain from %s" % bad,
        "error: (domain_definition):2: Opening and ending tag mismatch: domain line 1 and domai",
    ])


# 2. A declared encoding other than UTF-8 does not garble the UTF-8 text virsh hands over.

def test_declared_latin1_encoding_round_trips_utf8(tmp_path):
    path = tmp_path / "enc.xml"
    path.write_bytes(("<?xml version='1.0' encoding='ISO-8859-1'?>\n"
                      + DOMAIN % ("enc", "<title>café</title>", "", "")).encode("utf-8"))
    out, err, rc = run(["-c", "test:///default", "define %s; dumpxml enc" % path])
    assert rc == 0, err
    assert "<title>café</title>" in out
    assert "caf\u00c3" not in out


# 3. No entity is ever expanded or silently dropped.

def test_internal_entity_is_refused(tmp_path):
    path = tmp_path / "ent.xml"
    path.write_text('<!DOCTYPE d [<!ENTITY x "y">]>' + DOMAIN % ("a&x;b", "", "", ""))
    define_fails(path, "XML error: entity 'x' is declared; entities are not supported")
    # Nothing was defined from it (the test driver's state lives as long as the process).
    out, _, _ = run(["-c", "test:///default", "define %s; list --all --name" % path])
    assert out.split() == ["test"]


def test_external_entity_inside_text_is_refused(tmp_path):
    path = tmp_path / "ext.xml"
    path.write_text('<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/hostname">]>' + DOMAIN % ("a&e;b", "", "", ""))
    define_fails(path, "XML error: entity reference '&e;' inside text is not supported")


def test_external_dtd_is_never_opened(tmp_path):
    fifo = tmp_path / "dtd.fifo"
    os.mkfifo(fifo)
    path = tmp_path / "dtd.xml"
    path.write_text('<!DOCTYPE d SYSTEM "%s">' % fifo + DOMAIN % ("d", "", "", ""))
    define_fails(path, "XML error: external DTD or entity '%s' is not supported" % fifo)


# 4. Node files and the files they reference: bounded, regular files only, never blocking.

def test_node_file_device_is_refused():
    assert_fails(["-c", "test:///dev/zero", "list"], [
        "error: failed to connect to the hypervisor",
        "error: XML error: failed to parse xml document '/dev/zero': not a regular file",
    ])


def test_node_file_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "node.fifo"
    os.mkfifo(fifo)
    assert_fails(["-c", "test://%s" % fifo, "list"], [
        "error: failed to connect to the hypervisor",
        "error: XML error: failed to parse xml document '%s': not a regular file" % fifo,
    ])


def test_node_file_referenced_fifo_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "dom.fifo")
    node = tmp_path / "node.xml"
    node.write_text("<node><domain file='dom.fifo'/></node>")
    assert_fails(["-c", "test://%s" % node, "list"], [
        "error: failed to connect to the hypervisor",
        "error: XML error: failed to parse xml document '%s': not a regular file" % (tmp_path / "dom.fifo"),
    ])


def test_node_file_too_large(tmp_path):
    node = tmp_path / "big.xml"
    node.write_bytes(b"<node>" + b" " * (10 << 20) + b"</node>")
    assert_fails(["-c", "test://%s" % node, "list"], [
        "error: failed to connect to the hypervisor",
        "error: XML error: failed to parse xml document '%s': file is larger than 10485760 bytes" % node,
    ])


def test_define_from_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "define.fifo"
    os.mkfifo(fifo)
    define_fails(fifo, "(domain_definition):1: Document is empty")


def test_define_from_endless_device_keeps_virsh_message():
    assert_fails(["-c", "test:///default", "define", "/dev/zero"],
                 ["error: Failed to read file '/dev/zero': Value too large for defined data type"])


# 5. Bad volume values in a node file are XML errors, as in libvirt; a pool's own
#    sizes are ignored (output only), garbage or not, as libvirt ignores them.

POOL = ("<node><pool type='dir'><name>p</name><capacity>%s</capacity><target><path>/p</path></target>"
        "%s</pool></node>")


@pytest.mark.parametrize("capacity, volume, reason", [
    ("100", "<volume><capacity>x1</capacity></volume>", "missing volume name element"),
    ("100", "<volume><name>v</name><capacity>x1</capacity></volume>", "malformed capacity element"),
    ("100", "<volume><name>v</name><capacity>1</capacity><allocation>-3</allocation></volume>",
     "malformed capacity element"),
    ("100", "<volume><name>v</name></volume>", "missing capacity element"),
])
def test_node_file_bad_storage_values(tmp_path, capacity, volume, reason):
    node = tmp_path / "pool.xml"
    node.write_text(POOL % (capacity, volume))
    assert_fails(["-c", "test://%s" % node, "pool-list --all"],
                 ["error: failed to connect to the hypervisor", "error: XML error: " + reason])


@pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")
def test_node_file_pool_sizes_are_ignored_as_by_virsh(tmp_path):
    import difftool
    node = tmp_path / "pool.xml"
    node.write_text(POOL % ("abc", ("<volume><name>v</name><capacity>1000</capacity>"
                                    "<allocation>10</allocation></volume>")))
    theirs, ours = difftool.compare(["-c", "test://%s" % node, "pool-info p; vol-list p --details"],
                                    in_process=True)

    def without_uuid(result):       # a pool without <uuid> gets a random one, in both
        return (re.sub(r"UUID:( +)\S+", r"UUID:\1U", result[0]),) + tuple(result[1:])
    assert without_uuid(ours) == without_uuid(theirs)
    assert "Capacity:       100.00 GiB\nAllocation:     10.00 B\n" in ours[0]


# 6. Numbers are ASCII digits: '²' and '١' (which str.isdigit accepts) are refused cleanly.

@pytest.mark.parametrize("vcpu", ["<vcpu>²</vcpu>", "<vcpu>١</vcpu>", "<vcpu>4294967296</vcpu>",
                                  "<vcpu>%s</vcpu>" % ("1" * 5000)])
def test_vcpu_count_must_be_ascii_integer(tmp_path, vcpu):
    define_fails(domain_file(tmp_path, vcpu=vcpu), "XML error: maximum vcpus count must be an integer")


def test_current_vcpus_must_be_ascii_integer(tmp_path):
    define_fails(domain_file(tmp_path, vcpu="<vcpu current='²'>2</vcpu>"),
                 "XML error: Invalid value for attribute 'current' in element 'vcpu': '²'. "
                 "Expected non-negative integer value")


def test_disk_address_controller_must_be_integer(tmp_path):
    disk = ("<devices><disk type='file' device='disk'><source file='/x'/><target dev='hda' bus='ide'/>"
            "<address type='drive' controller='x'/></disk></devices>")
    define_fails(domain_file(tmp_path, devices=disk),
                 "XML error: Invalid value for attribute 'controller' in element 'address': 'x'. "
                 "Expected non-negative integer value")


def test_disk_name_suffix_must_be_ascii(tmp_path):
    disk = "<devices><disk type='file' device='disk'><source file='/x'/><target dev='hda²' bus='ide'/></disk></devices>"
    define_fails(domain_file(tmp_path, devices=disk),
                 "XML error: Unknown disk name 'hda²' and no address specified")


def test_snapshot_creation_time_must_be_ascii(tmp_path):
    path = tmp_path / "snap.xml"
    path.write_text("<domainsnapshot><name>s</name><state>running</state>"
                    "<creationTime>²</creationTime></domainsnapshot>")
    assert_fails(["-c", "test:///default", "snapshot-create", "test", str(path), "--redefine"],
                 ["error: internal error: missing creationTime from existing snapshot"])


def test_node_file_non_ascii_numbers_fall_back_to_defaults(tmp_path):
    node = tmp_path / "cpu.xml"
    node.write_text("<node><cpu><mhz>²</mhz></cpu><memory>١</memory>"
                    "<domain file='dom.xml'/></node>")
    (tmp_path / "dom.xml").write_text(
        "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>n</name>"
        "<memory>1024</memory><os><type>hvm</type></os>"
        "<test:runstate>²</test:runstate></domain>")
    out, err, rc = run(["-c", "test://%s" % node, "nodeinfo; list --all"])
    assert rc == 0, err
    assert "Traceback" not in out + err
    assert re.search(r"CPU frequency:\s+1400 MHz", out)
    assert re.search(r" 1 +n +running", out)


# 7. Leaf elements are still written inline (the writer's merged branch).

def test_leaf_elements_written_inline(tmp_path):
    path = domain_file(tmp_path, name="leaf", title="<title>t &amp; u</title>")
    out, err, rc = run(["-c", "test:///default", "define %s; dumpxml leaf" % path])
    assert rc == 0, err
    assert "  <name>leaf</name>\n" in out
    assert "  <title>t &amp; u</title>\n" in out
