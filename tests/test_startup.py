"""One-shot commands keep heavy libraries out of their import path (speed is measured
by tests/bench/bench_startup.py; this checks what is imported, which can regress)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("lxml", "rich", "prompt_toolkit", "asyncio", "dataclasses", "socket", "urllib")


def imported_after(args: list[str]) -> set[str]:
    # Modules the interpreter loaded before pyvirsh (site, an editable install's
    # finder) are not pyvirsh's doing and are left out.
    code = ("import sys, io, contextlib\n"
            "before = set(sys.modules)\n"
            "from pyvirsh.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(%r)\n"
            "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
            "print(type(sys.modules['inspect']).__name__)\n" % (args,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules, inspect_kind = out.strip().splitlines()[-2:]
    return set(modules.split()), inspect_kind


def test_list_and_dominfo_import_nothing_heavy():
    for args in (["-c", "test:///default", "list"], ["-c", "test:///default", "dominfo test"],
                 ["-c", "test:///default", "help"], ["-h"]):
        modules, inspect_kind = imported_after(args)
        assert not modules & set(HEAVY), (args, modules & set(HEAVY))
        assert inspect_kind == "_Deferred", args


def test_dumpxml_needs_only_lxml():
    modules, _ = imported_after(["-c", "test:///default", "dumpxml test --inactive"])
    assert "lxml" in modules
    assert not modules & {"rich", "prompt_toolkit", "asyncio"}


def test_deferred_inspect_still_works_for_click():
    """click's own help formatting uses inspect.cleandoc; the stand-in must hand it over."""
    code = ("import pyvirsh.cli, click, inspect\n"
            "print(inspect.cleandoc('  a\\n  b'))\n"
            "print(click.Command('x', help='  hello\\n  there').get_short_help_str())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["a", "b", "hello there"]
