"""Generate man/pyvirsh.1: the command reference from the command tree, the rest written here.

    python -m pyvirsh.manpage > man/pyvirsh.1

Every command entry (synopsis, summary, description, options and their help)
comes from the same declarations that `pyvirsh help COMMAND` prints, and the
OPTIONS section from the global-option table (pyvirsh.globalopts), so the
page cannot drift from the program; tests/test_manpage.py checks that the
committed page is exactly what render() returns. The page date is
$SOURCE_DATE_EPOCH (reproducible builds) or else the fixed PAGE_DATE below,
never today's date.

This module is imported only to generate the page; it imports the command
tree inside render(), never at import time.
"""

from __future__ import annotations

import os
import re

# The date printed in the page footer when SOURCE_DATE_EPOCH is not set.
# Change it when the hand-written prose changes substantially.
PAGE_DATE = "2026-11-26"

WRAP = 78   # longest text line written to the .1 file (a long macro line may exceed it)


# ---------------------------------------------------------------------------
# troff helpers
# ---------------------------------------------------------------------------

_OPTION_WORD = re.compile(r"(?<![\w\\-])--?[A-Za-z][\w-]*")
_NOTATION_TOKEN = re.compile(r"--?[A-Za-z][\w-]*|<[^<>]+>|[A-Z][A-Z_]+(?![\w-])| ")


def page_date() -> str:
    """YYYY-MM-DD from $SOURCE_DATE_EPOCH (UTC), else PAGE_DATE."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isascii() and epoch.isdigit():
        import time
        return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))
    return PAGE_DATE


def _dashes(word: str) -> str:
    return word.replace("-", r"\-")


def escape(text: str) -> str:
    r"""Plain text (help strings) as troff text: '\' escaped, option names bold with '\-'."""
    text = text.replace("\\", r"\e")
    return _OPTION_WORD.sub(lambda m: r"\fB\%%%s\fR" % _dashes(m.group(0)), text)


def notation(text: str) -> str:
    r"""virsh's help notation as troff: '--name' bold, '<value>' and VALUE italic, and the
    spaces inside one token unbreakable, so '[--bandwidth <number>]' never splits.
    Each word starts with '\%' so that groff never hyphenates it."""
    def one(m):
        tok = m.group(0)
        if tok == " ":
            return r"\ \%"
        if tok.startswith("-"):
            return r"\fB%s\fR" % _dashes(tok)
        if tok.startswith("<"):
            return r"<\fI%s\fR>" % _dashes(tok[1:-1])
        return r"\fI%s\fR" % _dashes(tok)
    pieces = []
    pos = 0
    for m in _NOTATION_TOKEN.finditer(text):
        pieces.append(text[pos:m.start()].replace("\\", r"\e"))
        pieces.append(one(m))
        pos = m.end()
    pieces.append(text[pos:].replace("\\", r"\e"))
    return r"\%" + "".join(pieces)


def _protect(line: str) -> str:
    r"""A text line must not start with '.' or an apostrophe (troff would read a request)."""
    return "\\&" + line if line[:1] in (".", "'") else line


def _no_hyphenation(lines: list[str]) -> list[str]:
    r"""Hand-written troff: words with option dashes or bold/italic names start with '\%',
    so groff never hyphenates them ('--rea-son'); example blocks are left alone."""
    out, example = [], False
    for line in lines:
        if line.startswith("."):
            example = line.startswith(".EX") or (example and not line.startswith(".EE"))
        elif not example:
            words = line.split(" ")
            for i, word in enumerate(words):
                if "\\%" not in word and ("\\-" in word or word.startswith(("\\fB", "\\fI"))):
                    words[i] = "\\%" + word
            line = re.sub(r"\\ (?!\\%)", r"\\ \\%", " ".join(words))
        out.append(line)
    return out


def text_lines(text: str) -> list[str]:
    """Escaped text wrapped into short source lines (the formatter fills them again)."""
    words = escape(" ".join(text.split())).split(" ")
    lines, cur = [], ""
    for word in words:
        if cur and len(cur) + 1 + len(word) > WRAP:
            lines.append(cur)
            cur = word
        else:
            cur = cur + " " + word if cur else word
    if cur:
        lines.append(cur)
    return [_protect(line) for line in lines]


# ---------------------------------------------------------------------------
# Hand-written sections (troff source)
# ---------------------------------------------------------------------------

