"""pyvirsh against real virsh 9.0, byte for byte.

Each case runs the same command line through `virsh` and `pyvirsh` (in
tests/data, LANG=C, TZ=UTC) and compares stdout, stderr and the exit status.
The only normalization is for values virsh itself makes nondeterministic (the
test driver's CPU time is the wall clock; snapshot creation times), keeping
line lengths. CI installs libvirt-clients so that virsh is there; without
virsh these tests are skipped, saying so.

pyvirsh runs in this process for most cases (difftool.run_in_process: the
console script's function with argv and captured streams), and as its real
console script for a fixed sample of them and for everything that needs a
terminal, an editor or its own stdin. virsh always runs as a process.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

import pytest

from difftool import DATA, NODE_URI, compare, normalize, pyvirsh_argv, virsh_missing_reason

needs_virsh = pytest.mark.skipif(virsh_missing_reason() is not None, reason=virsh_missing_reason() or "")

DEFAULT = ["-c", "test:///default"]
NODE = ["-c", NODE_URI]
SNAPNODE = ["-c", "test://" + os.path.join(DATA, "snapnode.xml")]


def s(text: str) -> list[str]:
    """A command string on test:///default."""
    return DEFAULT + [text]


SNAPSHOT_SCRIPT = """\
echo Create a series of snapshots, with names that intentionally sort
echo differently by topology than by name. Use revert to create fanout.
snapshot-create-as test s1
snapshot-create-as test s1
snapshot-create-as test s3
snapshot-create-as test s2
snapshot-revert test s3
snapshot-create-as test s6
snapshot-create-as test s5
snapshot-revert test s6
snapshot-create-as test s4
snapshot-revert test s1
snapshot-create-as test s7
snapshot-create-as test s8
snapshot-list test --tree
snapshot-current test --name
snapshot-current test s1
snapshot-current test --name
snapshot-delete test --current
snapshot-current test --name
snapshot-list test --roots --name
snapshot-list test --leaves --name
snapshot-list test --parent --no-leaves --name
snapshot-list test --from s3 --name
snapshot-list test --from s3 --descendants --name
snapshot-current test s4
snapshot-delete test --children-only s6
snapshot-current test --name
snapshot-delete test --children s7
snapshot-current test --name
snapshot-delete test s6
snapshot-current test --name
snapshot-list test --name
snapshot-list test --name --topological
snapshot-dumpxml test s3
snapshot-dumpxml test s2
"""

LIFECYCLE_SCRIPT = """\
list --all
echo test failure when starting already running guest
start fv0
dominfo fc4
undefine fc4
dominfo fc4
shutdown fc4
dominfo fc4
dominfo 3
undefine 3
dominfo 3
shutdown 3
dominfo fc5
shutdown fv0
undefine fv0
dominfo fv0
"""

