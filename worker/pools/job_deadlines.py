"""Jobs of a pool that runs work on its own threads, and the one watchdog thread that fails those past their limit.

A job is settled exactly once: by its slot when the work ends, or by the watchdog when its time limit
passes first (:meth:`Deadlines.settle` says which one won). Nothing here stops the work itself.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Job:
    """One task for a slot: what to call, its limit (seconds, "soft" | "hard") and Celery's callbacks."""

    task_id: str
    function: str
    request: dict[str, Any]
    limit: tuple[float, str] | None
    accept_callback: Callable[..., Any] | None
    #: Celery's tracer for this task (``apply_target`` with its arguments bound): called once the outcome is stored.
    trace: Callable[[], Any]
    deadline: float | None = None
    settled: bool = field(default=False)

    def accept(self) -> None:
        """Tell Celery the task started (its ``task-started`` event and start time)."""
        if self.accept_callback:
            self.accept_callback(os.getpid(), time.monotonic())


class Deadlines:
    """Watches the running jobs that have a limit; calls ``on_expired(job, owner)`` for each one that passes it."""

    def __init__(self, on_expired: Callable[[Job, Any], None]) -> None:
        self._on_expired = on_expired
        self._running: dict[Job, Any] = {}
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._watch, name="deadlines", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join(timeout=5)

    def watch(self, job: Job, owner: Any) -> None:
        """``job`` starts now on ``owner``; its limit counts from here."""
        if job.limit is None:
            return
        with self._changed:
            job.deadline = time.monotonic() + job.limit[0]
            self._running[job] = owner
            self._changed.notify()

    def settle(self, job: Job) -> bool:
        """Mark ``job`` done; True if this call settled it (False: it was already failed for its limit)."""
        with self._changed:
            self._running.pop(job, None)
            if job.settled:
                return False
            job.settled = True
            return True

    def _watch(self) -> None:
        while True:
            with self._changed:
                if self._stopped:
                    return
                now = time.monotonic()
                due = [(job, owner) for job, owner in self._running.items() if (job.deadline or now) <= now]
                for job, _ in due:
                    self._running.pop(job)
                    job.settled = True
                if not due:
                    pending = [job.deadline for job in self._running if job.deadline is not None]
                    self._changed.wait(timeout=min(pending) - now if pending else None)
                    continue
            for job, owner in due:
                self._on_expired(job, owner)
