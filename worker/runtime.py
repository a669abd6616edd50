"""Facts about the running worker that every task result reports: its pool and where it ran."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

_POOL_MODULE_NAMES = {"prefork": "prefork", "thread": "threads", "solo": "solo", "gevent": "gevent",
                      "eventlet": "eventlet", "processes": "prefork"}
_pool_name = "in-process"


def pool_name_of(pool_cls: Any) -> str:
    """Short pool name ("prefork", "threads", ...) from the class or name Celery was given with ``-P``."""
    text = pool_cls if isinstance(pool_cls, str) else getattr(pool_cls, "__module__", "")
    last = str(text).rsplit(".", 1)[-1].rsplit(":", 1)[0]
    return _POOL_MODULE_NAMES.get(last, last or "unknown")


def set_pool_name(name: str) -> None:
    """Record this worker's pool; set once at worker start, inherited by prefork children."""
    global _pool_name
    _pool_name = name


def current_pool_name() -> str:
    """This worker's pool, as recorded at start ("in-process" outside a worker)."""
    return _pool_name


def timed_run(run: Callable[[], dict[str, Any]], *, workload: str, hostname: str,
              enqueued: float | None) -> dict[str, Any]:
    """Run a workload and wrap its small result with the timings and identity every result carries."""
    started = time.time()
    cpu_start = time.thread_time()
    output = run()
    thread_cpu = time.thread_time() - cpu_start
    finished = time.time()
    return {
        "workload": workload,
        "output": output,
        "enqueued": enqueued,
        "started": started,
        "finished": finished,
        "thread_cpu": thread_cpu,
        "hostname": hostname or socket.gethostname(),
        "pid": os.getpid(),
        "thread_id": threading.get_ident(),
        "pool": _pool_name,
    }


#: Celery's loggers of the per-task INFO lines: "Received task …" (consumer) and "Task … succeeded" (trace).
PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def set_per_task_logs(enabled: bool) -> None:
    """Keep or drop Celery's two INFO lines per task (~10 % of a no-op worker's throughput, measured in
    ``benchmarks/bench_noop.py``); results and task events carry the same facts. Warnings and errors
    (a failed or retried task) are always logged."""
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if enabled else logging.WARNING)