CASES = [
    # every missing required option named, one line each (then nothing runs)
    s("attach-disk test; list"),
    s("blockcommit"),
    DEFAULT + ["attach-disk"],
    # listing and information
    s("list"),
    s("list --all"),
    s("list --inactive"),
    s("list --name"),
    s("list --uuid"),
    s("list --id"),
    s("list --table --name"),
    s("list --title"),
    s("list --uuid --name --all"),
    s("destroy test; list --all; list --state-shutoff; list --state-running"),
    s("define a.xml; define b.xml; define c.xml; start charlie-long-name; start alpha; list --all; "
      "list --all --name; list --uuid; list --inactive; list --title --all; list --persistent --all"),
    DEFAULT + ["-q", "list --all"],
    ["-q", "-c", "test:///default", "list", "--all"],
    s("dominfo test"),
    s("dominfo 1"),
    s("dominfo 6695eb01-f6a4-8304-79aa-97f2502e193f"),
    s("dominfo nosuch"),
    s("destroy test; dominfo test; domid test"),
    s("domstate test; domstate test --reason; domid test; domname 1; domuuid test"),
    s("domname test; domid 1; domuuid 6695eb01-f6a4-8304-79aa-97f2502e193f"),
    s("domname 4294967298"),
    s("nodeinfo"),
    s("version"),
    s("version --daemon"),
    s("uri"),
    s("hostname"),
    s("connect; uri"),
    s("connect test:///default --readonly; destroy test"),
    s("connect test:///nonexistent.xml; list"),
    s("connect test:///default --readonly; connect test:///nonexistent.xml; destroy test"),
    s("connect --readonly; connect; destroy test"),
    ["-r", "-c", "test:///default", "connect; destroy test"],
    ["-r", "-c", "test:///default", "connect test:///default; destroy test"],
    DEFAULT + ["-r", "destroy test"],
    # dumpxml
    s("dumpxml test"),
    s("dumpxml test --inactive"),
    s("dumpxml test --security-info"),
    s("dumpxml test --xpath //disk[1]"),
    s("dumpxml test --xpath //disk/source/@file"),
    s("dumpxml test --wrap --xpath //name"),
    s("dumpxml test --wrap --xpath //disk/source/@file"),
    s("dumpxml test --xpath //nosuch"),
    s("dumpxml test --xpath 'count(//disk)'"),
    # define, create, undefine
    s("define d1.xml; dumpxml d1; start d1; dumpxml d1; domblklist d1; domblklist d1 --details; "
      "domblkinfo d1 --all"),
    s("define r1.xml; dumpxml r1"),
    s("define b.xml; dumpxml Bravo; domblklist Bravo --details; domblkinfo Bravo --all"),
    s("define c.xml; dumpxml charlie-long-name; dumpxml charlie-long-name --xpath //disk[1]"),
    s("define bad-noname.xml"),
    s("define bad-syntax.xml"),
    s("define bad-slash.xml"),
    s("define dup-test.xml"),
    s("define entity.xml"),
    s("define /etc/passwd"),
    s("define nosuch.xml"),
    s("define /tmp"),
    s("define"),
    s("create d1.xml; list; destroy d1; list --all"),
    s("create d1.xml --paused"),
    s("define d1.xml; undefine d1; list --all"),
    s("undefine test; dominfo test; destroy test; list --all"),
    s("destroy test; undefine test; list --all"),
    s("undefine test --nvram"),
    s("undefine test --wipe-storage"),
    s("undefine test --storage vda"),
    s("undefine test --remove-all-storage"),
    s("undefine test --storage vda --remove-all-storage"),
    s("destroy test; undefine test --storage nosuch; list --all"),
    s("destroy test; undefine test --storage vda,nosuch; list --all"),
    s("destroy test; undefine test --storage vda,,x"),
    s("destroy test; undefine test --storage ,vda"),
    s("destroy test; undefine test --storage vda,vda"),
    s("destroy test; undefine test --storage vda --remove-all-storage"),
    s("destroy test; undefine test --remove-all-storage; list --all"),
    s("destroy test; undefine test --storage /guest/diskimage1 --wipe-storage"),
    s("undefine test --storage ''"),
    s("undefine test --storage '' --wipe-storage"),
    s("destroy test; undefine test --storage '' --remove-all-storage"),
    s("define d1.xml; undefine d1 --remove-all-storage"),
    s("define r1.xml; undefine r1 --storage sdc,vdb,/dev/sdz"),
    # lifecycle
    s("destroy test; destroy test"),
    s("destroy 1; start 6695eb01-f6a4-8304-79aa-97f2502e193f; suspend 2; resume 2; reboot 2; "
      "shutdown 2; start test; domstate test --reason"),
    s("suspend test; suspend test; resume test; resume test; domstate test --reason"),
    s("start test"),
    s("destroy test; start test --paused"),
    s("shutdown test --mode acpi"),
    s("shutdown test --mode bogus"),
    s("destroy test; shutdown test; reboot test; suspend test; resume test"),
    s("destroy test --remove-logs"),
    s("start test --pass-fds abc"),
    # disks
    s("domblklist test; domblklist test --details; domblklist test --inactive"),
    s("domblkinfo test vda; domblkinfo test vda --human; domblkinfo test --all; domblkinfo test --all --human"),
    s("domblkinfo test; domblkinfo test vdz"),
    s("domblkinfo test /guest/diskimage1"),
    # snapshots
    DEFAULT + [SNAPSHOT_SCRIPT],
    s("snapshot-create-as test s1 'first snap'; snapshot-create-as test s2; snapshot-revert test s1; "
      "snapshot-create-as test s3; snapshot-list test; snapshot-list test --parent; snapshot-list test --tree; "
      "snapshot-list test --name; snapshot-list test --roots; snapshot-info test s1; "
      "snapshot-info test --current; snapshot-current test --name; snapshot-parent test s3"),
    DEFAULT + ["-q", "snapshot-create-as test s1; snapshot-list test; snapshot-current test --name"],
    s("snapshot-create-as test s1 d; destroy test; snapshot-create-as test s2; snapshot-list test --parent; "
      "snapshot-info test s2; start test; suspend test; snapshot-create-as test s3; snapshot-list test; "
      "snapshot-list test --inactive; snapshot-list test --active; snapshot-list test --external"),
    s("snapshot-create-as test s1; snapshot-revert test s1; domid test; domstate test --reason; "
      "suspend test; snapshot-revert test s1; domstate test --reason; snapshot-revert test s1 --paused; "
      "domstate test --reason; destroy test; snapshot-revert test s1; domid test"),
    s("snapshot-create-as test s1; snapshot-revert test s1 --running --paused"),
    s("snapshot-create test snap-s3.xml; snapshot-dumpxml test s3; snapshot-create test snap-s3.xml"),
    s("destroy test; define d1.xml; connect test:///default; list --all"),    # a fresh default state
    s("snapshot-create test snap-redefine.xml --redefine --current; snapshot-dumpxml test r1; "
      "snapshot-current test --name; snapshot-info test r1"),
    s("snapshot-create test --current"),
    s("snapshot-create test --redefine"),
    s("snapshot-create-as test --disk-only s1"),
    s("snapshot-create-as test --no-metadata s1"),
    s("snapshot-create-as test s1; snapshot-delete test s1 --metadata"),
    s("snapshot-create-as test s1; snapshot-delete test s1 --children --children-only"),
    s("snapshot-create-as test s2; snapshot-create-as test s3; snapshot-list test --tree --from s2; "
      "snapshot-list test --current --tree; snapshot-list test --from s2 --parent"),
    s("snapshot-current test s1 --name"),
    s("snapshot-current test"),
    s("snapshot-current 1"),
    s("snapshot-current 6695eb01-f6a4-8304-79aa-97f2502e193f --name"),
    s("snapshot-create-as test s1; snapshot-create-as test s2; snapshot-current 1 s1; snapshot-current 1 --name"),
    s("snapshot-current nosuch --name s1"),
    s("snapshot-current nosuch --name ''"),
    s("snapshot-current nosuch ''"),
    s("snapshot-current test --name ''"),
    s("snapshot-info test"),
    s("snapshot-info test --current --snapshotname s1"),
    s("snapshot-info test --current"),
    s("snapshot-dumpxml test nosuch"),
    s("snapshot-parent test nosuch"),
    s("snapshot-create-as test s1; snapshot-parent test s1"),
    s("snapshot-list test --tree --name"),
    s("snapshot-list test --tree --leaves"),
    s("snapshot-list test --descendants"),
    s("snapshot-create-as test s1; destroy test; undefine test"),
    s("snapshot-create-as test s1; destroy test; undefine test --snapshots-metadata; list --all"),
    s("snapshot-create-as --print-xml test name desc vda vdb"),
    s("snapshot-create-as --print-xml test --diskspec vda,file=a&b,,c,snapshot=external "
      "--description 1<2 --diskspec vdb --memspec file=d,,e"),
    s("snapshot-create-as test --print-xml --diskspec vda,foo=bar"),
    s("snapshot-create-as test --print-xml --diskspec vda,stype=nope"),
    s("snapshot-create-as test --print-xml --memspec foo"),
    s("snapshot-create-as nosuch --print-xml n1"),
    s("snapshot-create-as test ''"),
    # block jobs (the test driver has none; virsh's option checks come first)
    s("blockpull test vda"),
    s("blockpull test vda --verbose"),
    s("blockpull test vda --bandwidth abc"),
    s("blockpull test vda --timeout 0"),
    s("blockcommit test vda --pivot --keep-overlay"),
    s("blockcommit test vda --verbose"),
    s("blockcommit test vda --async"),
    s("blockcommit test vda --top vda[1] --base vda[2] --shallow --delete --keep-relative"),
    s("blockjob test vda --abort --info"),
    s("blockjob test vda --raw --pivot"),
    s("blockjob test vda"),
    s("blockjob test vda 5"),
    s("blockcopy test vda"),
    s("blockcopy test vda --dest /x --xml /y"),
    s("blockcopy test vda --dest /tmp/x.img --print-xml"),
    s("blockcopy test vda /tmp/x.img --format qcow2 --blockdev --print-xml"),
    s("blockcopy test vda --dest /x --raw --print-xml"),
    s("blockresize test vda abc"),
    s("blockresize test vda 1WB"),
    s("blockresize test vda 1G"),
    # storage
    s("pool-list; pool-list --all --details; pool-list --name; pool-list --uuid; pool-info default-pool; "
      "pool-info default-pool --bytes; pool-info nosuch"),
    s("vol-create-as default-pool v1.qcow2 1G --format qcow2; vol-create-as default-pool v2.img 10M "
      "--allocation 1M; vol-list default-pool; vol-list default-pool --details; vol-info v1.qcow2 default-pool; "
      "vol-info --pool default-pool v2.img --bytes; vol-info nosuch; pool-info default-pool"),
    s("vol-create-as default-pool v3 1M --prealloc-metadata"),
    s("vol-create-as default-pool v3 1M --prealloc-metadata --print-xml"),
    s("vol-create-as default-pool v1 1M; vol-create-as default-pool v3 1M --backing-vol v1 --backing-vol-format raw "
      "--prealloc-metadata; vol-create-as default-pool v3 1M --backing-vol /default-pool/v1; vol-list default-pool"),
    s("vol-create-as default-pool v3 1M --backing-vol nosuch --prealloc-metadata"),
    ["-r", "-c", "test:///default", "vol-create-as default-pool v3 1M --prealloc-metadata"],
    s("vol-info x --pool nosuch; vol-info x --pool default-pool"),
    s("pool-list --all --inactive"),
    s("pool-list --details --uuid"),
    s("pool-list --details --name"),
    s("pool-list --uuid --name; pool-list --type dir,fs; pool-list --type disk --all --details"),
    s("pool-list --type dir,bogus"),
    s("pool-list --inactive; pool-list --transient; pool-list --persistent --autostart; "
      "pool-list --no-autostart --name; pool-list --persistent --no-autostart --details"),
    s("pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566; pool-info DFE224CB28FB8DD0C4B264EB3F0F4566; "
      "pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4567"),
    s("vol-list nosuch; vol-info /default-pool/nosuch; vol-create-as nosuch v 1M"),
    s("vol-create-as default-pool v 1M --format bogus"),
    s("vol-create-as default-pool v 1M; vol-info v --pool default-pool --physical"),
    s("vol-create-as default-pool v abc; vol-create-as default-pool v 1M --allocation x"),
    s("vol-create-as default-pool v 1M; vol-create-as default-pool v 1M; vol-info /default-pool/v; "
      "vol-info v"),
    s("vol-create-as default-pool big 200G; vol-create-as default-pool b2 99G --allocation 99G; "
      "vol-create-as default-pool b3 2G --allocation 2G; pool-info default-pool --bytes; "
      "pool-list --details"),
    s("vol-create-as default-pool v 1M; vol-info v --pool dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566 --bytes; "
      "vol-list dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566 --details; "
      "vol-info /default-pool/v --pool default-pool"),
    s("vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M --backing-vol /default-pool/v1 "
      "--print-xml; vol-create-as default-pool v2 1M --backing-vol v1 --format qcow2 --print-xml"),
    # the command language and option binding
    s("echo a; bogus"),
    DEFAULT + ["domstate"],
    s("domstate test extra"),
    s("domstate --domain"),
    s("domstate --dom test"),
    s("domstate test --reason --reason"),
    s("domstate test --reason=1"),
    s("domstate test --domain test"),
    s("domstate --domain=test --reason"),
    s("domstate -- --reason"),
    s("echo \"unterminated"),
    s("echo trailing\\"),
    s("list --bogus"),
    s("dominfo ''"),
    DEFAULT + ["echo a \t b"],
    DEFAULT + ["echo \"a \t b\""],
    DEFAULT + ["echo", "'", '"', "\\;echo\ta"],
    DEFAULT + ["echo \\' \\\" \\;echo\ta"],
    DEFAULT + ["--", "echo", "--shell", "a"],
    DEFAULT + ["echo", "--", "--", "--shell", "a"],
    DEFAULT + ["echo --s\\h'e'\"l\"l -- a"],
    DEFAULT + ["ec\\\nho a\n echo \\\n b;"],
    DEFAULT + ["echo a # b\\\necho c"],
    DEFAULT + ["#unbalanced; 'quotes\"\necho a # b"],
    DEFAULT + ["\\# ignored;echo a\n'#also' ignored"],
    DEFAULT + ["echo", "a", "A", "0", "+", "*", ";", ".", "'", '"', "/", "?", "=", " ", "\n", "<", ">", "&"],
    DEFAULT + ["echo", "--shell", "a", "A", "0", "+", "*", ";", ".", "'", '"', "/", "?", "=", " ", "<", "&"],
    DEFAULT + ["echo", "--xml", "a", "'", '"', "<", ">", "&"],
    s("echo --shell --xml a"),
    DEFAULT + ["-q", "echo --split a,b,,c,,,d,,,,e,,,,,f,,,,,,e; echo --split ,,a,b,; echo --split ''"],
    s("echo --string hello; echo --str hello; echo --hi"),
    s("echo --hi=x"),
    s("echo --err hi there"),
    s("echo ; echo"),
    s("quit; echo no"),
    s("echo a; exit; echo no"),
    s(" "),
    DEFAULT + [""],
    s("pwd; cd /tmp"),
    s("resume test; domstate test"),
    s("echo a; domstate nosuch; echo c"),
    # help
    s("help domstate"),
    s("help snapshot"),
    s("help bogus"),
    s("domstate --help"),
    s("echo --help data"),
    s("help snapshot-create-as; help snapshot-list; help blockcommit; help blockcopy; help list; help undefine"),
    s("help dumpxml; help echo; help start; help create; help blockjob; help vol-create-as; help domblkinfo"),
    # timing, quiet, global options
    DEFAULT + ["-t", "domstate test"],
    DEFAULT + ["-q", "-t", "domstate test"],
    ["-Z"],
    ["-c"],
    ["--bogus"],
    ["--quiet=1"],
    ["-d", "abc"],
    ["-e", "ab", "-c", "test:///default", "uri"],
    ["-k", "-1"],
    ["-k", "abc"],
    ["-k", "5", "-c", "test:///default", "uri"],
    ["-k", "0", "-c", "test:///default", "uri"],
    ["-d", "9", "-c", "test:///default", "uri"],
    ["-qt", "-c", "test:///default", "uri"],
    ["-ctest:///default", "uri"],
    ["--connect=test:///default", "uri"],
    ["--conn", "test:///default", "uri"],
    ["-c", "test:///nonexistent.xml", "list"],
    ["-c", "test:///default", "--", "uri"],
    # a libvirt test-driver node file
    NODE + ["list\nnodeinfo\n"],
    NODE + ["dominfo fc5"],
    NODE + [("dominfo ef861801-45b9-11cb-88e3-afbfe5370493\ndominfo fc4\ndomid fc4\ndomuuid 2\n"
             "domname 2\ndomstate 2\ndomstate fc4 --reason")],
    NODE + [LIFECYCLE_SCRIPT],
    NODE + ["list --uuid; list --name --all; list --uuid --name --all; domstate fv0; domstate fv0 --reason"],
    NODE + ["dumpxml fv0; dumpxml fc4; dumpxml fc5"],
    NODE + ["domblklist fv0 --details; domblklist fc5 --details; domblkinfo fc5 --all"],
    NODE + ["pool-list --all --details; vol-list default-pool --details; vol-info default-vol default-pool"],
    NODE + [("vol-info /default-pool/default-vol --bytes; vol-info default-vol; pool-list --all --uuid --name; "
             "vol-create-as default-pool v 1G; pool-info default-pool --bytes; vol-list default-pool")],
    NODE + ["-q", "domname 4294967298"],
    # snapshots in a node file: libvirt's internal form, <active> marking the current one
    SNAPNODE + ["snapshot-list d1 --tree; snapshot-current d1 --name; snapshot-dumpxml d1 s2"],
    SNAPNODE + ["snapshot-info d1 s1; snapshot-list d1 --parent; snapshot-revert d1 s1; domstate d1"],
    # events and the monitor, screen and keyboard of the test driver (tests/test_events.py: QEMU)
    s("event --list; event; event --all --event lifecycle; event --list --event x; event --event foo"),
    s("event --all --domain nope --timeout 1; event --event lifecycle --timeout 0; event test --all --timeout 1"),
    s("qemu-monitor-event --timeout 1; qemu-monitor-event test NOPE; qemu-monitor-command test --hmp info"),
    s("qemu-monitor-command test --pass-fds 1 info; qemu-monitor-command test --hmp --pretty x; qemu-monitor-command"),
    s("send-key test 1 2; send-key test 0x1e 010 KEY_A KEY_LEFTSHIFT; send-key test --codeset xt KEY_A; send-key test 700"),
    s("send-key test --codeset foo 1; send-key test --holdtime -1 1; send-key test --codeset rfb 1 --holdtime 5"),
    s("send-key test 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; send-key test --codeset xt 200; send-key test 600"),
    s("send-key test 65536; send-key test; send-key test --codeset atset1 0xe048"),
    s("domjobinfo test; domjobinfo test --completed; domjobinfo test --rawstats; domcontrol test; domcontrol nope"),
    s("domdisplay test; domdisplay test vnc; domdisplay test --all; domdisplay test --type spice --all; vncdisplay test"),
    s("screenshot test --screen -1 --file x; screenshot test --screen abc; screenshot nope"),
    s("destroy test; send-key test 1; domcontrol test; domjobinfo test; domdisplay test; vncdisplay test"),
    ["-r"] + s("screenshot test --file x.png; send-key test 1; domcontrol test; qemu-monitor-command test x"),
]


