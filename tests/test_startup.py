"""One-shot commands keep heavy libraries out of their import path (speed is measured
by tests/bench/bench_startup.py; this checks what is imported, which can regress)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# click and inspect too: a one-shot command is bound and run without click (pyvirsh.runner);
# click is for the completion protocol only (pyvirsh.clicktree). re, contextlib, enum and
# typing cost milliseconds each and pyvirsh's own one-shot path needs none of them.
HEAVY = ("lxml", "rich", "prompt_toolkit", "asyncio", "dataclasses", "socket", "urllib", "click", "inspect",
         "typing", "re", "contextlib", "enum")


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory):
    """pyvirsh importable without site (so without an editable install's import hook, which
    loads re, pathlib and more before pyvirsh runs): the source tree laid out as installed,
    and the folder lxml is installed in."""
    import lxml

    farm = tmp_path_factory.mktemp("importable")
    package = farm / "pyvirsh"
    package.mkdir()
    for entry in os.listdir(os.path.join(ROOT, "pyvirsh")):
        if entry != "__pycache__":
            (package / entry).symlink_to(os.path.join(ROOT, "pyvirsh", entry))
    (package / "drivers").symlink_to(os.path.join(ROOT, "drivers"))
    return os.pathsep.join([str(farm), os.path.dirname(os.path.dirname(lxml.__file__))])


def imported_after(path: str, args: list[str]) -> set[str]:
    """The top-level modules pyvirsh's main(args) imports, in an interpreter without site."""
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "from pyvirsh.cli import main\n"
            "status = main(%r)\n"
            "sys.stderr.write(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
            "sys.exit(status)\n" % (args,))
    env = dict(os.environ, PYTHONPATH=path)
    # Run from the farm: the current folder comes first on sys.path, and the source tree's
    # pyvirsh/ (without drivers/ inside) must not be the one imported.
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                          cwd=path.split(os.pathsep)[0])
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.strip().splitlines()[-1].split())


def test_list_and_dominfo_import_nothing_heavy(bare_path):
    for args in (["-c", "test:///default", "list"], ["-c", "test:///default", "dominfo test"],
                 ["-c", "test:///default", "help domstate"], ["-c", "test:///default", "help"], ["-h"]):
        modules = imported_after(bare_path, args)
        assert not modules & set(HEAVY), (args, modules & set(HEAVY))


def test_dumpxml_needs_only_lxml(bare_path):
    modules = imported_after(bare_path, ["-c", "test:///default", "dumpxml test --inactive"])
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
    assert out.splitlines() == ["domstate\tdomain state", "domstats\tget statistics about one or multiple domains",
                                " True _Deferred"]


def test_deferred_inspect_still_works_for_click():
    """click's own help formatting uses inspect.cleandoc; the stand-in must hand it over."""
    code = ("import pyvirsh.clicktree, click, inspect\n"
            "print(inspect.cleandoc('  a\\n  b'))\n"
            "print(click.Command('x', help='  hello\\n  there').get_short_help_str())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["a", "b", "hello there"]
