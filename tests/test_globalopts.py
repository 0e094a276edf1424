"""The global-option table (pyvirsh.globalopts) is the one source of the usage text, the
completion words and the man page's OPTIONS; what it says of virsh's options is virsh's."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pyvirsh.commands.helptext import usage_text
from pyvirsh.globalopts import GLOBAL_OPTIONS, LONG_OPTIONS, completion_words, read_globals

PYVIRSH_ONLY = {"hosts", "json", "no-color"}


def _options_block(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("  options:") + 1:lines.index("  commands (non interactive mode):")]


@pytest.mark.skipif(shutil.which("virsh") is None, reason="needs virsh (Debian libvirt-clients)")
def test_usage_options_are_virshs_plus_pyvirshs_own():
    virsh = subprocess.run(["virsh", "-h"], capture_output=True, text=True, check=True).stdout
    ours = _options_block(usage_text())
    theirs = _options_block(virsh)
    # virsh's lines, byte for byte and in virsh's order, then pyvirsh's own options.
    assert ours[:len(theirs)] == theirs
    extra = ours[len(theirs):]
    assert [line.split()[0].split("=")[0] for line in extra if not line.startswith(" " * 28)] == \
        ["--" + name for name in sorted(PYVIRSH_ONLY)]


def test_every_spelling_is_read_and_offered():
    words = [word for word, _ in completion_words()]
    for option in GLOBAL_OPTIONS:
        if option.short:
            assert "-" + option.short in words
            value = ["x"] if option.arg == "required" else []
            opts, first = read_globals(["-" + option.short] + value + ["list"])
            assert first == 1 + len(value) and opts[0][0] == option.short
        if option.long:
            assert "--" + option.long in words
            value = ["=x"] if option.arg == "required" else [""]
            opts, first = read_globals(["--" + option.long + value[0], "list"])
            assert first == 1 and opts[0][0] == LONG_OPTIONS[option.long][0]


def test_every_option_has_a_man_page_entry():
    """Each option is in the man page, under its own entry or one that names it."""
    labels = " ".join(option.man for option in GLOBAL_OPTIONS if option.man)
    for option in GLOBAL_OPTIONS:
        if option.short:
            assert "-%s" % option.short in labels.replace(",", " ").split()
        if option.long:
            assert any(word.split("=")[0] == "--" + option.long for word in labels.replace(",", " ").split())


def test_hosts_is_left_out_of_what_each_host_runs():
    """--hosts is read like any global option (abbreviated, '=' or the next word); the other
    options before the command go to every host, --hosts itself to none."""
    from pyvirsh.globalopts import without_option

    for argv in (["-q", "--hosts", "F", "-r", "list"], ["-q", "--hosts=F", "-r", "list"],
                 ["-q", "--ho", "F", "-r", "list"], ["-q", "--hos=F", "-r", "list"]):
        opts, first = read_globals(argv)
        assert ("hosts", "F") in opts
        assert without_option(argv, first, "hosts") + argv[first:] == ["-q", "-r", "list"]
    opts, first = read_globals(["--json", "--", "--hosts"])
    assert without_option(["--json", "--", "--hosts"], first, "hosts") == ["--json", "--"]