def _label(args):
    text = " ".join(a if a.strip() and "\n" not in a else repr(a) for a in args)
    return text if len(text) < 80 else text[:77] + "..."


@needs_virsh
@pytest.mark.parametrize("args", CASES, ids=[_label(a) for a in CASES])
def test_same_as_virsh(args):
    theirs, ours = compare(args, in_process=True)
    assert ours == theirs


# Every seventh case also runs through the installed console script: the process
# boundary (argv decoding, exit status, stream flushing) stays tested for real.
SUBPROCESS_SAMPLE = CASES[::7]


@needs_virsh
@pytest.mark.parametrize("args", SUBPROCESS_SAMPLE, ids=[_label(a) for a in SUBPROCESS_SAMPLE])
def test_same_as_virsh_as_a_process(args):
    theirs, ours = compare(args)
    assert ours == theirs


def test_enough_cases():
    """The foundation promises at least 80 distinct command lines compared with virsh."""
    assert len({tuple(c) for c in CASES}) >= 80


@needs_virsh
def test_interactive_script_on_stdin_matches_virsh():
    """Piped stdin runs as a script; the banner and prompts differ only in the program's name."""
    script = "list\nfoo\ndomstate test\necho 'a;b'\nquit\n"
    theirs, ours = compare(["-c", "test:///default"], stdin=script)
    assert ours == (theirs[0].replace("virsh", "pyvirsh"), theirs[1], theirs[2])


