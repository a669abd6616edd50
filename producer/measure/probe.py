"""What a task does with its time, measured: holds the GIL, releases it while computing, or waits.

A short probe on workers of its own (private queues, so running workers are never disturbed):

1. A solo worker runs ``tasks`` tasks after one warm-up: thread CPU ÷ wall per task (the results'
   ``thread_cpu`` and run time). Low: the task waits (sleep, network, a lock).
2. If it computes, a threads worker with one thread per core runs the same work (after one warm-up
   task per thread), in batches alternating with solo ones: throughput ÷ solo. About 1: only one
   thread ran at a time, the GIL is held; about the number of cores: the computation runs outside the
   GIL (hashing, compression, numpy…).

On a machine others keep busy both ratios sink (a task waits for a core as well as for its work), so
where Linux tells each thread's run-queue wait (``producer/measure/runnable.py``) the label reads the
same two figures with that wait taken out: solo CPU ÷ the time it could run, and how many of the
task threads computed at once (or, outright, whether they used more than one core, which threads
taking turns on the GIL cannot). The figures give all of them. A user task's catalogue entry then takes the
measured class, so bounds and ideals in the analysis follow the measurement, not a name.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from celery import Celery

from config import catalogue
from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import broker_and_backend
from producer.batch.submit import submit_batch
from producer.broker import open_broker
from producer.errors import LabError
from producer.measure import runnable
from producer.measure.figure_models import Classification, TaskClass
from producer.processes import fleet
from worker.task_args import WorkloadArgs

#: Measured tasks per probe batch (after the warm-up); a threads batch is at least two waves of one per core.
PROBE_TASKS = 4
#: Solo/threads batch pairs (load from other processes comes in bursts: the speedup is their median).
ROUNDS = 3
#: Solo thread CPU ÷ wall at or above this: the task computes; below, it mostly waits.
COMPUTES_AT = 0.3
#: Threads computing at once (waits for a core taken out) — or, where ``/proc`` says nothing, threads ÷ solo
#: throughput — at or above 1 + this × (cores − 1): the GIL is released. Measured on 2 busy cores, threads
#: computing at once: GIL-bound 0.86–1.16, GIL-free 1.51–1.99 (throughput: ≈1× holding, ≈cores× releasing
#: on an idle machine, anything on a busy one).
RELEASES_SHARE = 0.35
#: Task threads that used this many cores (CPU ÷ wall) cannot have taken turns on one GIL.
MORE_THAN_ONE_CORE = 1.1

#: Tasks shorter than this (ms) are mostly the queue's and the tracer's own work: their label says little.
SHORT_TASK_MS = 1.0

HOLDS: TaskClass = "holds the GIL"
RELEASES: TaskClass = "releases the GIL while computing"
WAITS: TaskClass = "waits"


@dataclass(frozen=True)
class ProbeBatch:
    """One measured batch: its tasks' timed results, and what the worker's threads used meanwhile."""

    records: list[dict[str, Any]]
    used: dict[int, runnable.ThreadTimes] | None

    @property
    def span_s(self) -> float:
        """First start to last finish."""
        return max(max(r["finished"] for r in self.records) - min(r["started"] for r in self.records), 1e-9)

    @property
    def throughput(self) -> float:
        """Tasks per second over the batch."""
        return len(self.records) / self.span_s


def _cpu_per_wall(batches: list[ProbeBatch]) -> float:
    """Median over the tasks of thread CPU ÷ run time (capped at 1)."""
    records = [r for batch in batches for r in batch.records]
    return statistics.median(min(r["thread_cpu"] / max(r["finished"] - r["started"], 1e-9), 1.0) for r in records)


def _threads(batches: list[ProbeBatch]) -> tuple[float, float] | None:
    """(threads computing at once with waits for a core taken out, cores used) over the batches, counting the
    threads that ran tasks; None where the system does not say."""
    if not batches or any(b.used is None for b in batches):
        return None
    ran = {r.get("native_thread_id") for b in batches for r in b.records}
    only = None if None in ran else {int(tid) for tid in ran if tid is not None}
    spans = [(b.used, b.span_s) for b in batches if b.used is not None]
    return runnable.computing_at_once(spans, only), runnable.cores_used(spans, only)


def _solo_share(batches: list[ProbeBatch]) -> float | None:
    """The solo task thread's CPU ÷ the time it could run (its waits for a core taken out)."""
    found = _threads(batches)
    return found[0] if found else None


