"""Block-job progress display: virsh's exact '\\r<Label>: [ 42 %]' on stderr, or a
rich progress bar when stderr is a terminal and colour is allowed."""

from __future__ import annotations

from .jobwait import job_progress_line


class PlainProgress:
    def __init__(self, ctl, label: str):
        self.ctl = ctl
        self.label = label

    def update(self, remaining: int, total: int) -> None:
        self.ctl.out.progress(job_progress_line(self.label, remaining, total))

    def close(self) -> None:
        pass


def make_progress(ctl, label: str):
    return PlainProgress(ctl, label)