@needs_virsh
def test_shell_without_its_first_connection_exits_as_virsh():
    theirs, ours = compare(["-c", "test:///nonexistent.xml"], stdin="list\nquit\n")
    assert ours == theirs and theirs[2] == 1


@needs_virsh
def test_failed_connect_in_the_shell_matches_virsh():
    """A failed connect drops the connection; the next command opens the old URI again."""
    script = "connect test:///nonexistent.xml\nlist\nconnect test:///nonexistent.xml --readonly\nuri\nquit\n"
    theirs, ours = compare(["-c", "test:///default"], stdin=script)
    assert ours == (theirs[0].replace("virsh", "pyvirsh"), theirs[1], theirs[2])


@needs_virsh
def test_connect_to_the_empty_uri_matches_virsh():
    """connect '' is allowed (VSH_OFLAG_EMPTY_OK): it opens the default URI, not read-only."""
    env = {"LIBVIRT_DEFAULT_URI": "test:///default", "PYVIRSH_DEFAULT_URI": "test:///default"}
    for line in ("connect ''; uri; destroy test", "connect '' --readonly; uri; destroy test",
                 "connect --name ''; uri"):
        theirs, ours = compare(DEFAULT + [line], env_extra=env, in_process=True)
        assert ours == theirs, line


# --------------------------------------------------------------------------
# edit and snapshot-edit, with a fake $EDITOR (a shell script)
# --------------------------------------------------------------------------

