"""Run the same command line through real virsh 9.0 and pyvirsh and compare.

Used by tests/test_differential.py, and by hand while developing:

    python tests/difftool.py 'dominfo test; domstate test --reason'
    python tests/difftool.py -- -q list --all

Both programs run in tests/data (so fixture XML files resolve the same way)
with LANG=C and TZ=UTC. Output that is nondeterministic in virsh itself
(the test driver's 'CPU time' is the wall clock; snapshot creation times) is
normalized in both before comparing, keeping line lengths intact.

virsh always runs as a real process; its results are kept for the session,
since the same command line gives the same bytes. pyvirsh runs either as its
installed console script (a new process) or in this process: the function the
console script calls, with argv, streams, working directory and environment
set as a one-shot run would see them (run_in_process). In process, a case
costs about a millisecond instead of a new interpreter's 100.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
NODE_URI = "test://" + os.path.join(DATA, "testnode", "testnode.xml")


def pyvirsh_argv() -> list[str]:
    exe = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or shutil.which("pyvirsh")
    return [exe] if exe else [sys.executable, "-m", "pyvirsh"]


def virsh_missing_reason() -> str | None:
    """Why the differential tests cannot run here, or None (CI installs libvirt-clients)."""
    if shutil.which("virsh") is None:
        return "virsh 9.0 (Debian libvirt-clients) is not installed"
    return None


_NORMALIZE = [
    (re.compile(r"^(CPU time:\s+)\d+\.\ds$", re.MULTILINE), lambda m: m.group(1) + "<cpu-time>"),
    (re.compile(r"<creationTime>\d+</creationTime>"), lambda m: "<creationTime>T</creationTime>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"), lambda m: "YYYY-MM-DD HH:MM:SS +ZZZZ"),
    (re.compile(r"\(Time: \d+\.\d{3} ms\)"), lambda m: "(Time: N ms)"),
]


def normalize(text: str) -> str:
    for pattern, repl in _NORMALIZE:
        text = pattern.sub(repl, text)
    return text


def _environment(env_extra) -> dict[str, str]:
    env = dict(os.environ, LANG="C", LC_ALL="C", TZ="UTC")
    env.pop("PYVIRSH_DEFAULT_URI", None)
    if env_extra:
        env.update(env_extra)
    return env


def _result(out: bytes, err: bytes, status: int):
    # Bytes, decoded by hand: text mode would translate '\r' and hide a difference.
    return normalize(out.decode("utf-8", "replace")), normalize(err.decode("utf-8", "replace")), status


def run(program: list[str], args: list[str], stdin: str | None = None, env_extra=None):
    """Run a program in tests/data; (stdout, stderr, status), normalized."""
    proc = subprocess.run(program + args, cwd=DATA, env=_environment(env_extra), capture_output=True,
                          input=stdin.encode() if stdin else None, timeout=60, check=False)
    return _result(proc.stdout, proc.stderr, proc.returncode)


@functools.cache
def _virsh_cached(args: tuple[str, ...], stdin: str | None, env_extra: tuple[tuple[str, str], ...]):
    return run(["virsh"], list(args), stdin, dict(env_extra))


def run_virsh(args: list[str], stdin: str | None = None, env_extra=None):
    """virsh's result, run once per session for each distinct command line, stdin and environment."""
    return _virsh_cached(tuple(args), stdin, tuple(sorted((env_extra or {}).items())))


def pyvirsh_main():
    """The function the installed `pyvirsh` command calls (bin/pyvirsh: sys.exit(main()))."""
    from pyvirsh.cli import main
    return main


def _memory_stream() -> io.TextIOWrapper:
    # What a one-shot run has on a pipe under LANG=C: UTF-8 (Python's UTF-8 mode), no terminal.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", newline="\n")


@contextlib.contextmanager
def _one_shot_process(env_extra, cwd: str):
    """This process made to look like a fresh one-shot run in cwd; all restored afterwards."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    try:
        os.environ.clear()
        os.environ.update(_environment(env_extra))
        time.tzset()
        os.chdir(cwd)
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        time.tzset()


def call_main(args: list[str], stdin: str | None = None, env_extra=None, cwd: str = DATA):
    """pyvirsh's entry point called here with argv and captured streams: (stdout, stderr) bytes, status.

    The environment is the one `run` gives a process (LANG=C, TZ=UTC, no PYVIRSH_DEFAULT_URI).
    """
    main = pyvirsh_main()
    out, err = _memory_stream(), _memory_stream()
    with _one_shot_process(env_extra, cwd):
        sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8")
        sys.stdout, sys.stderr = out, err
        try:
            status = main(list(args))
        except SystemExit as stop:      # what the console script's sys.exit(main()) would end with
            code = stop.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
        out.flush()
        err.flush()
    return out.buffer.getvalue(), err.buffer.getvalue(), status or 0


def run_in_process(args: list[str], stdin: str | None = None, env_extra=None):
    """call_main in tests/data; (stdout, stderr, status) decoded and normalized as `run` gives them."""
    return _result(*call_main(args, stdin, env_extra))


def compare(args: list[str], stdin: str | None = None, env_extra=None, in_process: bool = False):
    """Return (virsh_result, pyvirsh_result); each is (stdout, stderr, status).

    With in_process pyvirsh runs in this process (run_in_process), else as its console script.
    """
    theirs = run_virsh(args, stdin, env_extra)
    if in_process:
        ours = run_in_process(args, stdin, env_extra)
    else:
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
