"""QEMU driver edge cases where data or processes were at risk: a waiting offline
commit and a guest started under it, reverting a transient domain, chains
written in XML, formats without backing files, synchronous block copies, and
the private directory of short socket links."""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

from qemuhelp import (assert_cache_matches_disk, chain_from_xml, check_view, domain_xml, expected_view, qemu_img,
                      qemu_io)


def test_a_waiting_offline_commit_blocks_start_until_it_ends(env, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "mid.qcow2", "top.qcow2"], patterns=True)
    env.define("vm", [("vda", paths[-1], "qcow2")])
    assert env.ok("blockcommit", "vm", "vda", "--active") == "Active Block Commit started\n"
    refused = env.run("start", "vm")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: Failed to start domain 'vm'\nerror: Requested operation is not "
                                     "valid: disk vda has an offline block commit waiting")
    assert env.qemu_pids() == []
    # Aborting keeps the top in use (its data already merged below), and start works.
    env.ok("blockjob", "vm", "vda", "--abort")
    env.ok("start", "vm", "--paused")
    assert chain_from_xml(env.ok("dumpxml", "vm"))[0] == (paths[-1], "qcow2")
    env.ok("destroy", "vm")
    check_view(paths[-1], expected_view(3))


def test_undefine_drops_a_waiting_offline_commit(env, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "top.qcow2"])
    xml = env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("blockcommit", "vm", "vda", "--active")
    env.ok("undefine", "vm")
    # A new domain of the same name inherits nothing: it starts, and has no job.
    env.ok("define", xml)
    assert env.ok("blockjob", "vm", "vda", "--info") == "No current block job for vda\n"
    env.ok("start", "vm", "--paused")


def test_external_revert_of_a_transient_domain(env, qcow2_chain):
    (img,) = qcow2_chain(["disk.qcow2"], patterns=True)
    xml = os.path.join(env.base, "t.xml")
    with open(xml, "w") as f:
        f.write(domain_xml("trans", [("vda", img, "qcow2")]))
    env.ok("create", xml, "--paused")
    env.ok("snapshot-create-as", "trans", "s1", "--disk-only")
    env.ok("snapshot-revert", "trans", "s1", "--paused")
    assert env.ok("domstate", "trans") == "paused\n\n"
    live = env.ok("dumpxml", "trans")
    top = chain_from_xml(live)[0][0]
    assert os.path.exists(top) and top != img
    assert_cache_matches_disk(live)
    env.ok("destroy", "trans")
    check_view(top, expected_view(1))


def test_a_chain_written_in_xml_reports_the_tops_own_capacity(env):
    base = env.path("base.qcow2")
    top = env.path("top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "64M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top, "128M")
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
            "<backingStore type='file'><format type='qcow2'/><source file='%s'/><backingStore/></backingStore>"
            "<target dev='vdb' bus='virtio'/></disk>" % (top, base))
    env.define("vm", [], extra=disk)
    env.ok("start", "vm", "--paused")
    assert env.ok("domblkinfo", "vm", "vdb").startswith("Capacity:       %d\n" % (128 << 20))


def test_formats_without_backing_files_start(env):
    for fmt in ("vpc", "vdi"):
        img = env.path("disk.%s" % fmt)
        qemu_img("create", "-q", "-f", fmt, img, "32M")
        env.define("vm-" + fmt, [("vda", img, fmt)])
        env.ok("start", "vm-" + fmt, "--paused")
        assert chain_from_xml(env.ok("dumpxml", "vm-" + fmt)) == [(img, fmt)]


def test_synchronous_blockcopy(env, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "top.qcow2"], patterns=True)
    env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm", "--paused")
    dest = env.path("copy.qcow2")
    assert env.ok("blockcopy", "vm", "vda", dest, "--synchronous-writes", "--wait", "--pivot") == \
        "\nSuccessfully pivoted\n"
    assert "write-blocking" not in env.ok("dumpxml", "vm")
    env.ok("destroy", "vm")
    check_view(dest, expected_view(2))
    assert qemu_io(dest, "read -P 0x22 1M 1M", readonly=True).returncode == 0


def test_socket_links_need_a_private_directory(env, tmp_path, request, qcow2_chain):
    # A state directory long enough that QEMU's socket is reached through a short link.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    env.root = str(deep / "root")
    env.uri = "qemu:///embed?root=%s" % env.root
    (img,) = qcow2_chain(["disk.qcow2"])
    env.define("vm", [("vda", img, "qcow2")])
    runtime = tempfile.mkdtemp(prefix="rt", dir="/tmp")      # short, as XDG_RUNTIME_DIR is
    request.addfinalizer(lambda: shutil.rmtree(runtime, ignore_errors=True))
    shared = pathlib.Path(runtime) / ("pyvirsh-sock-%d" % os.geteuid())
    shared.mkdir()
    shared.chmod(0o777)
    refused = env.run("start", "vm", "--paused", env={"XDG_RUNTIME_DIR": runtime})
    assert refused.returncode == 1
    assert "is not a private directory of this user" in refused.stderr
    assert env.qemu_pids() == []
    shared.chmod(0o700)
    env.ok("start", "vm", "--paused", env={"XDG_RUNTIME_DIR": runtime})
    assert env.ok("domstate", "vm", env={"XDG_RUNTIME_DIR": runtime}) == "paused\n\n"
    links = os.listdir(shared)
    assert len(links) == 1 and os.readlink(shared / links[0]) == os.path.join(env.root, "run", "vm")


def test_a_held_domain_lock_does_not_stall_listing(env, qcow2_chain):
    """Another pyvirsh holding a domain (a --wait, a long merge) must not make `list`
    wait for it or drop the domain; the holder reconciles the jobs itself."""
    import fcntl
    paths = qcow2_chain(["base.qcow2", "top.qcow2"])
    assert qemu_io(paths[0], "write -P 0x5a 0 16M").returncode == 0     # 16 s to pull at 1 MiB/s
    env.define("vm", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm", "--paused")
    env.ok("blockpull", "vm", "vda", "--bandwidth", "1")     # a slow job, recorded in the status
    with open(os.path.join(env.root, "run", "locks", "vm.lock"), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        listed = env.run("list", "--all", timeout=20)
    assert listed.returncode == 0, listed.stderr
    assert " vm     paused" in listed.stdout
    env.ok("blockjob", "vm", "vda", "--abort")


def test_shutdown_and_reboot_modes_beyond_acpi_are_refused(env, qcow2_chain):
    (img,) = qcow2_chain(["disk.qcow2"])
    env.define("vm", [("vda", img, "qcow2")])
    env.ok("start", "vm", "--paused")
    for command in ("shutdown", "reboot"):
        refused = env.run(command, "vm", "--mode", "agent")
        assert refused.returncode == 1
        assert refused.stderr == ("error: Failed to %s domain 'vm'\nerror: unsupported configuration: %s mode is "
                                  "not supported: only 'acpi' works without a guest agent\n" % (command, command))
    assert env.ok("domstate", "vm") == "paused\n\n"