_TEMP_FILE = re.compile(r"[^\s'()]*/(py)?virsh\w+\.xml")     # in $TMPDIR, wherever that is

EDITORS = {
    # A domain document without a name: the define fails.
    "noname": 'cat %s > "$1"' % os.path.join(DATA, "bad-noname.xml"),
    # Renames snapshot s1 to s2: the clean-up (metadata-only delete) fails in the test driver.
    "rename": "sed -i 's/<name>s1</<name>s2</' \"$1\"",
    "remove": 'rm -f "$1"',
    "directory": 'rm -f "$1"; mkdir "$1"',
    "fail": "exit 3",
    # First run: keep the original aside and write a document without a name;
    # later runs: put the original back (unchanged).
    "twice": 'if [ -e "$0.saved" ]; then cat "$0.saved" > "$1"; exit 0; fi\n'
             'cat "$1" > "$0.saved"\ncat %s > "$1"' % os.path.join(DATA, "bad-noname.xml"),
}


@pytest.fixture
def editor(tmp_path):
    def make(name):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n%s\n" % EDITORS[name])
        path.chmod(0o755)
        saved = tmp_path / (name + ".saved")
        if saved.exists():
            saved.unlink()
        return str(path)
    return make


def _no_temp_names(result):
    out, err, status = result
    return _TEMP_FILE.sub("TMP", out), _TEMP_FILE.sub("TMP", err), status


