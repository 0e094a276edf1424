"""Ctrl-C during virsh's waits (`--wait` of a block job, `event --loop`).

virsh installs its own SIGINT handler for these waits (sigaction), so a Ctrl-C ends them
even in a process that started with SIGINT ignored: a job started with `&` by a script or
under nohup inherits the ignore. Python leaves an inherited ignore in place and never raises
KeyboardInterrupt there, so such a pyvirsh could not be stopped. For the wait, SIGINT raises
KeyboardInterrupt as usual; the ignore is back afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
