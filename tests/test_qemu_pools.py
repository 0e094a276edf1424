"""`dir` storage pools on the QEMU driver, on real directories.

Every expected text below was recorded from virsh 9.0 against libvirtd 9.0
(qemu:///system, the recipe of virsh-behaviour.md Appendix C) running the same
commands; UUIDs, measured sizes and the temporary directory are masked the same
way on both sides (see `masked`).
"""

from __future__ import annotations

import os
import re
import threading

import pytest

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PRETTY = re.compile(r"\d+\.\d\d [KMGTPE]?i?B")
BYTES = re.compile(r"(unit='bytes'>)\d+<")


def masked(text: str, base: str) -> str:
    text = text.replace(base, "/POOLS")
    text = UUID.sub("UUID", text)
    text = PRETTY.sub("SIZE", text)
    return BYTES.sub(r"\1N<", text)


class Pools:
    def __init__(self, env):
        self.env = env
        self.base = os.path.join(env.base, "pools")
        os.makedirs(self.base)

    def dir(self, name: str) -> str:
        return os.path.join(self.base, name)

    def run(self, *args):
        proc = self.env.run(*args)
        return proc.returncode, masked(proc.stdout, self.base), masked(proc.stderr, self.base)

    def ok(self, *args) -> str:
        rc, out, err = self.run(*args)
        assert rc == 0 and err == "", (args, out, err)
        return out

    def fails(self, *args) -> str:
        """A refused command: exit 1, nothing on stdout but the blank line, the error lines returned."""
        rc, out, err = self.run(*args)
        assert rc == 1 and out == "\n", (args, rc, out, err)
        return err


@pytest.fixture
def pools(env):
    return Pools(env)


def state_files(env) -> dict[str, bytes]:
    """Every file under the connection's root and the pools' directory: what must not change."""
    out = {}
    for top in (env.root, os.path.join(env.base, "pools")):
        for dirpath, dirnames, filenames in os.walk(top):
            for d in dirnames:
                out[os.path.join(dirpath, d)] = b"<dir>"
            for f in filenames:
                full = os.path.join(dirpath, f)
                if f.endswith(".lock") or not os.path.isfile(full) or os.path.islink(full):
                    continue            # locks, sockets, pipes
                with open(full, "rb") as fh:
                    out[full] = fh.read()
    return out


