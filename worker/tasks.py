"""Thin Celery wrappers: validate arguments, run the pure workload, attach timings."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from config.settings import get_settings
from worker import execution_log, workloads
from worker.app import app
from worker.runtime import current_pool_name, set_per_task_logs, timed_run
from worker.soft_deadline import soft_deadline
from worker.task_args import WorkloadArgs, check_args, check_enqueued

_settings = get_settings()
execution_log.install(_settings)
set_per_task_logs(_settings.task_log)  # before the consumer and the pool start (prefork children inherit it)
_cpu_limits = {"soft_time_limit": _settings.cpu_soft_time_limit_s, "time_limit": _settings.cpu_hard_time_limit_s}


def _run(task: Task, workload: str, size: int, url: str, enqueued: float | None) -> dict[str, Any]:
    args = check_args(WorkloadArgs(workload, size, url), _settings)
    stamp = check_enqueued(enqueued)
    runners = {
        "cpu": lambda: workloads.cpu(args.size),
        "cpu_nogil": lambda: workloads.cpu_nogil(args.size),
        "io_http": lambda: workloads.io_http(args.url, args.size, _settings.http_timeout_s),
        "io_sleep": lambda: workloads.io_sleep(args.size),
        "noop": workloads.noop,
    }
    try:
        with soft_deadline(task.soft_time_limit, current_pool_name()):
            return timed_run(runners[workload], workload=workload, hostname=task.request.hostname or "",
                             enqueued=stamp)
    except SoftTimeLimitExceeded:
        limit = (task.request.timelimit or (None, None))[1] or task.soft_time_limit
        raise SoftTimeLimitExceeded(f"{workload} ran past its soft time limit of {limit} s "
                                    "(LAB_CPU_SOFT_TIME_LIMIT_S)") from None


@app.task(name="lab.cpu", bind=True, **_cpu_limits)
def cpu(self: Task, size: int, enqueued: float | None = None) -> dict[str, Any]:
    """Pure-Python product loop (GIL held)."""
    return _run(self, "cpu", size, "", enqueued)


@app.task(name="lab.cpu_nogil", bind=True, **_cpu_limits)
def cpu_nogil(self: Task, size: int, enqueued: float | None = None) -> dict[str, Any]:
    """hashlib/zlib over a buffer (GIL released)."""
    return _run(self, "cpu_nogil", size, "", enqueued)


@app.task(name="lab.io_http", bind=True)
def io_http(self: Task, size: int, url: str = "", enqueued: float | None = None) -> dict[str, Any]:
    """GET from the latency target; bounded by the HTTP timeout (the threads pool has no time limits)."""
    return _run(self, "io_http", size, url or _settings.effective_target_url, enqueued)


@app.task(name="lab.io_sleep", bind=True)
def io_sleep(self: Task, size: int, enqueued: float | None = None) -> dict[str, Any]:
    """Sleep ``size`` ms."""
    return _run(self, "io_sleep", size, "", enqueued)


@app.task(name="lab.noop", bind=True)
def noop(self: Task, size: int = 0, enqueued: float | None = None) -> dict[str, Any]:
    """Nothing: the queue's own cost."""
    return _run(self, "noop", size, "", enqueued)
