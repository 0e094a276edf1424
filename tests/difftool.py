"""Run the same command line through real virsh 9.0 and pyvirsh and compare.

Used by tests/test_differential.py, and by hand while developing:

    python tests/difftool.py 'dominfo test; domstate test --reason'
    python tests/difftool.py -- -q list --all

Both programs run in tests/data (so fixture XML files resolve the same way)
with LANG=C and TZ=UTC. Output that is nondeterministic in virsh itself
(the test driver's 'CPU time' is the wall clock; snapshot creation times) is
normalized in both before comparing, keeping line lengths intact.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
NODE_URI = "test://" + os.path.join(DATA, "testnode", "testnode.xml")


def pyvirsh_argv() -> list[str]:
    exe = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or shutil.which("pyvirsh")
    return [exe] if exe else [sys.executable, "-m", "pyvirsh"]


_NORMALIZE = [
    (re.compile(r"^(CPU time:\s+)\d+\.\ds$", re.M), lambda m: m.group(1) + "<cpu-time>"),
    (re.compile(r"<creationTime>\d+</creationTime>"), lambda m: "<creationTime>T</creationTime>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"), lambda m: "YYYY-MM-DD HH:MM:SS +ZZZZ"),
    (re.compile(r"\(Time: \d+\.\d{3} ms\)"), lambda m: "(Time: N ms)"),
]


def normalize(text: str) -> str:
    for pattern, repl in _NORMALIZE:
        text = pattern.sub(repl, text)
    return text


def run(program: list[str], args: list[str], stdin: str | None = None, env_extra=None):
    env = dict(os.environ, LANG="C", LC_ALL="C", TZ="UTC")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    if env_extra:
        env.update(env_extra)
    # Bytes, decoded by hand: text mode would translate '\r' and hide a difference.
    proc = subprocess.run(program + args, cwd=DATA, env=env, input=stdin.encode() if stdin else None,
                          capture_output=True, timeout=60)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    return normalize(out), normalize(err), proc.returncode


def compare(args: list[str], stdin: str | None = None, env_extra=None):
    """Return (virsh_result, pyvirsh_result); each is (stdout, stderr, status)."""
    theirs = run(["virsh"], args, stdin, env_extra)
    ours = run(pyvirsh_argv(), args, stdin, env_extra)
    return theirs, ours


def _show(label, result):
    out, err, rc = result
    print("---- %s (exit %d)" % (label, rc))
    print("stdout: %r" % out)
    print("stderr: %r" % err)


def main(argv):
    if argv and argv[0] == "--":
        args = argv[1:]
    elif len(argv) == 1:
        args = ["-c", "test:///default", argv[0]]
    else:
        args = ["-c", "test:///default"] + argv
    theirs, ours = compare(args)
    if theirs == ours:
        print("identical")
        print(theirs[0], end="")
        print(theirs[1], end="", file=sys.stderr)
        return 0
    _show("virsh", theirs)
    _show("pyvirsh", ours)
    import difflib
    for label, a, b in (("stdout", theirs[0], ours[0]), ("stderr", theirs[1], ours[1])):
        if a != b:
            print("==== %s diff (virsh -> pyvirsh)" % label)
            sys.stdout.writelines(difflib.unified_diff(a.splitlines(True), b.splitlines(True)))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
