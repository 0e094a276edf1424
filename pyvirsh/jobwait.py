"""Following a block job to its end in-process (virsh's virshBlockJobWait).

The job is polled through the driver; with --verbose the progress line
'\\r<Label>: [ 42 %]' goes to stderr whenever it changes, and '[100 %]' once
the job completes or reaches its synchronized (READY) phase. Ctrl-C or
--timeout abort the job, as in virsh.
"""

from __future__ import annotations


POLL_SECONDS = 0.1
# Between queries while the driver listens for the job's own events (which end a wait the
# moment the job changes) and no progress line is drawn: each query costs the job CPU time.
EVENT_SLICE_SECONDS = 2.0


class JobWaiter:
    def __init__(self, ctl, dom, disk: str, label: str, verbose: bool, timeout_ms: int | None,
                 async_abort: bool):
        self.ctl = ctl
        self.dom = dom
        self.disk = disk
        self.label = label
        self.verbose = verbose
        self.timeout = (timeout_ms or 0) / 1000.0
        self.async_abort = async_abort
        self.progress = None

    def _show(self, remaining: int, total: int) -> None:
        if not self.verbose:
            return
        if self.progress is None:
            from .progress import make_progress
            self.progress = make_progress(self.ctl, self.label)
        self.progress.update(remaining, total)

    def wait(self) -> str:
        """Return 'completed', 'ready', 'failed' or 'canceled'."""
        try:
            outcome = self._follow()
            if outcome in ("completed", "ready"):
                self._show(0, 1)
            return outcome
        finally:
            # Also on errors and Ctrl-C: a rich bar left running hides the cursor.
            if self.progress is not None:
                self.progress.close()

    def _follow(self) -> str:
        from .drivers.api import DriverError
        from .errors import CommandError

        from .drivers.waiting import wait_for

        last = None

        def ended() -> str | None:
            nonlocal last
            try:
                info = self.dom.get_block_job_info(self.disk, 0)
            except DriverError as err:
                raise CommandError("failed to query job for disk %s" % self.disk, str(err)) from None
            if info is None:
                return self.dom.block_job_outcome(self.disk)
            if info.ready:
                return "ready"
            if (info.cur, info.end) != last:
                self._show(info.end - info.cur, info.end)
                last = (info.cur, info.end)
            return None

        listening = False

        def wait(seconds: float) -> None:
            # The driver waits for the job's next event, or for the slice to pass; short
            # slices until it says it listens for events, and while a progress line is drawn.
            nonlocal listening
            if self.verbose or not listening:
                seconds = min(seconds, POLL_SECONDS)
            listening = bool(self.dom.wait_block_job_event(self.disk, seconds))

        from .interrupts import interruptible
        try:
            with interruptible():
                outcome = wait_for(ended, self.timeout, wait, poll=EVENT_SLICE_SECONDS)
            if outcome is None:         # --timeout
                self._abort()
                return "canceled"
            return outcome
        except KeyboardInterrupt:
            self._abort()
            return "canceled"

    def _abort(self) -> None:
        from .drivers.api import BlockJobAbortFlags, DriverError
        from .errors import CommandError

        try:
            self.dom.block_job_abort(self.disk, BlockJobAbortFlags.ASYNC if self.async_abort else 0)
        except DriverError as err:
            raise CommandError("failed to abort job for disk '%s'" % self.disk, str(err)) from None
