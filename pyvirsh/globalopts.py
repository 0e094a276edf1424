"""pyvirsh's global options: the one table, and virsh's getopt reading of them.

Everything said about a global option is said here once: how the command line
is read (virsh's getopt_long with "+:c:d:e:hk:K:l:qrtvV": short options may be
bundled, long options abbreviated, the first non-option word ends them), the
line in the usage text (`pyvirsh -h`, virsh's own layout), the help shown
beside a completion, and the man page's entry (pyvirsh.manpage).
"""

from __future__ import annotations

NO, REQUIRED, OPTIONAL = "no", "required", "optional"


class GlobalOption:
    __slots__ = ("long", "short", "arg", "usage", "help", "man", "man_text", "key")

    def __init__(self, long: str | None, short: str | None, arg: str, usage: str, help: str,
                 man: str | None, man_text: str = "", key: str | None = None):
        self.long = long            # --long (None: short form only)
        self.short = short          # -x (None: long form only)
        self.arg = arg              # NO | REQUIRED | OPTIONAL
        self.usage = usage          # the label in virsh's usage layout
        self.help = help            # the usage help; '\n' where the usage wraps it
        self.man = man              # the man page's label in help notation (None: another entry covers it)
        self.man_text = man_text    # the man page's text, troff
        self.key = key              # what the parser reports, when not the short letter (else the long name)


# In the usage text's order.
GLOBAL_OPTIONS = [
    GlobalOption("connect", "c", REQUIRED, "-c | --connect=URI", "hypervisor connection URI",
                 "-c URI, --connect=URI",
                 "Connect to the hypervisor at \\fIURI\\fR.\n"
                 "See \\fBCONNECTIONS\\fR for the URIs pyvirsh knows and the default."),
    GlobalOption("debug", "d", REQUIRED, "-d | --debug=NUM", "debug level [0-4]",
                 "-d NUM, --debug=NUM",
                 "Debug level, 0 to 4; a level out of range is reported and ignored.\n"
                 "With any level set, an internal error also prints its Python traceback."),
    GlobalOption("escape", "e", REQUIRED, "-e | --escape <char>", "set escape sequence for console",
                 "-e CHAR, --escape=CHAR",
                 "Escape sequence for the console: one character, or \\(aq^\\(aq and a letter.\n"
                 "Checked as virsh checks it; ends a \\fBconsole\\fR session (default ^])."),
    GlobalOption("help", "h", NO, "-h | --help", "this help",
                 "-h, --help",
                 "Print the usage and the list of commands by group, then exit."),
    GlobalOption("keepalive-interval", "k", REQUIRED, "-k | --keepalive-interval=NUM",
                 "keepalive interval in seconds, 0 for disable",
                 "-k NUM, --keepalive-interval=NUM",
                 "Keepalive interval in seconds, 0 to disable.\n"
                 "Checked as virsh checks it; with no daemon there is nothing to keep alive."),
    GlobalOption("keepalive-count", "K", REQUIRED, "-K | --keepalive-count=NUM",
                 "number of possible missed keepalive messages",
                 "-K NUM, --keepalive-count=NUM",
                 "Number of keepalive messages that may be missed; checked and otherwise ignored."),
    GlobalOption("log", "l", REQUIRED, "-l | --log=FILE", "output logging to file",
                 "-l FILE, --log=FILE",
                 "Accepted for compatibility; pyvirsh writes no client log."),
    GlobalOption("quiet", "q", NO, "-q | --quiet", "quiet mode",
                 "-q, --quiet",
                 "Quiet mode: leave out informational messages, table headers\n"
                 "and the banner of the interactive shell."),
    GlobalOption("readonly", "r", NO, "-r | --readonly", "connect readonly",
                 "-r, --readonly",
                 "Connect read-only: commands that would change anything fail.\n"
                 "The shell\\(aqs prompt becomes \\fBpyvirsh >\\fR."),
    GlobalOption("timing", "t", NO, "-t | --timing", "print timing information",
                 "-t, --timing",
                 "After each command, print the time it took."),
    GlobalOption(None, "v", NO, "-v", "short version",
                 "-v, --version, --version=short",
                 "Print the version number and exit."),
    GlobalOption(None, "V", NO, "-V", "long version",
                 "-V, --version=long",
                 "Print the long version (the drivers and features built in) and exit."),
    GlobalOption("version", None, OPTIONAL, "     --version[=TYPE]",
                 "version, TYPE is short or long (default short)", None, key="v"),
    # pyvirsh's own, beyond virsh (long form only, in alphabetical order):
    GlobalOption("hosts", None, REQUIRED, "     --hosts=FILE",
                 "run the command on every host FILE names, in parallel",
                 "--hosts=FILE",
                 "Run the command line on every host the file names, all at once, and print\n"
                 "each host\\(aqs output under its name (see \\fBCONNECTIONS\\fR).\n"
                 "The other global options go to every host."),
    GlobalOption("json", None, NO, "     --json",
                 "print results as JSON (list, dominfo, domstate, domblklist,\n"
                 "domblkinfo, blockjob, snapshot-list, snapshot-info, nodeinfo)",
                 "--json",
                 "Print the results of \\fBlist\\fR, \\fBdominfo\\fR, \\fBdomstate\\fR,\n"
                 "\\fBdomblklist\\fR, \\fBdomblkinfo\\fR, \\fBblockjob\\fR,\n"
                 "\\fBsnapshot\\-list\\fR, \\fBsnapshot\\-info\\fR and \\fBnodeinfo\\fR\n"
                 "as JSON documents, one per command, instead of virsh\\(aqs text.\n"
                 "Informational messages are left out, and the errors of a failed command\n"
                 "become one JSON document on standard error."),
    GlobalOption("no-color", None, NO, "     --no-color", "never colour the output (also: NO_COLOR=1)",
                 "--no-color",
                 "Never colour the output, as when \\fBNO_COLOR\\fR is set.\n"
                 "Colour and progress bars are only ever used on a terminal."),
]

