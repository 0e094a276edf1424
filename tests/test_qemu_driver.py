"""The QEMU driver on real QEMU processes and real qcow2 chains (issue: chains probed once)."""

from __future__ import annotations

import os
import re
import signal
import threading

from qemuhelp import (MiB, assert_cache_matches_disk, chain_from_xml, check_view, expected_view,
                      qemu_img, write_patterns)


def test_lifecycle_across_invocations(env, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "mid.qcow2", "top.qcow2"], patterns=True)
    env.define("vm1", [("vda", paths[-1], "qcow2")])
    assert " -    vm1    shut off" in env.ok("list", "--all")
    assert env.ok("start", "vm1") == "Domain 'vm1' started\n\n"
    out = env.ok("list")
    assert " 1    vm1    running" in out
    assert env.ok("domstate", "vm1", "--reason") == "running (booted)\n\n"
    live = env.ok("dumpxml", "vm1")
    assert "<domain type='kvm' id='1'>" in live
    assert_cache_matches_disk(live)
    assert [p for p, _ in chain_from_xml(live)] == paths[::-1]
    # The persistent definition has no detected chain.
    inactive = env.ok("dumpxml", "vm1", "--inactive")
    assert "<backingStore" not in inactive
    assert not re.search(r"<source file='[^']*' index=", inactive)
    assert env.ok("suspend", "vm1") == "Domain 'vm1' suspended\n\n"
    assert env.ok("domstate", "vm1", "--reason") == "paused (user)\n\n"
    assert env.ok("resume", "vm1") == "Domain 'vm1' resumed\n\n"
    assert env.ok("destroy", "vm1") == "Domain 'vm1' destroyed\n\n"
    assert env.ok("domstate", "vm1", "--reason") == "shut off (destroyed)\n\n"
    assert env.qemu_pids() == []
    check_view(paths[-1], expected_view(3))
    # Ids are never reused.
    env.ok("start", "vm1")
    assert env.ok("domid", "vm1") == "2\n\n"
    env.ok("destroy", "vm1")


def test_destroy_from_another_process_really_stops_qemu(env, qcow2_chain):
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    env.ok("start", "vm1", "--paused")
    assert env.ok("domstate", "vm1", "--reason") == "paused (user)\n\n"
    pids = env.qemu_pids()
    assert len(pids) == 1
    result = env.run("destroy", "vm1")
    assert result.returncode == 0, result.stderr
    assert env.qemu_pids() == []
    again = env.run("destroy", "vm1")
    assert again.returncode == 1
    assert again.stderr == ("error: Failed to destroy domain 'vm1'\n"
                            "error: Requested operation is not valid: domain is not running\n")


def test_qemu_killed_from_outside_is_noticed(env, qcow2_chain):
    (img,) = qcow2_chain(["only.qcow2"])
    # a guest-agent channel: its automatic socket lives in run/vm1/channel/, which a killed
    # QEMU leaves behind
    env.define("vm1", [("vda", img, "qcow2")], extra="<channel type='unix'><target type='virtio' "
                                                    "name='org.qemu.guest_agent.0'/></channel>")
    env.ok("start", "vm1")
    assert os.path.exists(os.path.join(env.root, "run", "vm1", "channel", "org.qemu.guest_agent.0"))
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    out = env.ok("list", "--all")
    assert " -    vm1    shut off" in out
    assert env.ok("domstate", "vm1", "--reason") == "shut off (crashed)\n\n"
    run_dir = os.path.join(env.root, "run")
    assert not os.path.exists(os.path.join(run_dir, "vm1.status.xml"))
    assert not os.path.exists(os.path.join(run_dir, "vm1"))      # the domain's run directory, whole
    # The cache is gone with it: dumpxml shows the persistent definition.
    assert "backingStore" not in env.ok("dumpxml", "vm1")
    # Every domain's stats is a listing too (one read of the directories): the one that
    # reaps a dead QEMU reports why it stopped, and so does the next, from the reason file;
    # a domain never started has no reason file (unknown).
    env.define("vm2", [])
    env.ok("start", "vm1")
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    stats = env.ok("domstats", "--state")
    assert stats == ("Domain: 'vm1'\n  state.state=5\n  state.reason=3\n\n"
                     "Domain: 'vm2'\n  state.state=5\n  state.reason=0\n\n")
    assert not os.path.exists(os.path.join(run_dir, "vm1.status.xml"))
    assert env.ok("domstats", "--state") == stats