def test_dir_pool_lifecycle_as_virsh_and_libvirtd(pools):
    p1 = pools.dir("p1")
    assert pools.ok("pool-define-as", "p1", "dir", "--target", p1) == "Pool p1 defined\n\n"
    assert pools.ok("pool-list", "--all") == (
        " Name   State      Autostart\n"
        "------------------------------\n"
        " p1     inactive   no\n\n")
    assert pools.ok("pool-list", "--all", "--details") == (
        " Name   State      Autostart   Persistent   Capacity   Allocation   Available\n"
        "-------------------------------------------------------------------------------\n"
        " p1     inactive   no          yes          -          -            -\n\n")
    assert pools.ok("pool-info", "p1") == (
        "Name:           p1\nUUID:           UUID\nState:          inactive\nPersistent:     yes\n"
        "Autostart:      no\n\n")
    assert not os.path.exists(p1)
    assert pools.ok("pool-build", "p1") == "Pool p1 built\n\n"
    assert os.stat(p1).st_mode & 0o777 == 0o711
    assert pools.ok("pool-start", "p1") == "Pool p1 started\n\n"
    assert pools.fails("pool-start", "p1") == (
        "error: Failed to start pool p1\n"
        "error: Requested operation is not valid: storage pool 'p1' is already active\n")
    assert pools.ok("pool-info", "p1") == (
        "Name:           p1\nUUID:           UUID\nState:          running\nPersistent:     yes\n"
        "Autostart:      no\nCapacity:       SIZE\nAllocation:     SIZE\nAvailable:      SIZE\n\n")
    assert pools.ok("pool-list", "--details") == (
        " Name   State     Autostart   Persistent   Capacity     Allocation   Available\n"
        "---------------------------------------------------------------------------------\n"
        " p1     running   no          yes          SIZE   SIZE    SIZE\n\n")
    assert pools.ok("pool-autostart", "p1") == "Pool p1 marked as autostarted\n\n"
    assert pools.ok("pool-list", "--all", "--autostart") == (
        " Name   State    Autostart\n"
        "----------------------------\n"
        " p1     active   yes\n\n")
    assert pools.ok("pool-autostart", "p1", "--disable") == "Pool p1 unmarked as autostarted\n\n"
    expected_xml = (
        "<pool type='dir'>\n  <name>p1</name>\n  <uuid>UUID</uuid>\n"
        "  <capacity unit='bytes'>N</capacity>\n  <allocation unit='bytes'>N</allocation>\n"
        "  <available unit='bytes'>N</available>\n  <source>\n  </source>\n  <target>\n"
        "    <path>/POOLS/p1</path>\n    <permissions>\n      <mode>0711</mode>\n"
        "      <owner>%d</owner>\n      <group>%d</group>\n    </permissions>\n  </target>\n</pool>\n\n"
        % (os.getuid(), os.getgid()))
    assert pools.ok("pool-dumpxml", "p1") == expected_xml
    assert pools.ok("pool-dumpxml", "p1", "--inactive") == expected_xml
    uuid = pools.env.ok("pool-uuid", "p1").strip()
    assert UUID.fullmatch(uuid)
    assert pools.ok("pool-name", uuid) == "p1\n\n"
    assert pools.ok("pool-refresh", "p1") == "Pool p1 refreshed\n\n"
    assert pools.ok("pool-destroy", "p1") == "Pool p1 destroyed\n\n"
    assert pools.fails("pool-destroy", "p1") == (
        "error: Failed to destroy pool p1\n"
        "error: Requested operation is not valid: storage pool 'p1' is not active\n")
    assert pools.fails("pool-refresh", "p1") == (
        "error: Failed to refresh pool p1\n"
        "error: Requested operation is not valid: storage pool 'p1' is not active\n")
    assert pools.ok("pool-delete", "p1") == "Pool p1 deleted\n\n"
    assert not os.path.exists(p1)
    assert pools.fails("pool-delete", "p1") == (
        "error: Failed to delete pool p1\n"
        "error: failed to remove pool '/POOLS/p1': No such file or directory\n")
    assert pools.fails("pool-start", "p1") == (
        "error: Failed to start pool p1\n"
        "error: cannot open directory '/POOLS/p1': No such file or directory\n")
    assert pools.ok("pool-undefine", "p1") == "Pool p1 has been undefined\n\n"
    assert pools.fails("pool-info", "p1") == (
        "error: failed to get pool 'p1'\n"
        "error: Storage pool not found: no storage pool with matching name 'p1'\n")
    assert pools.fails("pool-uuid", "p1") == (
        "error: failed to get pool 'p1'\n"
        "error: Storage pool not found: no storage pool with matching name 'p1'\n")
    assert pools.fails("pool-name", "nosuch") == "error: failed to get pool 'nosuch'\n"
    assert pools.fails("pool-name", uuid) == (
        "error: failed to get pool 'UUID'\n"
        "error: Storage pool not found: no storage pool with matching uuid 'UUID'\n")


