"""Block jobs on the QEMU driver (placeholder until block jobs land)."""

from __future__ import annotations


def reconcile_jobs(dom, locked: bool) -> None:
    pass


def release_job_files(dom, status) -> None:
    pass


class BlockJobs:
    pass