# long name -> (the key it is reported as, argument kind)
LONG_OPTIONS = {o.long: (o.key or o.short or o.long, o.arg) for o in GLOBAL_OPTIONS if o.long}
SHORT_WITH_ARG = {o.short for o in GLOBAL_OPTIONS if o.short and o.arg == REQUIRED}
SHORT_FLAGS = {o.short for o in GLOBAL_OPTIONS if o.short and o.arg != REQUIRED}


def usage_lines() -> list[str]:
    """The options part of virsh's usage text: label in 24 columns, help from column 28."""
    lines = []
    for o in GLOBAL_OPTIONS:
        help_lines = o.help.split("\n")
        if len(o.usage) < 24:
            lines.append("    %-24s%s" % (o.usage, help_lines.pop(0)))
        else:
            lines.append("    " + o.usage)
        lines += [" " * 28 + text for text in help_lines]
    return lines


def completion_words() -> list[tuple[str, str]]:
    """Every spelling of every option with its help, for TAB after `pyvirsh`."""
    words = []
    for o in GLOBAL_OPTIONS:
        text = " ".join(o.help.split())
        words += [("-" + o.short, text)] if o.short else []
        words += [("--" + o.long, text)] if o.long else []
    return words


class UsageError(Exception):
    def __init__(self, message: str, missing_argument_of: str | None = None):
        super().__init__(message)
        self.missing_argument_of = missing_argument_of     # long name, when the last option lacks its value


def read_globals(argv: list[str]) -> tuple[list[tuple[str, str | None]], int]:
    """The (key, argument) pairs of the global options, and the index of the first command word."""
    opts = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return opts, i + 1
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            matches = [n for n in LONG_OPTIONS if n == name] or \
                [n for n in LONG_OPTIONS if n.startswith(name)]
            if len(matches) != 1 or not name:
                raise UsageError("unsupported option '%s'. See --help." % word)
            letter, kind = LONG_OPTIONS[matches[0]]
            if kind == NO and eq:
                raise UsageError("unsupported option '%s'. See --help." %
                                 (("-" + letter) if len(letter) == 1 else word))
            if kind == REQUIRED and not eq:
                if i + 1 >= len(argv):
                    short = "'-%s'/" % letter if len(letter) == 1 else ""      # getopt names both forms
                    raise UsageError("option %s'--%s' requires an argument" % (short, matches[0]), matches[0])
                i += 1
                value = argv[i]
                eq = "="
            opts.append((letter, value if eq else None))
            i += 1
            continue
        if word.startswith("-") and len(word) > 1:
            j = 1
            while j < len(word):
                letter = word[j]
                if letter in SHORT_WITH_ARG:
                    value = word[j + 1:]
                    if not value:
                        if i + 1 >= len(argv):
                            long_name = next(n for n, (s, _) in LONG_OPTIONS.items() if s == letter)
                            raise UsageError("option '-%s'/'--%s' requires an argument" % (letter, long_name),
                                             long_name)
                        i += 1
                        value = argv[i]
                    opts.append((letter, value))
                    break
                if letter in SHORT_FLAGS:
                    opts.append((letter, None))
                    j += 1
                    continue
                raise UsageError("unsupported option '-%s'. See --help." % letter)
            i += 1
            continue
        return opts, i
    return opts, i


def without_option(argv: list[str], first: int, long: str) -> list[str]:
    """The global option words before argv[first] (the command) with every use of --long
    (abbreviated or not, its value joined by '=' or in the next word) left out."""
    out = []
    i = 0
    while i < first:
        word = argv[i]
        name, eq, _ = word[2:].partition("=") if word.startswith("--") else ("", "", "")
        if name and long.startswith(name) and [n for n in LONG_OPTIONS if n.startswith(name)] in ([long],) \
                or name == long:
            i += 1 if eq else 2
            continue
        out.append(word)
        i += 1
    return out
