"""Block-job progress display: virsh's exact '\\r<Label>: [ 42 %]' on stderr, or a
rich progress bar when stderr is a terminal and colour is allowed."""

from __future__ import annotations


def job_percent(remaining: int, total: int) -> int:
    """virsh 9.0's virshPrintJobProgress percentage: an integer, 99 until done."""
    progress = 100.0
    if remaining != 0:
        progress = 100.0 - remaining * 100.0 / total if total else 0.0
        if progress >= 100.0:
            progress = 99.0
    return int(progress)


def job_progress_line(label: str, remaining: int, total: int) -> str:
    return "\r%s: [%3d %%]" % (label, job_percent(remaining, total))


class PlainProgress:
    def __init__(self, ctl, label: str):
        self.ctl = ctl
        self.label = label

    def update(self, remaining: int, total: int) -> None:
        self.ctl.out.progress(job_progress_line(self.label, remaining, total))

    def close(self) -> None:
        pass


class RichProgress:
    """A bar on the terminal; it ends on virsh's final '[100 %]' wording so the line reads the same."""

    def __init__(self, ctl, label: str):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.ctl = ctl
        self.label = label
        ctl.out.stdout.flush()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeElapsedColumn(), console=Console(file=ctl.out.stderr), transient=False)
        self.task = self.progress.add_task(label, total=100)
        self.progress.start()

    def update(self, remaining: int, total: int) -> None:
        self.progress.update(self.task, completed=job_percent(remaining, total))

    def close(self) -> None:
        self.progress.stop()


def make_progress(ctl, label: str):
    if ctl.out.colour_stderr:
        return RichProgress(ctl, label)
    return PlainProgress(ctl, label)