_HEAD = r""".SH NAME
pyvirsh \- virsh-compatible virtualization shell without a daemon
.SH SYNOPSIS
.SY pyvirsh
[\fIOPTION\fR]...\&
[\fICOMMAND_STRING\fR]
.YS
.SY pyvirsh
[\fIOPTION\fR]...\&
\fICOMMAND\fR
[\fIARG\fR]...
.YS
.SH DESCRIPTION
\fBpyvirsh\fR is a virtualization shell with the commands, options, output
and exit status of
.BR virsh (1)
(those of libvirt 9.0), but without a daemon: each pyvirsh process drives
the hypervisor itself, and whatever it must remember between two commands
is kept in state files.
.PP
It is used in three ways:
.TP
One command from the terminal
With several arguments after the global options, the first names the
command and each further argument is one word of it, used as it is:
\fBpyvirsh\ list\ \-\-all\fR.
With a single argument, that argument is a command string (see
\fBTHE COMMAND LANGUAGE\fR), which may hold several commands:
.RS
.EX
pyvirsh \(aqstart vm1; domstate vm1 \-\-reason\(aq
.EE
.RE
.TP
Scripts
Command strings suit scripts: the output is virsh\(aqs, stable and plain,
and the exit status is that of the last command.
With no command and a standard input that is not a terminal, pyvirsh reads
commands from standard input, one line at a time, as the interactive shell
would (each line parsed and run on its own, the prompt echoed before it).
.TP
The interactive shell
With no command on a terminal, pyvirsh starts a shell with the prompt
\fBpyvirsh #\fR (\fBpyvirsh >\fR when read-only).
TAB completes commands, options, domain names, disks and \fBvda[N]\fR layer
names; history is kept between sessions (see \fBFILES\fR).
Ctrl-C drops the line being typed, Ctrl-D or \fBquit\fR leaves.
All the commands of a session share one connection.
.PP
Two drivers sit under the same commands:
.TP
\fBtest:///default\fR
An in-memory twin of libvirt\(aqs test driver, for scripts, tutorials and
demonstrations that need no hypervisor.
.TP
\fBqemu:///session\fR, \fBqemu:///system\fR
Real QEMU processes driven over QMP, with no daemon.
Each disk\(aqs backing chain is probed once when the domain starts, cached
in the domain\(aqs status file, and updated by every command that changes it
(see \fBTHE BACKING CHAIN CACHE\fR).
.PP
Errors are printed on standard error as \fBerror:\fR lines, in virsh\(aqs
words; data goes to standard output.
.SH OPTIONS
Global options come before the command.
Short options may be bundled (\fB\-qt\fR), long options may be shortened to
any unique prefix, and the first word that is not an option, or \fB\-\-\fR,
ends them.
"""

_LANGUAGE = r""".SH THE COMMAND LANGUAGE
A command string is read with virsh\(aqs rules:
.IP \(bu 2
\fB;\fR and newline separate commands.
.IP \(bu 2
Words are separated by blanks.
Quotes and backslashes work as in
.BR sh (1):
single quotes keep everything between them as it is, double quotes keep
blanks, and a backslash outside single quotes takes the next character
literally; a backslash before a newline removes both.
A double quote left open is an error.
.IP \(bu 2
A word that starts with \fB#\fR starts a comment, which runs to the end of
the line; a \fB#\fR inside a word is an ordinary character.
.IP \(bu 2
The whole string is parsed before anything runs.
An unknown command, an unknown option, a missing required option or a
quoting error anywhere in it runs nothing at all.
.IP \(bu 2
Options are given by name, as \fB\-\-name\fR \fIvalue\fR or
\fB\-\-name=\fR\fIvalue\fR, or positionally: a bare word fills the first
option that takes a value and is not given yet, in the order the command
declares them (the order of its synopsis).
Flags (options without a value) are only given by name.
An option may be given once, except the repeatable ones
(\fB[[\-\-diskspec]\ <string>]...\fR).
.IP \(bu 2
\fB\-\-\fR ends the options: every word after it is a bare word, even one
that starts with \fB\-\-\fR.
.IP \(bu 2
\fB\-\-help\fR anywhere in a command prints that command\(aqs help instead
of running it, as \fBhelp\fR \fICOMMAND\fR does.
.PP
With several arguments on the command line (the second form of the
synopsis), each argument is one word of one command: no quotes, no \fB;\fR
and no comments are processed.
.PP
The commands of a string run in order, and a failing command does not stop
the ones after it; the exit status is that of the last command (see
\fBEXIT STATUS\fR).
"""

_COMMANDS_INTRO = r""".SH COMMANDS
The commands, grouped as \fBhelp\fR groups them.
Each entry gives the synopsis, the summary and description, and the
options with their help, exactly as \fBpyvirsh help\fR \fICOMMAND\fR
prints them.
In the synopses:
.TP
[\fB\-\-name\fR]
A flag (\fB\-\-name\fR in the option list).
.TP
<\fIname\fR>
A required value, given as a bare word or as \fB\-\-name\fR \fIvalue\fR
(\fB[\-\-name]\fR <\fIstring\fR> or \fB[\-\-name]\fR <\fInumber\fR> in
the option list).
.TP
[\fB\-\-name\fR\ <\fIstring\fR>], [\fB\-\-name\fR\ <\fInumber\fR>]
An optional string or integer value.
.TP
[\fB[\-\-name]\fR\ <\fIstring\fR>]..., [<\fIname\fR>]...
A value that may be given any number of times; bare words fill it.
.PP
A disk is named by its target (\fBvda\fR) or by its source file; a layer
of its backing chain by its file or as \fBvda[\fR\fIN\fR\fB]\fR (see
\fBTHE BACKING CHAIN CACHE\fR).
"""

