"""The consumer ceiling, measured: a no-op batch on the very workers a cell or sweep point ran on.

A no-op task does no work, so its throughput is what the workers' consumers (one per worker process:
fetch, decode, ack, store the result, all through the same broker in the same Celery mode) sustain at
most. Compare measures it once per pool × mode, as it measures a batch (first enqueue → last finish);
sweep once per point, as it measures a point (first start → last finish). A probe is a few hundred
tasks in :data:`PROBE_ROUNDS` batches, and the ceiling is the best batch: on a shared machine other
processes only ever take throughput away, so the best batch is the closest to what the consumers can
do. A no-op cell or point is its own ceiling measurement, so it gets its own figure instead.
"""

from __future__ import annotations

from celery import Celery

from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import redis_clients, run_batch
from producer.batch.submit import submit_batch
from producer.processes import fleet
from worker.task_args import WorkloadArgs

#: No-op tasks per probe, after a warm-up: a few hundred (≈0.3–1 s at 300–1,000 tasks/s) ...
PROBE_TASKS = 300
#: ... in this many batches (compare interleaves them over the pools); the ceiling is the best one.
PROBE_ROUNDS = 3
#: Warm-up tasks at least (or one per slot, so every thread or child has run once).
PROBE_WARMUP = 30
NOOP = WorkloadArgs("noop", 0)


def warm_up(app: Celery, settings: LabSettings, queue: str, slots: int, timeout_s: float) -> None:
    """A no-op batch that touches every slot (at least :data:`PROBE_WARMUP` tasks), not measured."""
    fleet.purge_queue(app, queue)
    run_batch(app, settings, NOOP, min(PROBE_TASKS, max(PROBE_WARMUP, slots)), queue, timeout_s=timeout_s)


def probe_round(app: Celery, settings: LabSettings, queue: str, timeout_s: float) -> float | None:
    """One probe batch on ``queue``: no-op tasks/s as compare measures a batch (None: none completed)."""
    summary = run_batch(app, settings, NOOP, PROBE_TASKS // PROBE_ROUNDS, queue, timeout_s=timeout_s).summary
    return summary.throughput if summary.completed else None


def probe_consuming(app: Celery, settings: LabSettings, queue: str, timeout_s: float) -> float | None:
    """No-op tasks/s of warm workers already consuming ``queue``, the best of :data:`PROBE_ROUNDS` batches,
    each as sweep measures a point: completed ÷ (last finish − first start)."""
    broker, backend = redis_clients(settings)
    rates = []
    for _ in range(PROBE_ROUNDS):
        batch = submit_batch(app, NOOP, PROBE_TASKS // PROBE_ROUNDS, queue)
        records = collect_results(backend, batch.task_ids, timeout_s=timeout_s, broker=broker, queue=queue).records
        if records:
            span = max(r["finished"] for r in records) - min(r["started"] for r in records)
            rates.append(len(records) / max(span, 1e-9))
    return max(rates, default=None)
