"""The bounded run of issue 17's stress program (tests/stress/stress.py; its docstring says
what runs and what is checked): 16 pyvirsh processes on 4 real QEMU domains for two
minutes, a tenth of the state-changing commands killed; then every invariant, every
guest-written pattern, no stray QEMU, no held lock and no unclear error. The ten-minute
run is `python3 tests/stress/stress.py`.

QEMU itself is killed too (stress.py's --qemu-kill-rate, right after a `blockpull --wait`
returned): that found a top left without its backing file and without the pulled data (QEMU
wrote the new header before its qcow2 metadata cache reached the disk); block jobs now
flush the node they copied into before they are finalized (tests/test_job_durability.py)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "stress"))

import stress


def test_sixteen_processes_two_minutes(tmp_path, capsys):
    status = stress.main(["--seconds", os.environ.get("PYVIRSH_STRESS_SECONDS", "120"), "--procs", "16",
                          "--domains", "4", "--dir", str(tmp_path), "--seed", "17"])
    report = capsys.readouterr().out
    print(report)
    assert "violations: 0" in report, report
    assert status == 0, report