_TAIL = r""".SH CONNECTIONS
The connection is chosen by \fB\-c\fR \fIURI\fR, else by
\fBPYVIRSH_DEFAULT_URI\fR, else it is \fBqemu:///session\fR, or
\fBqemu:///system\fR when pyvirsh runs as root.
The \fBconnect\fR command changes it inside a shell or a command string.
.TP
\fBtest:///default\fR
The test driver with libvirt\(aqs default objects (the running domain
\fBtest\fR, the pool \fBdefault\-pool\fR, one host).
Each pyvirsh process starts from a fresh state, shared by the commands of
one command string or one shell session.
.TP
\fBtest:///\fR\fIABS/PATH\fR\fB.xml\fR
The test driver loaded from a libvirt test-driver node file, given by its
absolute path.
.TP
\fBqemu:///session\fR
The QEMU driver for the calling user, with its state under the XDG
directories (see \fBFILES\fR).
.TP
\fBqemu:///system\fR
The QEMU driver for the whole host, with its state under \fB/etc\fR,
\fB/var\fR and \fB/run\fR; it needs root.
.TP
\fBqemu:///embed?root=\fR\fIDIR\fR
The QEMU driver with every file it keeps under the absolute directory
\fIDIR\fR: a private set of domains, for tests and tools.
.TP
\fIDRIVER\fB+ssh://\fR[\fIUSER\fB@\fR]\fIHOST\fR\c
[\fB:\fIPORT\fR]\fB/\fIPATH\fR[\fB?\fIPARAMS\fR]
Another host, as libvirt\(aqs URIs name it, for \fIDRIVER\fR \fBqemu\fR
(\fBsystem\fR, \fBsession\fR, \fBembed?root=\fR\fIDIR\fR) and \fBtest\fR
(\fBdefault\fR, \fB/\fR\fINODE\fR\fB.xml\fR).
There is no daemon on that host either: OpenSSH logs in (keys, agent, host
keys and ProxyJump from the ssh configuration) and runs
\fBpyvirsh \-\-driver\-stdio\fR \fIURI\fR there, which serves pyvirsh\(aqs
own driver over the connection until it closes (a length-framed JSON
protocol; that entry point is not for interactive use).
The parameters \fBkeyfile\fR, \fBno_verify\fR, \fBno_tty\fR,
\fBcommand\fR (the ssh binary), \fBsshauth\fR and \fBname\fR mean what
they mean to libvirt; \fBpyvirsh=\fR\fIPATH\fR names the far host\(aqs
pyvirsh.
Files named on the command line are read on the near host.
One-shot commands to one host share one ssh connection (ControlMaster,
kept 60 seconds) through a socket in \fB$XDG_RUNTIME_DIR/pyvirsh\-ssh\fR,
else \fB/tmp/pyvirsh\-ssh\-\fR\fIUID\fR, or \fBPYVIRSH_SSH_CONTROL_DIR\fR
(\fBnone\fR turns sharing off); a directory that is not the user\(aqs own
with mode 0700 is refused.
.PP
\fBpyvirsh \-\-hosts\fR \fIFILE\fR [\fIOPTION\fR]...\&
\fICOMMAND\fR...\& runs the command on every
host of \fIFILE\fR
(a line each: [\fINAME\fR] \fIURI\fR) in parallel, prints each host\(aqs
output under \fB=== \fR\fINAME\fR\fB ===\fR, and exits with status 1 when
any host failed; with \fB\-\-json\fR, one document keyed by host.
.PP
The QEMU driver needs \fBqemu\-system\-x86_64\fR and \fBqemu\-img\fR;
when one is missing, the error names the Debian package to install.
QEMU runs with KVM when \fB/dev/kvm\fR works, and with TCG otherwise.
.SH THE BACKING CHAIN CACHE
A disk image may be an overlay on a backing file, which may have a
backing file of its own: the disk\(aqs backing chain.
pyvirsh probes the chain once, keeps it, and changes what it keeps when it
changes the chain itself.
.TP
When it is probed
When a domain starts, before QEMU runs, pyvirsh reads the header of each
image of each disk with its own prober (qcow2, qed, vmdk, raw, iso and the
other formats libvirt recognizes), following libvirt\(aqs rules.
The top image\(aqs format comes from the domain XML (none given means
raw, never probed); each lower image\(aqs format comes from the header of
the image above it.
An image whose format is not recorded is probed only if it has no backing
file of its own; otherwise the start fails with libvirt\(aqs message and the
\fBqemu\-img rebase \-u \-F\fR command that records the format.
(A guest can write a qcow2 header naming any host file into a raw disk:
trusting it would hand that file to the guest.)
Relative backing names are resolved against the directory of the image
that names them; loops and chains deeper than 200 images are errors.
A chain written in the XML (\fB<backingStore>\fR elements, or an empty
\fB<backingStore/>\fR for none) is used as written and never probed.
.TP
Where it is kept
In the domain\(aqs live XML, in its status file, as libvirt writes it: the
top \fB<source>\fR has \fBindex=\(aq1\(aq\fR and each
\fB<backingStore index=\(aq\fR\fIN\fR\fB\(aq>\fR below it the next
number, ending with an empty \fB<backingStore/>\fR.
\fBvda[\fR\fIN\fR\fB]\fR names the layer with index \fIN\fR, wherever a
command takes a disk or a \fB\-\-top\fR or \fB\-\-base\fR file.
A new overlay takes the next free index; indexes are never reused while
the domain runs.
QEMU is given every layer as an explicit \fB\-blockdev\fR node, so QEMU
probes nothing either.
The cache is dropped when the domain stops.
.TP
When it changes
After \fBblockpull\fR, \fBblockcommit\fR, a \fBblockcopy\fR pivot and an
external snapshot, pyvirsh applies the job\(aqs own change to the cache (a
pull makes the top back onto the base, a commit makes the image above the
top back onto the base, an active commit\(aqs pivot makes the base the
disk\(aqs source, a snapshot puts a new overlay on top), checks the result
against QEMU\(aqs block graph, and releases the images dropped from it.
.TP
When it is read
\fBdumpxml\fR, \fBdomblklist\fR, \fBdomblkinfo\fR, \fBblockjob\fR
and every \fBvda[\fR\fIN\fR\fB]\fR reference read the cache.
No command re-probes an image of a running domain, which QEMU may be
writing.
.SH BLOCK JOBS WITHOUT A DAEMON
\fBblockpull\fR, \fBblockcommit\fR, \fBblockcopy\fR and \fBblockjob\fR
drive QEMU\(aqs block jobs.
The command that starts a job may exit before the job ends, and QEMU drops
the events nobody hears, so every job runs with \fBauto\-finalize\fR and
\fBauto\-dismiss\fR off and is recorded in the domain\(aqs status file.
Any later pyvirsh command that touches the domain finishes what has ended:
it finalizes the job, updates the chain cache, releases the dropped
images and dismisses the job; only then does \fB\-\-delete\fR remove
committed files.
.PP
\fB\-\-wait\fR follows a job to its end in the same process
(\fB\-\-verbose\fR shows the progress).
Ctrl-C or the end of \fB\-\-timeout\fR aborts the job, as in virsh.
Without \fB\-\-wait\fR the command returns at once, and \fBblockjob\fR
shows, pivots or aborts the job later.
.PP
On a shut-off domain, \fBblockpull\fR and \fBblockcommit\fR make the same
change offline with \fBqemu\-img rebase\fR and \fBqemu\-img commit\fR
(virsh refuses both).
An offline active commit waits for \fBblockjob \-\-pivot\fR or
\fBblockjob \-\-abort\fR, as on a running domain; until then the domain
does not start, since the guest would write to the image the pivot leaves.
.SH SNAPSHOTS
Disk-only snapshots (\fBsnapshot\-create\-as \-\-disk\-only\fR) of a
running domain create qcow2 overlays, with the backing file\(aqs name and
format recorded in their headers, and switch every disk to its overlay in
one QMP transaction: all disks or none.
A snapshot pins the image that was active when it was taken; nothing
writes to a pinned image again.
.TP
\fBsnapshot\-delete\fR
The image is no longer pinned.
When it has exactly one child, the child is merged into it, with a block
commit when QEMU has the child open and with \fBqemu\-img commit\fR
otherwise, and whatever named the child (the disk, another snapshot, an
image header) names the merged image.
A dead branch (an image with no child left) is removed; an image with
several children is kept.
.TP
\fBsnapshot\-revert\fR
The domain continues from a new overlay on the pinned image, and its
definition becomes the snapshot\(aqs.
The image left behind is removed when pyvirsh made it and nothing else
needs it.
.PP
Only images that pyvirsh created are ever deleted.
Internal snapshots (qcow2) work as well, with the VM state when the domain
is running.
.PP
\fBsnapshot\-create\-as \-\-memspec file=PATH\fR of a running domain
writes the guest\(aqs RAM to PATH in libvirt\(aqs save-image format (paused
meanwhile unless \fB\-\-live\fR) and gives the disks overlays in the same
step; the guest runs on unless \fB\-\-halt\fR.
\fBsnapshot\-revert\fR to such a snapshot starts QEMU from the memory file
on new overlays (libvirt 9.0 refuses: "revert to external snapshot not
supported yet"), and \fBsnapshot\-delete\fR removes the memory file
(libvirt 9.0 leaves it).
.SH SAVED STATE AND AUTOSTART WITHOUT A DAEMON
\fBsave\fR pauses the guest, writes libvirt\(aqs save-image header
("LibvirtQemudSave", version 2, the domain XML) into a temporary file beside
the target, lets QEMU migrate the guest\(aqs RAM into it, and renames it into
place before QEMU stops; the intent is recorded in the status first, so a
pyvirsh killed mid-save leaves the domain running or saved, never lost.
\fBrestore\fR starts QEMU with the stream as incoming migration.
A managed save is such an image under the state directory
(\fBsave/\fR\fINAME\fR\fB.save\fR); \fBstart\fR restores it and removes
it, \fBstart \-\-force\-boot\fR discards it.
Images are raw (not compressed); virsh and pyvirsh read each other\(aqs
headers, and restoring across the two works only where both build the same
QEMU machine from the XML.
.PP
\fBautostart\fR marks a domain with an empty file
\fBautostart/\fR\fINAME\fR under the config directory.
Nothing starts it by itself:
\fBpyvirsh \-c \fR\fIURI\fR\fB autostart\-run\fR
starts every marked domain that is shut off (restoring a managed save), and
the systemd unit \fIpyvirsh\-autostart@.service\fR shipped with pyvirsh runs
it at boot:
.PP
.nf
unit=$(systemd\-escape qemu:///system)
systemctl enable "pyvirsh\-autostart@$unit.service"
.fi
.SH GUEST EVENTS WITHOUT A DAEMON
QEMU runs with \fB\-no\-shutdown\fR, as under libvirt: a guest that powers
off or panics leaves QEMU stopped rather than gone.
libvirtd acts on QEMU\(aqs event at once; pyvirsh has nobody listening, so
these actions take effect when the next pyvirsh command looks at the domain
(\fBlist\fR, \fBdomstate\fR, \fBdominfo\fR, \fBdestroy\fR, ...):
.TP
\fB<on_poweroff>\fR
\fBdestroy\fR (the default) or \fBrestart\fR
(\fBpreserve\fR is refused, as by libvirt\(aqs QEMU driver).
After the guest powered off: QEMU is stopped and the domain is
\fBshut off (shutdown)\fR; or the machine is reset and runs again.
.TP
\fB<on_crash>\fR
\fBdestroy\fR (the default), \fBrestart\fR, \fBpreserve\fR,
\fBcoredump\-destroy\fR or \fBcoredump\-restart\fR.
After the guest panicked (it reports a panic through a \fB<panic>\fR
device): as above, with \fBshut off (crashed)\fR; or QEMU is kept,
stopped, and the domain is \fBcrashed (panicked)\fR until it is destroyed;
\fBcoredump\-\fR* first writes the guest\(aqs memory to the state
directory\(aqs \fBdump/\fR\fINAME\fR\fB\-\fR\fITIME\fR\fB.core\fR.
.TP
\fB<on_reboot>\fR
\fBrestart\fR (the default) or \fBdestroy\fR.
Needs no command: QEMU resets the machine itself, or turns the reboot into
a stop that the next command makes \fBshut off (shutdown)\fR.
\fBdestroy\fR cannot be combined with a \fBrestart\fR action elsewhere: a
guest\(aqs reboot and the restart\(aqs reset would look the same.
.PP
A domain with an emulated TPM (\fB<tpm><backend type=\(aqemulator\(aq/>\fR)
gets a \fBswtpm\fR process, started before QEMU and stopped with the domain;
its state stays under the state directory\(aqs \fBswtpm/\fR\fIUUID\fR until
\fBundefine\fR (\fB\-\-keep\-tpm\fR keeps it).
.SH STORAGE POOLS WITHOUT A DAEMON
On the QEMU driver a storage pool is a directory of image files (type
\fBdir\fR), kept in files beside the domains\(aq: a persistent pool\(aqs
definition under the config directory (\fBstorage/\fR\fINAME\fR\fB.xml\fR),
a running pool\(aqs live definition, with the sizes and permissions measured
when it started or was refreshed, under the run directory.
Every command reads them again, so all pyvirsh processes see one state.
.TP
Running
A pool runs from \fBpool\-start\fR (or \fBpool\-create\fR) until
\fBpool\-destroy\fR or the host\(aqs reboot, which empties the run
directory; destroying a transient pool forgets it.
Nothing is mounted or held open while a pool runs.
.TP
Autostart
No daemon starts pools at boot: \fBpool\-autostart\fR marks a pool so that
starting a domain whose disk names one of its volumes
(\fB<disk type=\(aqvolume\(aq>\fR) starts the pool first.
\fBpool\-list \-\-autostart\fR and \fBpool\-info\fR show the mark.
.TP
Sizes
Capacity, allocation and available are those of the file system holding
the directory (libvirt\(aqs way: available counts the blocks free to
root), measured at start and at \fBpool\-refresh\fR.
.TP
Volumes
A volume is a file or a directory of a running pool\(aqs directory, as
in libvirt (pyvirsh\(aqs own \fB.pyvirsh\-\fR temporaries excepted); a
file copied in by hand is a volume at once.
Its format is probed from its magic, its capacity read from its header,
with pyvirsh\(aqs own prober; in \fBvol\-dumpxml\fR a backing file whose
format the header does not record is probed only if it has no backing file
of its own (the rule of a domain start), and is shown without a format
otherwise.
A backing volume (\fBvol\-create\-as \-\-backing\-vol\fR) must be in
the same pool; without \fB\-\-backing\-vol\-format\fR its probed format
is recorded (libvirt records raw).
\fBvol\-clone\fR and \fBvol\-create\-from\fR copy the data the guest sees:
the copy has no backing file.
\fBvol\-wipe\fR (algorithm \fBzero\fR only) leaves a raw volume reading as
zeros and makes any other format again, empty, with its size and backing
file (libvirt overwrites its header).
\fBvol\-upload\fR refuses a file longer than \fB\-\-length\fR before writing
anything; \fB\-\-sparse\fR keeps holes as holes both ways.
.TP
Volumes in use
Beyond virsh, \fBvol\-delete\fR, \fBvol\-wipe\fR, \fBvol\-resize
\-\-shrink\fR and \fBpool\-delete\fR refuse a volume that is a layer,
at any depth, of a running domain\(aqs cached backing chain, naming the
domain, the disk and the layer; nothing overrides that.
They also refuse a volume that is the backing file of another volume of a
running pool, naming it, unless \fB\-\-force\fR is given.
.TP
Types
\fBdir\fR pools, and \fBfs\fR pools: a file system on a block device or
an image file (\fB\-\-source\-dev\fR, \fB\-\-source\-format\fR), mounted
on the target (\fBmount \-o nodev,nosuid,noexec\fR) while the pool runs and
unmounted by \fBpool\-destroy\fR; fs pools need root.
\fBpool\-build \-\-overwrite\fR makes the file system with \fBmkfs\fR,
\fB\-\-no\-overwrite\fR only where \fBblkid\fR finds none; without either
flag only the target directory is made.
Another type is refused with \fBunsupported configuration:\fR naming it
(\fBlogical\fR pools need device-mapper, which pyvirsh does not drive yet).
For a \fBdir\fR pool, \fB\-\-overwrite\fR and \fB\-\-no\-overwrite\fR are
refused with libvirt\(aqs error: there is no source device to format.
.SH THE CONSOLE WITHOUT A DAEMON
\fBconsole\fR connects the terminal to a running domain\(aqs serial
console: the first \fB<console>\fR, else the first \fB<serial>\fR, or
the device whose alias \fB\-\-devname\fR names (\fBconsole0\fR,
\fBserial1\fR).
As in libvirt, only a \fBpty\fR device can be connected; QEMU keeps the
pty, and pyvirsh opens it for as long as the session lasts.
The terminal is in raw mode meanwhile (every key, Ctrl\-C included, goes
to the guest) and is restored however the session ends: the escape
character (\fB^]\fR, or \fB\-e\fR), the domain stopping (status 0),
another session taking over, or SIGTERM or SIGHUP (pyvirsh then exits
with 128 plus the signal\(aqs number; virsh ignores both).
As virsh, \fBconsole\fR needs a terminal on stdin.
.TP
One session per device
A session holds a lock file with its process id
(\fIrun\fR\fB/locks/.console\-\fR\fIDEVICE\fR\fB.\fR\fINAME\fR\fB.lock\fR);
a second one is refused with libvirt\(aqs \fBActive console session exists
for this domain\fR.
\fB\-\-force\fR ends the holder (the process the kernel shows holding
that lock gets SIGUSR1; it prints \fBstream had I/O failure\fR, as a
virsh whose session libvirtd aborted) and takes the device over.
\fB\-\-safe\fR is accepted: every pyvirsh session goes through the lock,
which is the exclusion libvirt\(aqs safe console handling gives; a
program that opens the pty by hand is not kept out, under libvirt either.
Over \fIDRIVER\fB+ssh://\fR, \fBconsole\fR is not supported.
.SH ENVIRONMENT
.TP
\fBPYVIRSH_DEFAULT_URI\fR
The connection URI used when \fB\-c\fR is not given.
.TP
\fBPYVIRSH_HISTFILE\fR
The interactive shell\(aqs history file, instead of the one under
\fBXDG_STATE_HOME\fR.
.TP
\fBPYVIRSH_HISTSIZE\fR
How many lines of history to keep (default 500, at most 500000).
.TP
\fBXDG_STATE_HOME\fR
Base of the history file and of \fBqemu:///session\fR\(aqs state
(default \fI~/.local/state\fR).
.TP
\fBXDG_CONFIG_HOME\fR
Base of \fBqemu:///session\fR\(aqs domain definitions
(default \fI~/.config\fR).
.TP
\fBXDG_RUNTIME_DIR\fR
Base of \fBqemu:///session\fR\(aqs run-time files: status files, QMP
sockets, locks (default \fI$XDG_STATE_HOME/pyvirsh/run\fR).
.TP
\fBVISUAL\fR, \fBEDITOR\fR
The editor of \fBedit\fR and \fBsnapshot\-edit\fR (default \fBvi\fR).
.TP
\fBNO_COLOR\fR
When set and not empty, output has no colour and block jobs show virsh\(aqs
plain progress lines, even on a terminal (as with \fB\-\-no\-color\fR).
.TP
\fBPYVIRSH_PROBE_AUDIT\fR
A file to which the image prober appends every path it opens, one a line;
tests use it to prove which images were read.
.SH FILES
.TP
\fI$XDG_STATE_HOME/pyvirsh/history\fR
The interactive shell\(aqs history.
.PP
The QEMU driver keeps domain definitions (config), snapshot metadata
(state), each running domain\(aqs status file, QMP socket and lock (run)
and QEMU\(aqs log (log) in these directories:
.TP
\fBqemu:///system\fR
\fI/etc/pyvirsh/qemu\fR, \fI/var/lib/pyvirsh/qemu\fR,
\fI/run/pyvirsh/qemu\fR, \fI/var/log/pyvirsh/qemu\fR
.TP
\fBqemu:///session\fR
\fI$XDG_CONFIG_HOME/pyvirsh/qemu\fR, \fI$XDG_STATE_HOME/pyvirsh/qemu\fR,
\fI$XDG_RUNTIME_DIR/pyvirsh/qemu\fR, \fI$XDG_STATE_HOME/pyvirsh/qemu/log\fR
.TP
\fBqemu:///embed?root=\fR\fIDIR\fR
\fIDIR/config\fR, \fIDIR/state\fR, \fIDIR/run\fR, \fIDIR/log\fR
.PP
Directories are created with mode 0700, and every state file is replaced
atomically.
.TP
\fI$XDG_RUNTIME_DIR/pyvirsh\-sock\-UID\fR
Short symbolic links to run directories whose QMP socket path would not fit
the 108 bytes of a UNIX socket name (under \fI/tmp\fR without
\fBXDG_RUNTIME_DIR\fR).
pyvirsh refuses to use the directory unless it belongs to the user and
nobody else can write to it.
.SH EXIT STATUS
.TP
\fB0\fR
Success.
.TP
\fB1\fR
Failure: the command failed, or the global options or the command string
could not be parsed.
.PP
A command string exits with the status of its last command.
A parse error anywhere in it exits 1 with nothing run.
The interactive shell, and a script read from standard input, exit 0;
pass a script as a command string (\fBpyvirsh\ "$(cat\ script)"\fR) when its
status matters.
Ctrl-C ends pyvirsh with status 130, except under \fB\-\-wait\fR, where it
aborts the block job.
.SH OUTPUT
Plain output is virsh's, byte for byte: data on standard
output, one \fBerror:\fR line per message on standard error.
On a terminal, unless \fBNO_COLOR\fR is set or
\fB\-\-no\-color\fR is given, states and errors are coloured
and \fB\-\-wait \-\-verbose\fR shows a progress bar;
on a pipe nothing changes.
.PP
With \fB\-\-json\fR the commands below print one JSON
document each (other commands print as usual, without the
blank line virsh adds), and a failed command's errors become
\fB{"error": {"messages": [...]}}\fR
on standard error, with the same exit status.
.TP
\fBlist\fR
\fB{"domains": [...]}\fR, each with \fBid\fR
(null when shut off), \fBname\fR, \fBuuid\fR, \fBstate\fR,
\fBpersistent\fR, \fBautostart\fR, \fBtitle\fR.
.TP
\fBdominfo\fR
\fBid\fR, \fBname\fR, \fBuuid\fR, \fBos_type\fR, \fBstate\fR,
\fBvcpus\fR, \fBcpu_time_seconds\fR, \fBmax_memory_kib\fR,
\fBused_memory_kib\fR, \fBpersistent\fR, \fBautostart\fR,
\fBmanaged_save\fR, \fBmessages\fR.
.TP
\fBdomstate\fR
\fBstate\fR and \fBreason\fR.
.TP
\fBdomblklist\fR
\fB{"disks": [...]}\fR, each with \fBtype\fR,
\fBdevice\fR, \fBtarget\fR, \fBsource\fR and \fBchain\fR:
the cached backing chain, top first, each layer with
\fBindex\fR, \fBpath\fR, \fBformat\fR, \fBtype\fR
(empty for a shut-off domain).
.TP
\fBdomblkinfo\fR
\fB{"disks": [...]}\fR, each with \fBtarget\fR,
\fBcapacity\fR, \fBallocation\fR, \fBphysical\fR (bytes).
.TP
\fBblockjob\fR
\fB{"disk": ..., "job": ...}\fR;
\fBjob\fR is null or has \fBtype\fR, \fBbandwidth_bytes\fR,
\fBcur\fR, \fBend\fR, \fBready\fR, \fBprogress\fR (percent).
.TP
\fBsnapshot\-list\fR
\fB{"snapshots": [...]}\fR, each with \fBname\fR,
\fBcreation_time\fR (epoch seconds), \fBstate\fR,
\fBparent\fR, \fBcurrent\fR, \fBlocation\fR.
.TP
\fBsnapshot\-info\fR
\fBname\fR, \fBdomain\fR, \fBcurrent\fR, \fBstate\fR,
\fBlocation\fR, \fBparent\fR, \fBchildren\fR,
\fBdescendants\fR, \fBmetadata\fR.
.TP
\fBnodeinfo\fR
\fBcpu_model\fR, \fBcpus\fR, \fBmhz\fR, \fBsockets\fR,
\fBcores_per_socket\fR, \fBthreads_per_core\fR,
\fBnuma_cells\fR, \fBmemory_kib\fR.
.SH EXAMPLES
List every domain of the test driver, then run a command string:
.PP
.RS 4
.EX
pyvirsh \-c test:///default list \-\-all
pyvirsh \-c test:///default \(aqsuspend test; domstate test \-\-reason\(aq
.EE
.RE
.PP
Run a script from standard input (each line echoed after the prompt):
.PP
.RS 4
.EX
printf \(aqlist \-\-name\endominfo test\en\(aq | pyvirsh \-q \-c test:///default
.EE
.RE
.PP
On QEMU, show a disk\(aqs cached chain, commit its second layer into the
base, then take a disk-only snapshot and merge it away again:
.PP
.RS 4
.EX
pyvirsh start vm1
pyvirsh dumpxml vm1 \-\-xpath \(aq//disk\(aq
pyvirsh blockcommit vm1 vda \-\-top \(aqvda[2]\(aq \-\-wait \-\-verbose
pyvirsh snapshot\-create\-as vm1 s1 \-\-disk\-only
pyvirsh snapshot\-delete vm1 s1
.EE
.RE
.PP
Commit the active layer and switch the disk to its base:
.PP
.RS 4
.EX
pyvirsh blockcommit vm1 vda \-\-active \-\-pivot \-\-verbose
.EE
.RE
.SH SEE ALSO
.BR virsh (1),
.BR qemu\-img (1),
.BR qemu\-system\-x86_64 (1)
"""


