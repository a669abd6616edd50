"""The consumer ceiling, measured: no-op batches on the very workers a cell or sweep point ran on.

A no-op task does no work, so its throughput is what the workers' consumers (one per worker process:
fetch, decode, ack, store the result, all through the same broker in the same Celery mode) sustain at
most. Compare runs one probe batch right after every measured batch of a workload that does work, on
the same workers, measured as it measures a batch (first enqueue → last finish): the probe sees the
same conditions as the cells, all through the run. Sweep runs :data:`PROBE_ROUNDS` batches after each
point, measured as it measures a point (first start → last finish). The ceiling is the best batch: on
a shared machine other processes only ever take throughput away. A no-op cell or point is its own
ceiling measurement, so it gets its own figure instead.
"""

from __future__ import annotations

from celery import Celery

from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import broker_and_backend, run_batch
from producer.batch.submit import submit_batch
from producer.processes import fleet
from worker.task_args import WorkloadArgs

#: No-op tasks per probe batch (≈0.1–0.3 s at 300–1,000 tasks/s); the workers are warm (they just ran a batch).
PROBE_BATCH = 100
#: Probe batches after each sweep point (compare runs one per measured batch: ``--repeat`` per workload).
PROBE_ROUNDS = 3
NOOP = WorkloadArgs("noop", 0)


def probe_round(app: Celery, settings: LabSettings, queue: str, timeout_s: float) -> float | None:
    """One probe batch on ``queue``: no-op tasks/s as compare measures a batch (None: none completed)."""
    fleet.purge_queue(app, queue)
    summary = run_batch(app, settings, NOOP, PROBE_BATCH, queue, timeout_s=timeout_s).summary
    return summary.throughput if summary.completed else None


def probe_consuming(app: Celery, settings: LabSettings, queue: str, timeout_s: float) -> float | None:
    """No-op tasks/s of warm workers already consuming ``queue``, the best of :data:`PROBE_ROUNDS` batches,
    each as sweep measures a point: completed ÷ (last finish − first start)."""
    broker, backend = broker_and_backend(settings)
    rates = []
    for _ in range(PROBE_ROUNDS):
        batch = submit_batch(app, NOOP, PROBE_BATCH, queue)
        records = collect_results(backend, batch.task_ids, timeout_s=timeout_s, broker=broker, queue=queue).records
        if records:
            span = max(r["finished"] for r in records) - min(r["started"] for r in records)
            rates.append(len(records) / max(span, 1e-9))
    return max(rates, default=None)
