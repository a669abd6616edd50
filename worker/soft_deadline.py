"""A backstop for the prefork soft time limit, raised inside the pool process itself.

Celery arms the soft limit with a timer in the worker's parent process; now and then that timer is
never armed (Celery #6873, "Won't Fix"): here a ``cpu`` task ran 14 s past a 1 s soft limit and
succeeded. Inside a prefork (or solo) pool process, whose tasks run on the main thread, an interval
timer raises the same ``SoftTimeLimitExceeded`` shortly after the limit, so an overrun always ends
as a counted failure. Pools whose tasks do not run on the main thread (threads, gevent: ``tasks_on_main_thread`` in the
catalogue) are untouched.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from celery.exceptions import SoftTimeLimitExceeded

from config import catalogue

#: Celery's own timer normally fires first; the backstop waits this much longer.
BACKSTOP_DELAY_S = 0.5


def _expired(signum: int, frame: FrameType | None) -> None:
    raise SoftTimeLimitExceeded()


@contextmanager
def soft_deadline(limit_s: float | None, pool: str) -> Iterator[None]:
    """Raise ``SoftTimeLimitExceeded`` in the block ``limit_s`` (+ backstop delay) seconds from now."""
    on_main = pool in catalogue.POOLS and catalogue.pool(pool).tasks_on_main_thread
    usable = (
        limit_s and on_main and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, float(limit_s or 0) + BACKSTOP_DELAY_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