# ---------------------------------------------------------------------------
# Generated sections
# ---------------------------------------------------------------------------

def _options_section() -> list[str]:
    from .globalopts import GLOBAL_OPTIONS

    out = []
    for option in GLOBAL_OPTIONS:
        if option.man is not None:
            out += [".TP", notation(option.man)] + _no_hyphenation(option.man_text.splitlines())
    return out


def _prose(text: str) -> str:
    """A description as one paragraph: its continuation lines joined."""
    return " ".join(text.split())


def _same(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def command_entry(cmd) -> list[str]:
    """One command: its synopsis, summary, description and options."""
    from .commands.helptext import option_notation

    options = list(option_notation(cmd))
    out = [".SY %s" % _dashes(cmd.name)] + [notation(token) for _, token, _ in options]
    out += [".YS", ".PP", ".RS"]
    out += text_lines(cmd.summary)
    description = _prose(cmd.description or "")
    if description and not _same(description, cmd.summary):
        out.append(".br")
        out += text_lines(description)
    for spec, _, label in options:
        out += [".TP", notation(label)] + text_lines(spec.help)
    out.append(".RE")
    return out


def _commands_section() -> list[str]:
    from .commands import GROUPS
    from .commands.helptext import group_commands
    from .tree import command

    out = []
    for keyword, title in GROUPS.items():
        out.append('.SS "%s (help keyword \\(aq%s\\(aq)"' % (title, keyword))
        for name, _summary in group_commands(keyword):
            out += command_entry(command(name))
    return out


def render() -> str:
    """The whole troff source of man/pyvirsh.1."""
    from . import __version__

    lines = [
        '.\\" Generated by "python -m pyvirsh.manpage" from pyvirsh\'s command tree;',
        '.\\" edit pyvirsh/manpage.py, not this file.',
        '.TH PYVIRSH 1 %s "pyvirsh %s" "User Commands"' % (page_date(), __version__),
    ]
    lines += _no_hyphenation(_HEAD.splitlines())
    lines += _options_section()
    lines += _no_hyphenation(_LANGUAGE.splitlines())
    lines += _no_hyphenation(_COMMANDS_INTRO.splitlines())
    lines += _commands_section()
    lines += _no_hyphenation(_TAIL.splitlines())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys
    sys.stdout.write(render())
