"""No bad input ends in a Python traceback: each gets 'error: ...' lines and status 1."""

from __future__ import annotations

import os
import subprocess

import pytest

from difftool import DATA, call_main, pyvirsh_argv


def run(args):
    """pyvirsh's entry point in this process (difftool.call_main), as a one-shot run in tests/data."""
    out, err, status = call_main(args)
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), status


def run_process(args):
    """The installed console script, for what only a process shows (argv decoding, exit, interpreter)."""
    env = dict(os.environ, LANG="C")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    proc = subprocess.run(pyvirsh_argv() + args, cwd=DATA, env=env, capture_output=True, timeout=60)
    return proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), proc.returncode


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    (d / "binary.xml").write_bytes(os.urandom(4096))
    (d / "nul.xml").write_bytes(b"<domain type='test'>\x00</domain>")
    (d / "huge.xml").write_bytes(b"<domain type='test'><name>h</name><description>" + b"x" * (11 << 20)
                                 + b"</description></domain>")
    (d / "laughs.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        '<domain type="test"><name>&d;</name><memory>1</memory><os><type>hvm</type></os></domain>')
    (d / "deep.xml").write_text("<domain type='test'>" + "<x>" * 5000 + "</x>" * 5000 + "</domain>")
    (d / "badmem.xml").write_text("<domain type='test'><name>m</name><memory unit='ZZ'>1</memory>"
                                  "<os><type>hvm</type></os></domain>")
    (d / "badsnap.xml").write_text("<domainsnapshot><name>a/b</name></domainsnapshot>")
    (d / "notsnap.xml").write_text("<domain/>")
    unreadable = d / "unreadable.xml"
    unreadable.write_text("<domain/>")
    return d


BAD = [
    ["-c", "test:///default", "dominfo", "nosuch"],
    ["-c", "test:///default", "dominfo", "-1"],
    ["-c", "test:///default", "dominfo", "\x01\x02"],
    ["-c", "test:///default", "dominfo", "a/b"],
    ["-c", "test:///default", "domstate", "x" * 100000],
    ["-c", "test:///default", "start", "nosuch"],
    ["-c", "test:///default", "define", "missing.xml"],
    ["-c", "test:///default", "define", "/"],
    ["-c", "test:///default", "define", "/dev/null"],
    ["-c", "test:///default", "define", "bad-syntax.xml"],
    ["-c", "test:///default", "define", "entity.xml"],
    ["-c", "test:///default", "snapshot-info", "test", "nosuch"],
    ["-c", "test:///default", "snapshot-revert", "test", "nosuch"],
    ["-c", "test:///default", "snapshot-delete", "test", "--current"],
    ["-c", "test:///default", "snapshot-create-as", "test", "a/b"],
    ["-c", "test:///default", "snapshot-create-as", "test", "--diskspec", ",,,"],
    ["-c", "test:///default", "snapshot-create", "test", "missing.xml"],
    ["-c", "test:///default", "snapshot-dumpxml", "test", "nosuch", "--xpath", "]]"],
    ["-c", "test:///default", "dumpxml", "test", "--xpath", "///"],
    ["-c", "test:///default", "blockpull", "test", "vda", "--bandwidth", "99999999999999999999999"],
    ["-c", "test:///default", "blockcommit", "test", "vda", "--timeout", "-5"],
    ["-c", "test:///default", "blockresize", "test", "vda", "99999999999999999999999E"],
    ["-c", "test:///default", "list", "--bogus"],
    ["-c", "test:///default", "'unterminated"],
    ["-c", "test:///default", 'echo "unterminated'],
    ["-c", "bogus:///", "list"],
    ["-c", "qemu:///nosuchpath", "list"],
    ["-c", "test:///nonexistent.xml", "list"],
    ["-c", "test:///etc/passwd", "list"],
    ["--connect"],
    ["-d", "x"],
    ["-c", "test:///default", "vol-create-as", "default-pool", "v", "-5"],
    ["-c", "test:///default", "vol-info", "nosuch"],
    ["-c", "test:///default", "pool-info", "\x7f"],
]


def _assert_one_clean_error(result) -> None:
    out, err, rc = result
    assert rc == 1
    assert "Traceback" not in out + err
    assert err.startswith("error: ") or "\nerror: " in err


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a)[:60] for a in BAD])
def test_bad_input_is_an_error_not_a_traceback(args):
    _assert_one_clean_error(run(args))


@pytest.mark.parametrize("args", BAD[::4], ids=[" ".join(a)[:60] for a in BAD[::4]])
def test_bad_input_is_an_error_not_a_traceback_in_a_process(args):
    _assert_one_clean_error(run_process(args))


@pytest.mark.parametrize("name", ["binary.xml", "nul.xml", "huge.xml", "laughs.xml", "deep.xml", "badmem.xml"])
def test_hostile_domain_xml_is_refused_cleanly(hostile_files, name):
    out, err, _ = run(["-c", "test:///default", "define %s; list --all" % (hostile_files / name)])
    assert "Traceback" not in out + err
    assert "error: " in err
    # Nothing was defined from it: only the default domain is listed.
    assert out.count("\n -") == 0 and " test " in out


