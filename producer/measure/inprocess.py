"""In-process baselines: the same workload functions under ThreadPoolExecutor and ProcessPoolExecutor,
and ``async def`` workloads as ``asyncio.gather`` under a semaphore on one event loop (inproc-asyncio).

This is the seed article's own experiment, with no queue at all, so the cost of Celery + Redis per
task shows next to each pool. Timings are taken exactly as a worker takes them (wall, thread CPU).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psutil

from config import catalogue
from config.settings import get_settings
from producer.measure.figure_models import MemoryFigures
from producer.measure.memory import sampled
from worker import user_call
from worker.async_workloads import close_sessions
from worker.runtime import timed_run_async
from worker.task_args import WorkloadArgs

#: The fields of a timed result that a baseline keeps (no queue: no hostname, pool or workload echo).
_TIMING_FIELDS = ("started", "finished", "thread_cpu", "pid", "thread_id")


def run_one(
    workload: str, size: int, url: str, call: tuple[str, list[Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Run one workload call and return the same timing fields a Celery task result carries.

    ``call``: a user task's ``(function, args, kwargs)``, loaded and checked as a worker does (``worker/user_call.py``).
    """
    settings = get_settings()
    if call is not None:
        function, args, kwargs = call
        target = user_call.resolve(function, settings)
        started = time.time()
        cpu_start = time.thread_time()
        output = target(*args, **kwargs)
        thread_cpu = time.thread_time() - cpu_start
        user_call.check_result(function, output, settings)
    else:
        entry = catalogue.workload(workload)
        started = time.time()
        cpu_start = time.thread_time()
        entry.call(size, url, settings)
        thread_cpu = time.thread_time() - cpu_start
    return {
        "started": started,
        "finished": time.time(),
        "thread_cpu": thread_cpu,
        "pid": os.getpid(),
        "thread_id": threading.get_ident(),
    }


@dataclass
class InProcessRun:
    """One baseline batch: per-call records (``enqueued`` = when the batch was handed to the executor)."""

    name: str
    workers: int
    records: list[dict[str, Any]]
    wall_s: float
    #: The executor's worker processes (ProcessPoolExecutor); None for threads (they live in the producer).
    memory: MemoryFigures | None = None
    #: Calls that raised, by index: the exception's type and message (one line each).
    failures: dict[int, str] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Calls per second over the batch's wall time."""
        return len(self.records) / self.wall_s if self.wall_s > 0 else 0.0


def _executor(name: str, workers: int) -> Executor:
    if catalogue.any_pool(name).in_process == "threads":
        return ThreadPoolExecutor(max_workers=workers)
    # spawn: a fresh interpreter per process, as a user's ProcessPoolExecutor on macOS/Windows (and 3.14) gets.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _spawned_since(before: set[int]) -> list[int]:
    """This process's children started since ``before`` that are multiprocessing spawn workers."""
    found = []
    for child in psutil.Process().children():
        try:
            if child.pid not in before and any("spawn_main" in part for part in child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def run_baseline(name: str, workers: int, args: WorkloadArgs, count: int) -> InProcessRun:
    """Run ``count`` calls of ``args`` on a fresh executor, after a warm-up that starts every worker.

    A process executor's workers are sampled for memory during the batch (PSS/USS, as Celery workers).
    """
    if catalogue.any_pool(name).in_process == "asyncio":
        return asyncio.run(_run_coroutines(name, workers, args, count))
    processes = catalogue.any_pool(name).in_process == "processes"
    before = {child.pid for child in psutil.Process().children()} if processes else set()
    with _executor(name, workers) as executor:
        warmups = [executor.submit(run_one, "noop", 0, "") for _ in range(workers)]
        for future in warmups:
            future.result()
        call = (args.function, list(args.call_args), dict(args.call_kwargs)) if args.function else None
        records: list[dict[str, Any]] = []
        failures: dict[int, str] = {}
        with sampled(_spawned_since(before) if processes else [], workers) as sampler:
            submitted = time.time()
            futures = [executor.submit(run_one, args.workload, args.size, args.url, call) for _ in range(count)]
            for index, future in enumerate(futures):
                try:
                    records.append({**future.result(), "enqueued": submitted})
                except Exception as error:  # counted as a failure, as a worker's task failure is
                    failures[index] = f"{type(error).__name__}: {error}"
    wall = max(r["finished"] for r in records) - submitted if records else 0.0
    return InProcessRun(name, workers, records, wall, sampler.figures(), failures)


async def _run_coroutines(name: str, workers: int, args: WorkloadArgs, count: int) -> InProcessRun:
    """``count`` awaits of an ``async def`` workload on this loop, at most ``workers`` in flight (the asyncio pool's
    ``-c``), timed as the pool times them; the loop's session is closed at the end."""
    entry = catalogue.workload(args.workload)
    settings = get_settings()
    slots = asyncio.Semaphore(workers)
    if args.function:  # a user's async def: loaded and checked as a worker does
        target = user_call.resolve(args.function, settings)
        call = lambda: target(*args.call_args, **args.call_kwargs)  # noqa: E731
    else:
        call = lambda: entry.call(args.size, args.url, settings)  # noqa: E731

    async def one() -> dict[str, Any]:
        async with slots:
            timed = await timed_run_async(call, workload=entry.name, hostname="", enqueued=None)
        if args.function:
            user_call.check_result(args.function, timed["output"], settings)
        return {key: timed[key] for key in _TIMING_FIELDS}

    submitted = time.time()
    try:
        records = [{**record, "enqueued": submitted} for record in await asyncio.gather(*(one() for _ in range(count)))]
    finally:
        await close_sessions()
    wall = max(r["finished"] for r in records) - submitted if records else 0.0
    return InProcessRun(name, workers, records, wall)
