"""qemu-monitor-event --regex through GLib's GRegex, as libvirt compiles it: PCRE's syntax and
GLib's words for a bad pattern (the recorded libvirt text is replayed in test_events.py)."""

from __future__ import annotations

import pytest

from pyvirsh import glibregex


def test_pcre_syntax_and_caseless_search():
    if glibregex._load_glib() is None:
        pytest.skip("libglib-2.0.so.0 is not installed")
    literal = glibregex.compile_filter(r"\QBLOCK_JOB.\E", False)        # PCRE's quoting; not Python's
    assert literal("BLOCK_JOB.") and not literal("BLOCK_JOBX")
    caseless = glibregex.compile_filter("^block_job_(completed|ready)$", True)
    assert caseless("BLOCK_JOB_READY") and not caseless("BLOCK_JOB_ERROR")
    with pytest.raises(glibregex.RegexError) as err:
        glibregex.compile_filter("a{2,1}", False)
    assert str(err.value) == ("Error while compiling regular expression \u2018a{2,1}\u2019 at char 5: "
                              "numbers out of order in {} quantifier")


def test_without_glib_python_re_stands_in_with_the_same_sentence():
    matches = glibregex._compile_with_re("^SHUT", True)
    assert matches("shutdown") and not matches("RESET")
    with pytest.raises(glibregex.RegexError) as err:
        glibregex._compile_with_re("(", False)
    assert str(err.value).startswith("Error while compiling regular expression \u2018(\u2019 at char ")