@pytest.mark.parametrize("name", ["badsnap.xml", "notsnap.xml", "binary.xml"])
def test_hostile_snapshot_xml_is_refused_cleanly(hostile_files, name):
    out, err, rc = run(["-c", "test:///default", "snapshot-create test %s" % (hostile_files / name)])
    assert rc == 1
    assert "Traceback" not in out + err
    assert err.startswith("error: ")


def test_entities_are_never_expanded(hostile_files):
    """The billion-laughs document defines nothing and expands nothing."""
    out, err, rc = run(["-c", "test:///default", "define", str(hostile_files / "laughs.xml")])
    assert rc == 1
    assert "aaaaaaaaaa" not in out + err


@pytest.mark.parametrize("how", ["command string", "script on stdin"])
def test_broken_pipe_is_quiet(tmp_path, how):
    """A reader that stops early (pyvirsh ... | head -c 10) ends pyvirsh with nothing on stderr.

    The output (about 500 KiB) is many times what a pipe holds, so pyvirsh really
    writes into a closed pipe: its status 1 shows it saw EPIPE. Python's own
    complaint at exit ("Exception ignored ... BrokenPipeError") counts as much as
    a traceback: stderr must stay empty.
    """
    lines = "dumpxml test\n" * 500
    script = tmp_path / "script"
    script.write_text(lines if how == "script on stdin" else "")
    args = ["-c", "test:///default"] + ([] if how == "script on stdin" else [lines.replace("\n", ";")])
    env = dict(os.environ, LANG="C")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    with open(script, "rb") as stdin:
        proc = subprocess.Popen(pyvirsh_argv() + args, cwd=DATA, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    try:
        head = proc.stdout.read(10)
        proc.stdout.close()         # the reader goes away, as head does
        proc.stdout = None
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert head in (b"<domain ty", b"Welcome to")
    assert proc.returncode == 1, "pyvirsh never wrote into the closed pipe"
    assert err == b"", err.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# What virsh cannot show on test:///default
# --------------------------------------------------------------------------

@pytest.mark.parametrize("options,flags", [("--raw", 0), ("--raw --bytes", 1), ("", 1), ("--bytes", 1),
                                           ("--info", 1)])
def test_blockjob_asks_for_bytes_unless_raw_alone(monkeypatch, capsys, options, flags):
    """virsh sets VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES when bytes || !raw."""
    from pyvirsh.cli import main
    from pyvirsh.drivers.api import BlockJobInfo
    from pyvirsh.drivers.test.driver import TestDomain

    asked = []

    def get_block_job_info(self, disk, flags=0):
        asked.append(flags)
        return BlockJobInfo(1, 2048 if flags else 2, 10, 20)

    monkeypatch.setattr(TestDomain, "get_block_job_info", get_block_job_info, raising=False)
    assert main(["-c", "test:///default", "blockjob test vda %s" % options]) == 0
    assert asked == [flags]
    out = capsys.readouterr().out
    if "--raw" in options:
        assert " bandwidth=%d\n" % (2048 if flags else 2) in out


def test_edit_prompt_gives_up_when_the_terminal_goes_away(tmp_path):
    """virsh would ask forever at end of input; pyvirsh takes it as 'n'."""
    import pty
    import select
    import time

    editor = tmp_path / "editor"
    editor.write_text("#!/bin/sh\necho '<domain/>' > \"$1\"\n")
    editor.chmod(0o755)
    env = dict(os.environ, LANG="C", EDITOR=str(editor))
    env.pop("PYVIRSH_DEFAULT_URI", None)
    master, slave = pty.openpty()
    proc = subprocess.Popen(pyvirsh_argv() + ["-c", "test:///default",
                                              "snapshot-create-as test s1; snapshot-edit test s1"],
                            cwd=DATA, env=env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + 60
    try:
        while b"Try again?" not in out:
            assert time.monotonic() < deadline
            if select.select([proc.stdout], [], [], 0.1)[0]:
                out += os.read(proc.stdout.fileno(), 4096)
    finally:
        os.close(master)
    rest, err = proc.communicate(timeout=60)
    out += rest
    assert proc.returncode == 1
    assert out.endswith(b"[y,n,f,?]: \r\n\n")
    assert err.decode().endswith("error: Failed to update s1\n")
    assert b"Traceback" not in err


@pytest.mark.parametrize("content", [b"\xff\xfe<domain", b"<domain type='test'>\x00</domain>"])
def test_edited_document_that_is_not_utf8_is_refused_cleanly(tmp_path, content):
    (tmp_path / "content").write_bytes(content)
    editor = tmp_path / "editor"
    editor.write_text("#!/bin/sh\ncat %s > \"$1\"\n" % (tmp_path / "content"))
    editor.chmod(0o755)
    env = dict(os.environ, LANG="C", EDITOR=str(editor))
    env.pop("PYVIRSH_DEFAULT_URI", None)
    proc = subprocess.run(pyvirsh_argv() + ["-c", "test:///default", "edit test"], cwd=DATA, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("error: Failed.\n")