@contextlib.contextmanager
def _probe_worker(app: Celery, settings: LabSettings, pool: str, slots: int) -> Iterator[tuple[str, int]]:
    """A worker of ``pool`` on a private queue (the producer's ``LAB_TASK_MODULES``), stopped on exit: (queue, PID)."""
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "LAB_TASK_MODULES": settings.task_modules}
    try:
        with fleet.running_workers(app, settings, pool, slots, queue, tag="probe", env=env) as workers:
            yield queue, workers.pids[0]
    finally:
        broker = open_broker(settings)  # a per-run queue: RabbitMQ would keep it for ever
        broker.drop_queue(queue)
        broker.close()


def _batch(
    app: Celery, settings: LabSettings, args: WorkloadArgs, worker: tuple[str, int], count: int, timeout_s: float
) -> ProbeBatch:
    """``count`` tasks on the worker's queue, every one finished; a failure is one line with its reason."""
    queue, pid = worker
    broker, backend = broker_and_backend(settings)
    before = runnable.snapshot(pid)
    batch = submit_batch(app, args, count, queue)
    found = collect_results(backend, batch.task_ids, timeout_s=timeout_s, broker=broker, queue=queue)
    used = runnable.delta(before, runnable.snapshot(pid))
    if found.failures or found.unfinished:
        reasons = sorted(set(found.failures.values())) or ["no result"]
        raise LabError(
            f"probe of {args.workload}: {len(found.failures)} failed and {len(found.unfinished)} unfinished "
            f"of {count}: {reasons[0]}"
        )
    return ProbeBatch(found.records, used)


def label_for(
    computing: float, parallel: float | None, cores: int, cores_used: float | None = None, *, corrected: bool = False
) -> TaskClass:
    """The class the figures mean: solo share of time computing; then the threads' parallelism (≈1 … ≈cores).

    ``corrected``: ``parallel`` is threads computing at once with waits for a core taken out (Linux), and task
    threads that used more than one core outright (``cores_used``) cannot have taken turns on one GIL. A
    thread waiting for the GIL also queues for a core on a busy machine, which lifts ``parallel`` a little for
    GIL-bound work (seen: up to 1.16 of 2). Otherwise ``parallel`` is throughput ÷ solo.
    """
    if computing < COMPUTES_AT:
        return WAITS
    if cores < 2 or parallel is None:
        return HOLDS
    if parallel >= 1 + RELEASES_SHARE * (cores - 1):
        return RELEASES
    return RELEASES if corrected and (cores_used or 0.0) >= MORE_THAN_ONE_CORE else HOLDS


def classify(
    app: Celery, settings: LabSettings, args: WorkloadArgs, *, tasks: int = PROBE_TASKS, timeout_s: float = 600.0
) -> Classification:
    """Probe ``args`` on a solo worker (and, if it computes, a threads worker with a thread per core); the label.

    An ``async def`` task runs step 1 on the pool that runs coroutines, one at a time; there is no step 2
    (one event loop runs one coroutine step at a time, so computing coroutines hold their loop).
    """
    cores = os.cpu_count() or 1
    tasks = max(1, tasks)
    entry = catalogue.workload(args.workload)
    first = _first_pool(entry)
    solo: list[ProbeBatch] = []
    threads: list[ProbeBatch] = []
    with contextlib.ExitStack() as stack:
        if entry.takes_url:
            stack.enter_context(fleet.latency_target(settings))
        solo_worker = stack.enter_context(_probe_worker(app, settings, first, 1))
        _batch(app, settings, args, solo_worker, 1, timeout_s)  # warm-up: imports, first calls
        solo.append(_batch(app, settings, args, solo_worker, tasks, timeout_s))
        solo_share = _solo_share(solo)
        computes = (_cpu_per_wall(solo) if solo_share is None else solo_share) >= COMPUTES_AT
        if computes and cores > 1 and not entry.coroutine:
            threads_worker = stack.enter_context(_probe_worker(app, settings, "threads", cores))
            _batch(app, settings, args, threads_worker, cores, timeout_s)  # warm-up, one task per thread
            waves = max(2, math.ceil(tasks / cores))
            for round_ in range(ROUNDS):
                if round_:
                    solo.append(_batch(app, settings, args, solo_worker, tasks, timeout_s))
                threads.append(_batch(app, settings, args, threads_worker, waves * cores, timeout_s))
    cpu_per_wall, solo_share = _cpu_per_wall(solo), _solo_share(solo)
    pairs = [t.throughput / s.throughput for s, t in zip(solo, threads, strict=False)]
    speedup = statistics.median(pairs) if pairs else None
    parallel, used = _threads(threads) or (None, None)
    label = label_for(
        cpu_per_wall if solo_share is None else solo_share,
        speedup if parallel is None else parallel,
        cores,
        used,
        corrected=parallel is not None,
    )
    _adopt(args, label)
    return Classification(
        label=label,
        cpu_per_wall=round(cpu_per_wall, 4),
        task_s=statistics.median(r["finished"] - r["started"] for b in solo for r in b.records),
        threads_speedup=round(speedup, 3) if speedup is not None else None,
        tasks=sum(len(b.records) for b in solo),
        figures=_figures(first, solo, threads, cpu_per_wall, solo_share, speedup, (parallel, used), cores),
        solo_cpu_share=round(solo_share, 4) if solo_share is not None else None,
        threads_parallel=round(parallel, 3) if parallel is not None else None,
        threads_cores_used=round(used, 3) if used is not None else None,
    )