def test_lookup_by_uuid_or_id_leaves_other_domains_alone(env, qcow2_chain):
    """Finding a domain by UUID or id reads the others' files, never acts on them: a dead
    QEMU of another domain is noticed (and its files removed) only when that one is looked at."""
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    env.define("vm2", [])
    env.ok("start", "vm1")
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    status = os.path.join(env.root, "run", "vm1.status.xml")
    uuid2 = env.ok("domuuid", "vm2").strip()
    assert env.ok("domname", uuid2) == "vm2\n\n"
    assert os.path.exists(status)
    assert env.run("domname", "1").returncode == 1        # vm1's id: its QEMU is gone, so no such id
    assert not os.path.exists(status)
    assert env.ok("domstate", "vm1", "--reason") == "shut off (crashed)\n\n"


def test_list_and_domstate_read_no_xml(env, qcow2_chain):
    """The status file's first line says what `list` and `domstate` show: neither loads lxml
    (nor shlex), for a running domain or a shut-off one; nor does `dominfo` while the
    definition's view is current, and it parses the definition without one."""
    import subprocess
    import sys
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    env.define("vm2", [])
    env.ok("start", "vm1")
    code = ("import sys, io, contextlib\n"
            "from pyvirsh.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    main(['-c', %r] + sys.argv[1:])\n"
            "print(out.getvalue() + repr(sorted(m for m in ('lxml', 'shlex') if m in sys.modules)))\n" % env.uri)

    def loaded(*args):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    listing = loaded("list", "--all")
    assert " 1    vm1    running" in listing and " -    vm2    shut off" in listing
    assert listing.endswith("[]\n")
    assert loaded("domstate", "vm1", "--reason") == "running (booted)\n\n[]\n"
    assert loaded("domstate", "vm2") == "shut off\n\n[]\n"
    assert loaded("dominfo", "vm1").endswith("[]\n")     # from the status's view (qemu/readview.py)
    os.remove(os.path.join(env.root, "run", ".vm1.status.xml.view"))
    assert "'lxml'" in loaded("dominfo", "vm1")           # without it, the definition is parsed
    env.ok("destroy", "vm1")


def test_transient_domain_disappears_when_stopped(env, qcow2_chain):
    (img,) = qcow2_chain(["only.qcow2"])
    from qemuhelp import domain_xml
    xml = os.path.join(env.base, "t.xml")
    with open(xml, "w") as f:
        f.write(domain_xml("trans", [("vda", img, "qcow2")]))
    assert env.ok("create", xml) == "Domain 'trans' created from %s\n\n" % xml
    assert "Persistent:     no" in env.ok("dominfo", "trans")
    env.ok("destroy", "trans")
    failed = env.run("dominfo", "trans")
    assert failed.stderr == "error: failed to get domain 'trans'\n"


