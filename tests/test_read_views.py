"""The QEMU driver's lxml-free read path (drivers/qemu/readview.py) against its XML path.

One domain goes through every kind of write: define, start, an external disk-only snapshot,
an active blockcommit with pivot, a blockpull, a snapshot delete that merges images, destroy,
a snapshot while shut off, edit, undefine. After each step the read commands print the same
with the views (the fast path) as with the views moved aside (the definition parsed with
lxml), every definition file on disk has a view made from its present bytes, and the read
commands of a one-shot process do not load lxml at all. A view that no longer matches its
file (a hand edit, a writer killed between its two renames) is never used, and the next read
writes it again.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from difftool import call_main
from qemuhelp import Env, qemu_img

from pyvirsh.drivers.qemu.readview import read_view, view_path

READS = [["dominfo", "vm"], ["domblklist", "vm", "--details"], ["domblklist", "vm", "--inactive"],
         ["dumpxml", "vm"], ["dumpxml", "vm", "--inactive"], ["--json", "domblklist", "vm"],
         ["--json", "domblklist", "vm", "--inactive"], ["--json", "dominfo", "vm"], ["domstate", "vm"]]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("views"))
    yield env
    env.cleanup()


def _sources(env: Env) -> list[str]:
    return [p for p in (os.path.join(env.root, "config", "vm.xml"), os.path.join(env.root, "run", "vm.status.xml"))
            if os.path.exists(p)]


def _read_all(env: Env) -> list[tuple[bytes, bytes, int]]:
    out = []
    for args in READS:
        stdout, stderr, status = call_main(["-c", env.uri] + args)
        # A paused QEMU still spends CPU time: the one figure two runs may not share.
        lines = [b"CPU time: (masked)" if line.startswith(b"CPU time:") else line
                 for line in stdout.split(b"\n")]
        lines = [line.split(b'"cpu_time_seconds":')[0] for line in lines]
        out.append((b"\n".join(lines), stderr, status))
    return out


def check(env: Env, step: str) -> None:
    sources = _sources(env)
    assert sources, step
    for source in sources:
        assert read_view(source) is not None, "%s: the view of %s is missing or stale" % (step, source)
    fast = _read_all(env)
    aside = os.path.join(env.base, "aside")
    os.makedirs(aside, exist_ok=True)
    moved = [(view_path(s), os.path.join(aside, os.path.basename(view_path(s)))) for s in sources]
    for view, parked in moved:
        os.rename(view, parked)
        os.mkdir(view)          # in a view's place, a directory: nothing can be read or refilled there
    try:
        slow = _read_all(env)
    finally:
        for view, parked in moved:
            os.rmdir(view)
            os.rename(parked, view)
    for args, a, b in zip(READS, fast, slow, strict=True):
        assert a == b, "%s: `%s` differs between the view and the XML" % (step, " ".join(args))
        assert a[2] == 0, (step, args, a)


def test_every_write_keeps_the_view_identical_to_the_xml(env):
    base, top = env.path("base.qcow2"), env.path("top.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", base, "16M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    qemu_img("create", "-q", "-f", "raw", env.path("data.raw"), "1M")
    cdrom = "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
    env.define("vm", [("vda", top, "qcow2"), ("vdb", env.path("data.raw"), "raw")], extra=cdrom, dom_type="qemu")
    check(env, "define")
    env.ok("start", "vm", "--paused")
    check(env, "start")
    env.ok("snapshot-create-as", "vm", "s1", "--disk-only")
    check(env, "snapshot-create --disk-only")
    env.ok("blockcommit", "vm", "vda", "--active", "--wait", "--pivot")
    check(env, "blockcommit --active --pivot")
    env.ok("snapshot-create-as", "vm", "s2", "--disk-only", "--no-metadata")
    env.ok("blockpull", "vm", "vda", "--wait")
    check(env, "blockpull")
    env.ok("snapshot-create-as", "vm", "s3", "--disk-only")
    check(env, "snapshot-create --disk-only (2)")
    env.ok("snapshot-delete", "vm", "s3")
    check(env, "snapshot-delete")
    _no_lxml_in_one_shot_reads(env)
    env.ok("destroy", "vm")
    assert not os.path.exists(view_path(os.path.join(env.root, "run", "vm.status.xml")))
    check(env, "destroy")
    env.ok("snapshot-create-as", "vm", "s4", "--disk-only")
    check(env, "snapshot-create --disk-only, shut off")
    env.ok("edit", "vm", env={"EDITOR": "sed -i -e 's/65536/131072/g' -e 's/<vcpu placement=.static.>1/&6/'"})
    check(env, "edit")
    assert b"Max memory:     131072 KiB" in call_main(["-c", env.uri, "dominfo", "vm"])[0]
    _no_lxml_in_one_shot_reads(env)
    # A view that is missing (a pyvirsh from before views wrote the file) is made by the next read.
    os.remove(view_path(os.path.join(env.root, "config", "vm.xml")))
    assert b"Max memory:     131072 KiB" in call_main(["-c", env.uri, "dominfo", "vm"])[0]
    check(env, "a missing view made again by a read")
    env.ok("snapshot-delete", "vm", "s4", "--metadata")
    env.ok("snapshot-delete", "vm", "s1", "--metadata")
    env.ok("undefine", "vm")
    assert not [e for e in os.listdir(os.path.join(env.root, "config")) if e.startswith(".vm.")]


def test_a_view_that_no_longer_matches_its_file_is_not_used(env):
    """A hand edit of the definition (or a writer killed between writing it and its view)."""
    env.define("hand", [], dom_type="qemu")
    config = os.path.join(env.root, "config", "hand.xml")
    assert read_view(config) is not None
    # A view torn in a crash (it is written without fsync): its own CRC no longer matches.
    with open(view_path(config), "rb") as f:
        whole = f.read()
    with open(view_path(config), "wb") as f:
        f.write(whole[:-10] + b"\0" * 10)
    assert read_view(config) is None
    with open(view_path(config), "wb") as f:
        f.write(whole)
    assert read_view(config) is not None
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace("<vcpu placement='static'>1</vcpu>", "<vcpu placement='static'>3</vcpu>"))
    assert read_view(config) is None
    stdout = call_main(["-c", env.uri, "dominfo", "hand"])[0].decode()
    assert "CPU(s):         3\n" in stdout
    assert "<vcpu placement='static'>3</vcpu>" in call_main(["-c", env.uri, "dumpxml", "hand"])[0].decode()
    assert read_view(config).vcpus == 3           # made again from the edited file by the read
    env.ok("undefine", "hand")


PROBE = ("import sys\nfrom pyvirsh.cli import main\nstatus = main(sys.argv[1:])\n"
         "sys.stderr.write('lxml loaded\\n' if 'lxml' in sys.modules else '')\nsys.exit(status)\n")


def _no_lxml_in_one_shot_reads(env: Env) -> None:
    """The point of the views: a one-shot read command never imports lxml."""
    for args in (["dominfo", "vm"], ["--json", "domblklist", "vm", "--inactive"], ["dumpxml", "vm"]):
        proc = subprocess.run([sys.executable, "-c", PROBE, "-c", env.uri] + args, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)


def test_view_values_round_trip():
    """Every value a record field may hold, through the view's line format and back."""
    from pyvirsh.drivers.qemu.readview import _decode, _encode

    for value in (None, True, False, 0, -1, 1 << 40, "", "plain", "tab\there", "new\nline", "back\\slash",
                  "\\t is not a tab", "\\\t\\\\n", "ünïcödé ☃", "=#-+!"):
        field = _encode(value)
        assert "\t" not in field and "\n" not in field
        assert _decode(field) == value and type(_decode(field)) is type(value)