def _first_pool(entry: catalogue.Workload) -> str:
    """Solo, or for an ``async def`` task the (first) pool that runs coroutines."""
    if not entry.coroutine:
        return catalogue.REFERENCE_POOL
    for pool in catalogue.POOLS.values():
        if pool.runs_coroutines:
            return pool.name
    raise LabError(f"{entry.name} is async def and no pool in the catalogue runs coroutines")


def _figures(
    first: str,
    solo: list[ProbeBatch],
    threads: list[ProbeBatch],
    cpu_per_wall: float,
    solo_share: float | None,
    speedup: float | None,
    measured: tuple[float | None, float | None],
    cores: int,
) -> str:
    parallel, used = measured
    records = [r for b in solo for r in b.records]
    cpu_ms = statistics.median(r["thread_cpu"] for r in records) * 1000
    wall_ms = statistics.median(r["finished"] - r["started"] for r in records) * 1000
    text = (
        f"{first}: thread CPU ÷ wall {cpu_per_wall:.2f} "
        f"({cpu_ms:,.1f} ms CPU in {wall_ms:,.1f} ms per task, {len(records)} tasks)"
    )
    if solo_share is not None:
        text += f", {solo_share:.2f} of the time it could run (waits for a core taken out)"
    if wall_ms < SHORT_TASK_MS:
        text += f"; under {SHORT_TASK_MS:g} ms per task the queue's own cost dominates: the label says little"
    if threads and speedup is not None:
        text += f"; threads -c {cores}: " + (
            f"{parallel:.2f} of {cores} threads computing at once (waits for a core taken out), {used:.2f} cores used, "
            if parallel is not None and used is not None
            else ""
        )
        text += (
            f"throughput ÷ solo {speedup:.2f}× (median of {len(threads)} alternating batch pairs) — "
            f"≈1: one thread at a time, ≈{cores}: every core"
        )
    elif first != catalogue.REFERENCE_POOL:
        text += "; async def: one event loop runs one coroutine step at a time"
    elif cores == 1 and solo_share is not None and solo_share >= COMPUTES_AT:
        text += "; one core: whether it releases the GIL cannot show here"
    return text


def _adopt(args: WorkloadArgs, label: TaskClass) -> None:
    """A user task's catalogue entry takes the measured class (the analysis's bounds read kind and GIL)."""
    if not args.function:
        return
    entry = catalogue.workload(args.workload)
    kind: catalogue.Kind = "wait" if label == WAITS else "cpu"
    catalogue.add_workload(replace(entry, kind=kind, releases_gil=label != HOLDS))


def classify_and_say(
    app: Celery, settings: LabSettings, args: WorkloadArgs, say: Callable[[str], Any], timeout_s: float
) -> Classification:
    """:func:`classify` with the default number of tasks, and its :func:`summary_line` said."""
    found = classify(app, settings, args, timeout_s=timeout_s)
    say(summary_line(args.workload, found))
    return found


def summary_line(workload: str, found: Classification) -> str:
    """One line per workload for the terminal: the label and the figures behind it."""
    return f"{workload}: {found.label} — {found.figures}"
