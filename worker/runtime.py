"""Facts about the running worker that every task result reports: its pool and where it ran.

The ``interpreters`` pool imports this module inside its subinterpreters (``timed_run``), where
pydantic-core cannot load: at module level it imports the standard library only (the catalogue,
whose package imports the settings, is imported where it is used).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config import catalogue

_pool_name = "in-process"


def _implementation(pool: str) -> str:
    """``module:Class`` of the Celery pool class that ``-P pool`` (an alias or a class path) selects."""
    from celery.concurrency import ALIASES

    return ALIASES.get(pool, pool).replace(":", ".")


def pool_name_of(pool_cls: Any) -> str:
    """The catalogue's name for the pool class (or ``-P`` value) a worker runs.

    A pool class of the lab's own (``interpreters``) names its entry whatever the interpreter. Pools
    that share a stock Celery class (threads_nogil is the threads pool on another interpreter) are told
    apart by ``LAB_POOL_LABEL``, which the lab's launcher sets from the catalogue; without it, the
    entry on the default interpreter wins.
    """
    from config import catalogue

    if isinstance(pool_cls, str):
        text = _implementation(pool_cls)
    else:
        text = f"{getattr(pool_cls, '__module__', '')}.{getattr(pool_cls, '__name__', '')}"
    matches = [e for e in catalogue.POOLS.values() if e.celery_pool and _implementation(e.celery_pool) == text]
    for entry in sorted(matches, key=lambda e: e.interpreter != "default"):
        return entry.name
    return text.rsplit(".", 2)[-2] if "." in text else (text or "unknown")


def gil_problem(entry: catalogue.Pool | None) -> str | None:
    """Why this process cannot run ``entry`` (it requires the GIL off, and the GIL is on), or None."""
    if entry is None or not entry.requires_gil_off:
        return None
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        build = "a free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "a GIL (default)"
        return (
            f"pool {entry.name} needs the GIL off, but it is on in {sys.executable} ({build} build of "
            f"Python {sys.version.split()[0]}, PYTHON_GIL={os.environ.get('PYTHON_GIL', 'unset')}): run it on "
            "the free-threaded Python `make pythons` builds, with PYTHON_GIL=0"
        )
    return None


def set_pool_name(name: str) -> None:
    """Record this worker's pool; set once at worker start, inherited by prefork children."""
    global _pool_name
    _pool_name = name


def current_pool_name() -> str:
    """This worker's pool, as recorded at start ("in-process" outside a worker)."""
    return _pool_name


def timed_run(
    run: Callable[[], dict[str, Any]], *, workload: str, hostname: str, enqueued: float | None
) -> dict[str, Any]:
    """Run a workload and wrap its small result with the timings and identity every result carries."""
    started = time.time()
    cpu_start = time.thread_time()
    output = run()
    thread_cpu = time.thread_time() - cpu_start
    return _timed_result(workload, output, enqueued, started, thread_cpu, hostname)


async def timed_run_async(
    run: Callable[[], Coroutine[Any, Any, dict[str, Any]]], *, workload: str, hostname: str, enqueued: float | None
) -> dict[str, Any]:
    """:func:`timed_run` for a coroutine: the same fields; thread CPU counts only this coroutine's own steps."""
    started = time.time()
    steps = _StepTimed(run())
    output = await steps
    return _timed_result(workload, output, enqueued, started, steps.cpu, hostname)


def _timed_result(
    workload: str, output: Any, enqueued: float | None, started: float, thread_cpu: float, hostname: str
) -> dict[str, Any]:
    return {
        "workload": workload,
        "output": output,
        "enqueued": enqueued,
        "started": started,
        "finished": time.time(),
        "thread_cpu": thread_cpu,
        "hostname": hostname or socket.gethostname(),
        "pid": os.getpid(),
        "thread_id": threading.get_ident(),
        #: The OS's id of the thread (Linux: its TID), for the probe's per-thread CPU figures.
        "native_thread_id": threading.get_native_id(),
        "pool": _pool_name,
    }


class _StepTimed:
    """Awaits a coroutine one step at a time, adding up the thread CPU of its own steps.

    Every coroutine on a loop shares one thread, so the thread's CPU between start and finish would
    count the other tasks' steps too; timing each ``send``/``throw`` counts only this one's.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, dict[str, Any]]) -> None:
        self._coroutine = coroutine
        self.cpu = 0.0

    def __await__(self) -> Generator[Any, Any, dict[str, Any]]:
        value: Any = None
        error: BaseException | None = None
        while True:
            begin = time.thread_time()
            try:
                step = self._coroutine.throw(error) if error is not None else self._coroutine.send(value)
            except StopIteration as done:
                return done.value
            finally:
                self.cpu += time.thread_time() - begin
            try:
                value, error = (yield step), None
            except BaseException as raised:  # a cancellation (the time bound) goes on into the coroutine
                value, error = None, raised


#: Celery's loggers of the per-task INFO lines: "Received task …" (consumer) and "Task … succeeded" (trace).
PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def set_per_task_logs(enabled: bool) -> None:
    """Keep or drop Celery's two INFO lines per task (~10 % of a no-op worker's throughput, measured in
    ``benchmarks/bench_noop.py``); results and task events carry the same facts. Warnings and errors
    (a failed or retried task) are always logged."""
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if enabled else logging.WARNING)
