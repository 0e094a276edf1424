"""The README's set-up commands: CI runs the same test command, and the main job works."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands() -> list[str]:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)


def test_ci_runs_the_readmes_test_command():
    main_job, test_command = readme_commands()
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert test_command in ci.splitlines()
    assert "examples/quickstart.sh" in main_job


def test_quickstart_runs_on_an_embedded_connection(tmp_path):
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"],
               PYVIRSH_DEFAULT_URI="qemu:///embed?root=%s" % tmp_path)
    proc = subprocess.run(["sh", os.path.join(ROOT, "examples", "quickstart.sh")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Successfully pivoted" in proc.stdout
    assert "has been undefined" in proc.stdout
    assert "Traceback" not in proc.stderr