def test_transient_pool_with_build(pools):
    assert pools.fails("pool-create-as", "p2", "dir", "--target", pools.dir("p2")) == (
        "error: Failed to create pool p2\n"
        "error: cannot open directory '/POOLS/p2': No such file or directory\n")
    assert pools.ok("pool-list", "--all") == " Name   State   Autostart\n---------------------------\n\n"
    assert pools.ok("pool-create-as", "p3", "dir", "--target", pools.dir("p3"), "--build") == \
        "Pool p3 created\n\n"
    assert pools.ok("pool-list", "--all", "--details") == (
        " Name   State     Autostart   Persistent   Capacity     Allocation   Available\n"
        "---------------------------------------------------------------------------------\n"
        " p3     running   no          no           SIZE   SIZE    SIZE\n\n")
    assert pools.ok("pool-list", "--transient", "--all", "--name") == "p3                  \n\n"
    assert pools.ok("pool-list", "--persistent", "--all") == " Name   State   Autostart\n" \
        "---------------------------\n\n"
    assert pools.fails("pool-undefine", "p3") == (
        "error: Failed to undefine pool p3\n"
        "error: Requested operation is not valid: storage pool 'p3' is still active\n")
    assert pools.fails("pool-autostart", "p3") == (
        "error: failed to mark pool p3 as autostarted\n"
        "error: Requested operation is not valid: cannot set autostart for transient pool\n")
    assert pools.ok("pool-destroy", "p3") == "Pool p3 destroyed\n\n"
    assert pools.ok("pool-list", "--all") == " Name   State   Autostart\n---------------------------\n\n"
    assert os.path.isdir(pools.dir("p3"))       # destroy leaves the data alone


def test_define_and_create_from_files(pools, tmp_path):
    target = pools.dir("fromfile")
    xml = tmp_path / "pool.xml"
    xml.write_text("<pool type='dir'>\n  <name>pf</name>\n  <uuid>0b5d3c1e-1111-4222-8333-944455556666</uuid>\n"
                   "  <target>\n    <path>%s//</path>\n    <permissions>\n      <mode>0750</mode>\n"
                   "    </permissions>\n  </target>\n</pool>\n" % target)
    assert pools.ok("pool-define", str(xml)) == "Pool pf defined from %s\n\n" % xml
    assert pools.ok("pool-start", "pf", "--build") == "Pool pf started\n\n"
    assert os.stat(target).st_mode & 0o777 == 0o750
    out = pools.ok("pool-dumpxml", "pf")
    assert "<uuid>UUID</uuid>" in out and "<path>/POOLS/fromfile</path>" in out and "<mode>0750</mode>" in out
    assert pools.ok("pool-name", "0b5d3c1e-1111-4222-8333-944455556666") == "pf\n\n"
    # the same name with another UUID, another name with the same UUID, the same target
    assert pools.fails("pool-define-as", "pf", "dir", "--target", pools.dir("other")) == (
        "error: Failed to define pool pf\n"
        "error: operation failed: pool 'pf' already exists with uuid UUID\n")
    assert pools.fails("pool-define-as", "p7", "dir", "--target", target) == (
        "error: Failed to define pool p7\n"
        "error: operation failed: Storage source conflict with pool: 'pf'\n")
    assert pools.fails("pool-create", str(xml)) == (
        "error: Failed to create pool from %s\n"
        "error: Requested operation is not valid: pool is already active as 'pf'\n" % xml)
    pools.ok("pool-destroy", "pf")
    assert pools.ok("pool-create", str(xml)) == "Pool pf created from %s\n\n" % xml
    assert pools.ok("pool-list", "--persistent", "--name") == "pf                  \n\n"


def test_build_flags_as_libvirt(pools):
    pools.ok("pool-define-as", "p4", "dir", "--target", pools.dir("p4"))
    for flag in ("--overwrite", "--no-overwrite"):
        assert pools.fails("pool-build", "p4", flag) == (
            "error: Failed to build pool p4\n"
            "error: Requested operation is not valid: No source device specified when formatting pool 'p4'\n")
    assert pools.fails("pool-build", "p4", "--overwrite", "--no-overwrite") == (
        "error: Failed to build pool p4\n"
        "error: Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are "
        "mutually exclusive\n")
    assert not os.path.exists(pools.dir("p4"))
    assert pools.ok("pool-start", "p4", "--build") == "Pool p4 started\n\n"
    assert os.path.isdir(pools.dir("p4"))
    open(os.path.join(pools.dir("p4"), "file1"), "w").close()
    pools.ok("pool-destroy", "p4")
    assert pools.fails("pool-delete", "p4") == (
        "error: Failed to delete pool p4\n"
        "error: failed to remove pool '/POOLS/p4': Directory not empty\n")
    assert os.path.exists(os.path.join(pools.dir("p4"), "file1"))


