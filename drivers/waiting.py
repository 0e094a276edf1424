"""The one loop that waits for a job: ask, and until the answer comes, wait a slice.

Every waiter (virsh's --wait, a snapshot delete's merge, an internal snapshot, an
abort that waits) asks with `check` and waits between asks with `wait`, which may
return early when an event comes (QEMU's JOB_STATUS_CHANGE) and otherwise just lets
the slice pass: events where there are any, polling where not, one deadline.
"""

from __future__ import annotations

import time

# The type checker reads any name TYPE_CHECKING as true; Python skips the block (no typing import).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

POLL_SECONDS = 0.05


def wait_for(check: Callable[[], T | None], timeout: float | None, wait: Callable[[float], object] | None = None,
             poll: float = POLL_SECONDS) -> T | None:
    """check()'s first answer that is not None, or None once `timeout` seconds passed (no
    timeout: None or 0). `wait(seconds)` waits at most that long; time.sleep by default."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        answer = check()
        if answer is not None:
            return answer
        step = poll
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            step = min(step, remaining)
        (wait or time.sleep)(step)
