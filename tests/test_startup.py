"""One-shot commands keep heavy libraries out of their import path (speed is measured
by tests/bench/bench_startup.py; this checks what is imported, which can regress)."""

from __future__ import annotations

import subprocess
import sys

# click and inspect too: a one-shot command is bound and run without click (pyvirsh.runner);
# click is for the completion protocol only (pyvirsh.clicktree).
HEAVY = ("lxml", "rich", "prompt_toolkit", "asyncio", "dataclasses", "socket", "urllib", "click", "inspect",
         "typing")


def imported_after(args: list[str]) -> set[str]:
    # Modules the interpreter loaded before pyvirsh (site, an editable install's
    # finder) are not pyvirsh's doing and are left out.
    code = ("import sys, io, contextlib\n"
            "before = set(sys.modules)\n"
            "from pyvirsh.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(%r)\n"
            "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n" % (args,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.strip().splitlines()[-1].split())


def test_list_and_dominfo_import_nothing_heavy():
    for args in (["-c", "test:///default", "list"], ["-c", "test:///default", "dominfo test"],
                 ["-c", "test:///default", "help domstate"], ["-c", "test:///default", "help"], ["-h"]):
        modules = imported_after(args)
        assert not modules & set(HEAVY), (args, modules & set(HEAVY))


def test_dumpxml_needs_only_lxml():
    modules = imported_after(["-c", "test:///default", "dumpxml test --inactive"])
    assert "lxml" in modules
    assert not modules & {"rich", "prompt_toolkit", "asyncio", "click"}


def test_completion_answers_defer_inspect():
    """The completion protocol imports click (pyvirsh.clicktree), and click's `inspect` stays deferred."""
    code = ("import sys, os\n"
            "os.environ['_PYVIRSH_COMPLETE'] = 'fish_complete'\n"
            "os.environ['COMP_WORDS'] = 'pyvirsh -c test:///default doms'\n"
            "os.environ['COMP_CWORD'] = 'doms'\n"
            "from pyvirsh.cli import main\n"
            "main([])\n"
            "print('\\n', 'click' in sys.modules, type(sys.modules['inspect']).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["domstate\tdomain state", " True _Deferred"]


def test_deferred_inspect_still_works_for_click():
    """click's own help formatting uses inspect.cleandoc; the stand-in must hand it over."""
    code = ("import pyvirsh.clicktree, click, inspect\n"
            "print(inspect.cleandoc('  a\\n  b'))\n"
            "print(click.Command('x', help='  hello\\n  there').get_short_help_str())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["a", "b", "hello there"]