def test_list_filters_and_types(pools):
    pools.ok("pool-define-as", "a", "dir", "--target", pools.dir("a"), "--print-xml")
    pools.ok("pool-define-as", "a", "dir", "--target", pools.dir("a"))
    pools.ok("pool-create-as", "b", "dir", "--target", pools.dir("b"), "--build")
    pools.ok("pool-autostart", "a")
    assert pools.ok("pool-list", "--all", "--type", "dir", "--name") == "a                   \nb" \
        "                   \n\n"
    assert pools.ok("pool-list", "--all", "--type", "logical") == \
        " Name   State   Autostart\n---------------------------\n\n"
    assert pools.ok("pool-list", "--all", "--no-autostart", "--name") == "b                   \n\n"
    assert pools.ok("pool-list", "--inactive", "--name") == "a                   \n\n"
    assert pools.fails("pool-list", "--type", "foo") == "error: Invalid pool type 'foo'\n"
    assert pools.fails("pool-list", "--name", "--details") == \
        "error: Options --details and --name are mutually exclusive\n"
    uuid_b = pools.env.ok("pool-uuid", "b").strip()
    assert pools.ok("pool-list", "--uuid", "--name") == "UUID b                   \n\n"
    assert pools.env.ok("pool-list", "--uuid").strip() == uuid_b


def test_bad_input_changes_nothing(pools, tmp_path):
    pools.ok("pool-define-as", "keep", "dir", "--target", pools.dir("keep"))
    before = state_files(pools.env)
    bad = tmp_path / "bad.xml"
    cases = {
        ("pool-define-as", "a/b", "dir", "--target", "/x"):
            "error: Failed to define pool a/b\nerror: XML error: name a/b cannot contain '/'\n",
        ("pool-define-as", "p5", "dir"):
            "error: Failed to define pool p5\nerror: XML error: missing storage pool target path\n",
        ("pool-define-as", ".hidden", "dir", "--target", "/x"):
            "error: Failed to define pool .hidden\nerror: XML error: pool name '.hidden' is not usable as a "
            "file name\n",
        ("pool-define-as", "n", "netfs", "--target", "/x"):
            "error: Failed to define pool n\nerror: unsupported configuration: storage pool type 'netfs' is not "
            "supported by pyvirsh (supported: dir, fs)\n",
        ("pool-start", "nosuch"):
            "error: failed to get pool 'nosuch'\n"
            "error: Storage pool not found: no storage pool with matching name 'nosuch'\n",
        ("pool-create", str(bad)):
            "error: Failed to create pool from %s\nerror: unsupported configuration: pool XML element "
            "<features> in <pool> is not supported by pyvirsh\n" % bad,
        ("pool-refresh", "keep"):
            "error: Failed to refresh pool keep\n"
            "error: Requested operation is not valid: storage pool 'keep' is not active\n",
    }
    bad.write_text("<pool type='dir'><name>q</name><features/><target><path>/q</path></target></pool>")
    for args, expected in cases.items():
        assert pools.fails(*args) == expected.replace(pools.base, "/POOLS"), args
    assert state_files(pools.env) == before