EDIT_CASES = [
    ("fail", "edit test"),
    ("fail", "snapshot-create-as test s1; snapshot-edit test s1"),
    ("remove", "edit test"),
    ("remove", "snapshot-create-as test s1; snapshot-edit test s1"),
    ("directory", "snapshot-create-as test s1; snapshot-edit test --current --snapshotname s1"),
    ("rename", "snapshot-create-as test s1; snapshot-create-as test s2; snapshot-edit test s1"),
    ("rename", "snapshot-create-as test s1; snapshot-edit test s1 --rename; snapshot-list test --name"),
    ("rename", "snapshot-create-as test s1; snapshot-edit test nosuch"),
]


@pytest.mark.parametrize("name,line", EDIT_CASES, ids=["%s: %s" % c for c in EDIT_CASES])
@needs_virsh
def test_edit_failures_match_virsh(editor, name, line):
    theirs, ours = compare(DEFAULT + [line], env_extra={"EDITOR": editor(name)})
    assert _no_temp_names(ours) == _no_temp_names(theirs)


def _on_terminal(program, args, keys, env_extra):
    """Run with stdin on a pseudo-terminal; each key is typed once the next 'Try again?' is shown."""
    env = dict(os.environ, LANG="C", LC_ALL="C", TZ="UTC")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    env.update(env_extra)
    master, slave = pty.openpty()
    proc = subprocess.Popen(program + args, cwd=DATA, env=env, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    os.close(slave)
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    text = {out_fd: b"", err_fd: b""}
    open_fds = {out_fd, err_fd}
    typed, deadline = 0, time.monotonic() + 60
    try:
        while open_fds:
            assert time.monotonic() < deadline, "no answer from %s" % program[0]
            if typed < len(keys) and text[out_fd].count(b"Try again?") > typed:
                os.write(master, keys[typed:typed + 1])
                typed += 1
            for fd in select.select(sorted(open_fds), [], [], 0.1)[0]:
                chunk = os.read(fd, 4096)
                if chunk:
                    text[fd] += chunk
                else:
                    open_fds.discard(fd)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        proc.stdout.close()
        proc.stderr.close()
    return normalize(text[out_fd].decode()), normalize(text[err_fd].decode()), proc.returncode


TERMINAL_CASES = [
    # help, an unknown key, Ctrl-D (a key in raw mode), turn off validation, force, give up
    ("noname", "edit test --skip-validate", b"?x\x04ifn"),
    ("twice", "edit test --skip-validate", b"y"),
    ("noname", "snapshot-create-as test s1; snapshot-edit test s1", b"?ifn"),
]


@pytest.mark.parametrize("name,line,keys", TERMINAL_CASES, ids=["%s: %s" % c[:2] for c in TERMINAL_CASES])
@needs_virsh
def test_edit_prompt_on_a_terminal_matches_virsh(editor, name, line, keys):
    theirs = _on_terminal(["virsh"], DEFAULT + [line], keys, {"EDITOR": editor(name)})
    ours = _on_terminal(pyvirsh_argv(), DEFAULT + [line], keys, {"EDITOR": editor(name)})
    assert ours == theirs