def test_two_concurrent_starts_one_wins(env, qcow2_chain):
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    results = []
    threads = [threading.Thread(target=lambda: results.append(env.run("start", "vm1"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1]
    loser = next(r for r in results if r.returncode == 1)
    assert loser.stderr in ("error: Domain is already active\n",
                            ("error: Failed to start domain 'vm1'\n"
                             "error: Requested operation is not valid: domain is already running\n"))
    assert len(env.qemu_pids()) == 1
    env.ok("destroy", "vm1")


def test_unrecorded_backing_format_is_refused(env, qcow2_chain):
    base, top = qcow2_chain(["base.qcow2", "top.qcow2"])
    mid = env.path("mid.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", mid)
    qemu_img("rebase", "-q", "-u", "-f", "qcow2", "-b", mid, "-F", "qcow2", top)
    # Drop the backing-format header extension of top (0xE2792ACA), as old qemu-img wrote it.
    with open(top, "r+b") as f:
        data = f.read(4096)
        pos = data.find(bytes.fromhex("e2792aca"))
        assert pos > 0
        f.seek(pos)
        f.write(bytes.fromhex("0badf00d"))
    env.define("vm1", [("vda", top, "qcow2")])
    result = env.run("start", "vm1")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: Failed to start domain 'vm1'"
    assert lines[1].startswith(
        "error: Requested operation is not valid: format of backing image '%s' of image '%s' was not "
        "specified in the image metadata (See https://libvirt.org/kbase/backing_chains.html for "
        "troubleshooting)" % (mid, top))
    assert "qemu-img rebase -u -f qcow2 -F qcow2 -b" in lines[1]
    assert env.qemu_pids() == []


def test_missing_backing_file_and_loops(env, qcow2_chain):
    base, top = qcow2_chain(["base.qcow2", "top.qcow2"])
    os.unlink(base)
    env.define("vm1", [("vda", top, "qcow2")])
    result = env.run("start", "vm1")
    assert result.returncode == 1
    assert ("error: Cannot access backing file '%s' of storage file '%s' (as uid:0, gid:0): No such file or "
            "directory" % (base, top)) in result.stderr
    a, b = env.path("a.qcow2"), env.path("b.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", a, "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", a, "-F", "qcow2", b)
    qemu_img("rebase", "-q", "-u", "-f", "qcow2", "-b", b, "-F", "qcow2", a)
    env.define("loop", [("vda", b, "qcow2")])
    result = env.run("start", "loop")
    assert result.returncode == 1
    assert "self-referential or too deeply nested" in result.stderr
    assert env.qemu_pids() == []


def test_paths_with_spaces_and_commas(env):
    d = os.path.join(env.images, "dir, with space")
    os.makedirs(d)
    base = os.path.join(d, "ba,se 1.qcow2")
    top = os.path.join(d, "to,p 2.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "32M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    write_patterns([base, top])
    env.define("odd", [("vda", top, "qcow2")])
    env.ok("start", "odd")
    live = env.ok("dumpxml", "odd")
    assert chain_from_xml(live) == [(top, "qcow2"), (base, "qcow2")]
    assert top in env.ok("domblklist", "odd")
    env.ok("destroy", "odd")
    check_view(top, expected_view(2))


def test_bad_domain_names_are_refused(env):
    from qemuhelp import domain_xml
    for name, message in (("a/b", "error: XML error: name a/b cannot contain '/'"),
                          ("..", "error: XML error: domain name '..' is not usable as a file name")):
        xml = os.path.join(env.base, "bad.xml")
        with open(xml, "w") as f:
            f.write(domain_xml(name, []))
        result = env.run("define", xml)
        assert result.returncode == 1
        assert result.stderr == "error: Failed to define domain from %s\n%s\n" % (xml, message)
    assert os.listdir(os.path.join(env.root, "config")) == []


def test_unsupported_configuration_is_refused_at_define(env):
    from qemuhelp import domain_xml
    xml = os.path.join(env.base, "u.xml")
    with open(xml, "w") as f:
        f.write(domain_xml("u", [], extra="<hostdev mode='subsystem' type='pci'/>"))
    result = env.run("define", xml)
    assert result.returncode == 1
    assert "error: unsupported configuration: pyvirsh's QEMU driver does not support <hostdev> devices" \
        in result.stderr


def test_failed_start_shows_qemus_error(env, qcow2_chain):
    (img,) = qcow2_chain(["shared.qcow2"])
    env.define("one", [("vda", img, "qcow2")])
    env.define("two", [("vda", img, "qcow2")])
    env.ok("start", "one")
    result = env.run("start", "two")
    assert result.returncode == 1
    assert "error: Failed to start domain 'two'" in result.stderr
    assert 'Failed to get "write" lock' in result.stderr
    assert len(env.qemu_pids()) == 1
    env.ok("destroy", "one")


def test_probe_once_renamed_backing_changes_nothing(env, tmp_path, qcow2_chain):
    paths = qcow2_chain(["base.qcow2", "mid.qcow2", "top.qcow2"])
    env.define("vm1", [("vda", paths[-1], "qcow2")])
    env.ok("start", "vm1")
    before = [env.ok("dumpxml", "vm1"), env.ok("domblklist", "vm1", "--details"),
              env.ok("domblkinfo", "vm1", "vda"), env.ok("domblkinfo", "vm1", "--all")]
    os.rename(paths[1], paths[1] + ".moved")      # QEMU keeps it open; a re-probe would fail
    audit = tmp_path / "audit.log"
    audit_env = {"PYVIRSH_PROBE_AUDIT": str(audit)}
    after = [env.ok("dumpxml", "vm1", env=audit_env), env.ok("domblklist", "vm1", "--details", env=audit_env),
             env.ok("domblkinfo", "vm1", "vda", env=audit_env),
             env.ok("domblkinfo", "vm1", "--all", env=audit_env)]
    assert after == before
    env.ok("list", "--all", env=audit_env)
    env.ok("dominfo", "vm1", env=audit_env)
    # No read-only command opened an image of the running domain.
    assert not audit.exists() or audit.read_text() == ""
    os.rename(paths[1] + ".moved", paths[1])
    env.ok("destroy", "vm1")


def test_domblkinfo_comes_from_cache_and_files(env, qcow2_chain):
    (img,) = qcow2_chain(["only.qcow2"], size="96M")
    env.define("vm1", [("vda", img, "qcow2")])
    offline = env.ok("domblkinfo", "vm1", "vda")
    env.ok("start", "vm1")
    online = env.ok("domblkinfo", "vm1", "vda")
    assert offline.splitlines()[0] == online.splitlines()[0] == "Capacity:       %d" % (96 * MiB)
    st = os.stat(img)
    assert "Physical:       %d" % st.st_size in online
    env.ok("destroy", "vm1")


def test_files_queued_for_removal_go_when_qemu_does(env, qcow2_chain):
    """A merged image queued for removal (status <unlink>) while QEMU still had it open is
    removed once QEMU is gone; a queued path that is a layer of the cached chain is kept."""
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    env.ok("start", "vm1")
    merged = env.path("merged.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", merged, "1M")
    status = os.path.join(env.root, "run", "vm1.status.xml")
    with open(status) as f:
        text = f.read()
    queued = "  <unlink path='%s'/>\n  <unlink path='%s'/>\n" % (merged, img)
    with open(status, "w") as f:
        f.write(text.replace("  <nextIndex>", queued + "  <nextIndex>", 1))
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    assert " -    vm1    shut off" in env.ok("list", "--all")
    assert not os.path.exists(merged)
    assert os.path.exists(img)


def test_a_command_that_finds_qemu_gone_says_domain_is_not_running(env, qcow2_chain):
    """QEMU killed after a command read the status and before it reached the monitor:
    libvirt's 'domain is not running', not a refused socket."""
    from pyvirsh.drivers import open_connection
    from pyvirsh.drivers.api import DriverError, ErrorCode
    (img,) = qcow2_chain(["only.qcow2"])
    env.define("vm1", [("vda", img, "qcow2")])
    env.ok("start", "vm1")
    dom = open_connection(env.uri).lookup_domain_by_name("vm1")
    dom.refresh()
    (pid,) = env.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    while env.qemu_pids():
        pass
    try:
        dom.qmp()
    except DriverError as err:
        assert (err.code, str(err)) == (ErrorCode.OPERATION_INVALID, "Requested operation is not valid: domain is not running")
    else:
        raise AssertionError("a monitor connection to a dead QEMU succeeded")
    assert " -    vm1    shut off" in env.ok("list", "--all")


def test_domains_started_side_by_side_get_their_own_graphics_ports(env, qcow2_chain):
    """Four pyvirsh processes start four domains with VNC autoport at once: each QEMU gets
    a port of its own (the choice is held until QEMU has bound it), none fails to bind."""
    import subprocess
    from difftool import pyvirsh_argv
    from lxml import etree
    names = ["gp%d" % i for i in range(4)]
    for name in names:
        (img,) = qcow2_chain([name + ".qcow2"])
        env.define(name, [("vda", img, "qcow2")], extra="<graphics type='vnc' autoport='yes'/>")
    procs = [subprocess.Popen(pyvirsh_argv() + ["-c", env.uri, "start", name, "--paused"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    assert results == [(0, "")] * len(names)
    ports = [etree.fromstring(env.ok("dumpxml", name).encode()).find("devices/graphics").get("port")
             for name in names]
    assert len(set(ports)) == len(names), ports
