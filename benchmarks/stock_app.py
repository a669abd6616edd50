"""Celery's defaults, for the benchmarks: a plain Celery app, default settings, results on.

Only the broker and backend URLs come from the lab's settings (the private Redis of the benchmark);
the task bodies are the lab's own (same workload code and timings), so only Celery's configuration
differs. Run it in stock mode (``LAB_CELERY_MODE=stock``: ``python -m celery -A benchmarks.stock_app
worker …``); it names none of the lab's classes whatever the mode, so it is plain Celery and kombu.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from config.settings import get_settings
from worker import workloads
from worker.runtime import timed_run

_settings = get_settings()
app = Celery("stock", broker=_settings.broker_url, backend=_settings.result_backend)


@app.task(name="lab.noop", bind=True)
def noop(self: Task, size: int = 0, enqueued: float | None = None) -> dict[str, Any]:
    """Nothing: the queue's own cost."""
    return timed_run(workloads.noop, workload="noop", hostname=self.request.hostname or "", enqueued=enqueued)


@app.task(name="lab.cpu", bind=True)
def cpu(self: Task, size: int, enqueued: float | None = None) -> dict[str, Any]:
    """Pure-Python product loop (GIL held)."""
    return timed_run(
        lambda: workloads.cpu(size), workload="cpu", hostname=self.request.hostname or "", enqueued=enqueued
    )
