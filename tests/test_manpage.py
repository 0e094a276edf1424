"""man/pyvirsh.1: generated from the command tree, committed, and clean for mandoc, groff and man.

Regenerate with:  .venv/bin/python -m pyvirsh.manpage > man/pyvirsh.1
"""

import os
import re
import shutil
import subprocess

import pytest

from pyvirsh import manpage
from pyvirsh.commands import GROUPS, TABLE
from pyvirsh.commands.helptext import format_command_help, option_notation
from pyvirsh.tree import command

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(REPO, "man", "pyvirsh.1")
REGENERATE = "run: .venv/bin/python -m pyvirsh.manpage > man/pyvirsh.1"


def _tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is not installed (apt-get install -y mandoc groff man-db)" % name)
    return path


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


@pytest.fixture(scope="module")
def page_text():
    with open(PAGE, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def plain():
    """The page as mandoc renders it, wide enough that no synopsis or option wraps."""
    proc = _run([_tool("mandoc"), "-T", "ascii", "-O", "width=1000", PAGE])
    assert proc.returncode == 0, proc.stderr
    return re.sub(".\x08", "", proc.stdout)


def _section(plain, title):
    """The lines of one top-level section of the rendered page."""
    lines = plain.splitlines()
    start = lines.index(title) + 1
    end = next(i for i in range(start, len(lines)) if lines[i][:1].isalpha())
    return lines[start:end]


def _help_synopsis(cmd):
    text = format_command_help(cmd)
    return text.split("\n  SYNOPSIS\n", 1)[1].split("\n", 1)[0].strip()


# (1) the committed page is exactly what the generator writes --------------------

def test_committed_page_is_generated(monkeypatch, page_text):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert manpage.render() == page_text, "man/pyvirsh.1 is out of date; " + REGENERATE


def test_date_comes_from_source_date_epoch_else_fixed(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert '.TH PYVIRSH 1 %s "pyvirsh ' % manpage.PAGE_DATE in manpage.render()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert manpage.page_date() == "2023-11-14"
    assert ".TH PYVIRSH 1 2023-11-14 " in manpage.render()


# (2) every command and every visible option has its entry ------------------------

def test_every_command_has_an_entry_in_its_group(plain):
    lines = _section(plain, "COMMANDS")
    groups = [ln.strip() for ln in lines if ln.startswith("   ") and not ln.startswith("    ")]
    assert groups == ["%s (help keyword '%s')" % (title, key) for key, title in GROUPS.items()]

    entries = [ln.split()[0] for ln in lines if ln.startswith("       ") and ln[7:8].isalpha()
               and ln.split()[0] in TABLE]
    assert entries == [n for k in GROUPS for n, e in TABLE.items() if e[1] == k]


def test_every_option_and_its_help_appears(plain):
    lines = _section(plain, "COMMANDS")
    starts = {}
    for i, ln in enumerate(lines):
        words = ln.split()
        if ln.startswith("       ") and not ln.startswith("        ") and words and words[0] in TABLE:
            starts[words[0]] = i
    order = sorted(starts.values()) + [len(lines)]
    for name in TABLE:
        cmd = command(name)
        begin = starts[name]
        block = lines[begin:order[order.index(begin) + 1]]
        # The synopsis is virsh's help synopsis, word for word.
        assert " ".join(block[0].split()) == " ".join(_help_synopsis(cmd).split()), name
        body = " ".join(" ".join(block[1:]).split())
        summary = " ".join(cmd.summary.split())
        assert summary in body, name
        if cmd.description:
            assert " ".join(cmd.description.split()) in body or \
                cmd.description.rstrip(".").lower() == cmd.summary.rstrip(".").lower(), name
        for spec, _, label in option_notation(cmd):
            entry = " ".join(("%s %s" % (label, spec.help)).split())
            assert entry in body, "%s: option %s missing: %r" % (name, spec.name, entry)


def test_every_global_option_appears(plain):
    from pyvirsh import globalopts
    text = " ".join(_section(plain, "OPTIONS"))
    for long_name, (letter, _kind) in globalopts.LONG_OPTIONS.items():
        assert re.search(r"(^|\s)--%s\b" % long_name, text), long_name
        if len(letter) == 1:
            assert re.search(r"(^|\s)-%s\b" % letter, text), letter
    for letter in globalopts.SHORT_FLAGS | globalopts.SHORT_WITH_ARG:
        assert re.search(r"(^|\s)-%s\b" % letter, text), letter


def test_fixed_sections_in_order(plain):
    headings = [ln for ln in plain.splitlines() if ln[:1].isalpha() and ln.isupper()]
    expected = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "THE COMMAND LANGUAGE", "COMMANDS",
                "CONNECTIONS", "THE BACKING CHAIN CACHE", "BLOCK JOBS WITHOUT A DAEMON", "SNAPSHOTS",
                "ENVIRONMENT", "FILES", "EXIT STATUS", "OUTPUT", "EXAMPLES", "SEE ALSO"]
    assert [h for h in headings if h in expected] == expected
    synopsis = " ".join(" ".join(_section(plain, "SYNOPSIS")).split())
    assert synopsis == "pyvirsh [OPTION]... [COMMAND_STRING] pyvirsh [OPTION]... COMMAND [ARG]..."


def test_troff_source_hygiene(page_text):
    for number, line in enumerate(page_text.splitlines(), 1):
        assert len(line) <= 80, "line %d is %d long" % (number, len(line))
        assert line.strip(), "blank line %d" % number
        if not line.startswith((".", "'")):
            # Every dash of an option or command is \- (a hyphen would not copy-paste).
            assert not re.search(r"(?<![\w\\])--?[a-z]", line), "line %d: %s" % (number, line)


# (3) the linters are silent --------------------------------------------------------

def test_mandoc_lint_is_clean():
    proc = _run([_tool("mandoc"), "-T", "lint", "-W", "warning", PAGE])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_groff_is_clean():
    proc = _run([_tool("groff"), "-man", "-Tutf8", "-ww", "-z", PAGE])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


# (4) man renders it --------------------------------------------------------------

def test_man_renders_page():
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    proc = _run([_tool("man"), "-l", PAGE], env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "SYNOPSIS" in lines and "COMMANDS" in lines
    assert any(ln.startswith("       blockcommit <domain> <path>") for ln in lines)
    assert max(len(ln) for ln in lines) <= 80