def test_concurrent_defines_of_one_name_leave_one_pool(pools):
    results = []

    def define(k):
        results.append(pools.env.run("pool-define-as", "race", "dir", "--target", pools.dir("race%d" % k)))

    threads = [threading.Thread(target=define, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.returncode for r in results) == [0, 1, 1, 1]
    for r in results:
        if r.returncode:
            assert r.stderr.startswith("error: Failed to define pool race\nerror: operation failed: pool 'race' "
                                       "already exists with uuid "), r.stderr
    assert pools.ok("pool-list", "--all", "--name") == "race                \n\n"


def test_pool_edit(pools, tmp_path):
    pools.ok("pool-define-as", "p1", "dir", "--target", pools.dir("p1"))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's#<path>.*</path>#<path>%s</path>#' \"$1\"\n" % pools.dir("moved"))
    editor.chmod(0o755)
    env = {"EDITOR": str(editor)}
    proc = pools.env.run("pool-edit", "p1", env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "Pool p1 XML configuration edited.\n\n", "")
    assert "<path>/POOLS/moved</path>" in pools.ok("pool-dumpxml", "p1")
    proc = pools.env.run("pool-edit", "p1", env={"EDITOR": "true"})
    assert (proc.returncode, proc.stdout) == (0, "Pool p1 XML configuration not changed.\n\n")


POOL_XMLS = [
    "<pool type='dir'><name>d</name><target><path>/srv//pool/</path></target></pool>",
    ("<pool type='fs'><name>a&amp;b&lt;'\"</name><source><host name='h1'/><host name='h2'/><dir path='/s d'/>"
    "<device path='/dev/x'/><device path='/dev/y'/><name>n</name><format type='ext4'/></source>"
    "<target><path>/t</path><permissions><mode>0711</mode><owner>107</owner><group>0</group></permissions>"
    "</target></pool>"),
    "<pool type='logical'><name>vg</name><source><device path='/dev/loop0'/></source></pool>",
    ("<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/></source>"
    "<target><path>/m</path><permissions><group>5</group></permissions></target></pool>"),
]


def test_own_pool_files_read_without_lxml_as_the_xml_parser_reads_them():
    """read_own (the lxml-free reader of the files pyvirsh writes) gives the parser's definition,
    and declines anything not in exactly pyvirsh's form: the XML parser reads that."""
    from pyvirsh.drivers.storage.pooldef import parse_pool, read_own

    for xml in POOL_XMLS:
        pool = parse_pool(xml)
        pool.capacity, pool.allocation, pool.available = 10, 7, 3
        for text in (pool.to_xml(), pool.definition_xml()):
            own = read_own(text)
            assert own is not None, text
            assert vars(own).keys() == vars(pool).keys()
            for field in vars(pool):
                if field != "target_perms":
                    assert getattr(own, field) == getattr(pool, field) or field in ("capacity", "allocation",
                                                                                  "available"), field
            assert own.to_xml("<capacity" in text) == text
            assert [getattr(own.target_perms, f) for f in ("mode", "owner", "group")] == \
                [getattr(pool.target_perms, f) for f in ("mode", "owner", "group")]
        assert read_own(pool.to_xml()).available == 3 and read_own(pool.definition_xml()).available == 0
        assert parse_pool(pool.to_xml()).name == pool.name
        text = pool.to_xml()
        # not pyvirsh's exact form, or not a definition the parser accepts: declined
        for other in (text.replace("  <", "<", 1), text + "\n", text.replace("</pool>", "<x/></pool>"),
                      text.replace("'>", "' x='1'>", 1), text.replace("<uuid>", "<uuid>X", 1),
                      text.replace("type='%s'" % pool.type, "type='bogus'"), text[:-1]):
            assert read_own(other) is None, other
    dir_pool = parse_pool(POOL_XMLS[0]).to_xml()
    assert read_own(dir_pool.replace("/srv/pool<", "/srv/pool/<")) is None        # not sanitized
    assert read_own(dir_pool.replace("</source>", "<format type='raw'/>\n  </source>")) is None
    fs_pool = parse_pool(POOL_XMLS[1]).to_xml()
    assert read_own(fs_pool.replace("ext4", "bogus")) is None
    assert read_own(fs_pool.replace("0711", "0811")) is None
    assert read_own(fs_pool.replace("<owner>107", "<owner>4294967296")) is None
