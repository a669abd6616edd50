"""One batch end to end: check the broker, submit, collect with a progress bar, summarise.

One :class:`~producer.batch.outage.OutageGuard` spans the batch, so a broker outage in any phase
(publishing, collecting, recovery) is ridden out up to ``LAB_OUTAGE_RETRY_S`` and counted in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import LabSettings
from producer.batch.collect import Collected
from producer.batch.outage import OutageGuard
from producer.batch.pending import queue_consumers
from producer.batch.recovery import collect_with_recovery
from producer.batch.stats import BatchSummary, summarize
from producer.batch.submit import Batch, submit_batch
from producer.broker import Broker, open_broker, require_broker
from producer.processes.redis_server import require_redis
from worker.task_args import WorkloadArgs


@dataclass
class BatchOutcome:
    """A batch as sent, as collected, and as summarised."""

    batch: Batch
    collected: Collected
    summary: BatchSummary


def redis_clients(settings: LabSettings) -> tuple[redis.Redis, redis.Redis]:
    """(broker, result backend) redis-py clients with the configured connect timeout (a Redis broker only)."""
    timeout = settings.broker_connect_timeout_s
    broker = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=timeout)
    return broker, result_backend(settings)


def result_backend(settings: LabSettings) -> redis.Redis:
    """The result backend's client (Redis, whichever the broker is)."""
    return redis.Redis.from_url(settings.result_backend, socket_connect_timeout=settings.broker_connect_timeout_s)


def broker_and_backend(settings: LabSettings) -> tuple[Broker, redis.Redis]:
    """(the broker, as the producer asks it: producer/broker/; the result backend's client)."""
    return open_broker(settings), result_backend(settings)


def run_batch(
    app: Celery,
    settings: LabSettings,
    args: WorkloadArgs,
    count: int,
    queue: str,
    *,
    timeout_s: float,
    console: Console | None = None,
    outage: OutageGuard | None = None,
) -> BatchOutcome:
    """Submit ``count`` tasks to ``queue``, wait for every one, and summarise (pending and lost ones included).

    The broker and the result backend must answer at the start (a stack that is not up is a one-line
    error at once); after that, outages are retried through ``outage`` (default: bounded by
    ``settings.outage_retry_s``).
    """
    guard = outage or OutageGuard(settings.outage_retry_s)
    require_broker(settings)
    require_redis(settings.result_backend, settings.broker_connect_timeout_s)
    broker, backend = broker_and_backend(settings)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
        transient=True,
    )
    with progress:
        sent = progress.add_task(f"submit {args.workload} → {queue}", total=count)
        batch = submit_batch(app, args, count, queue, on_sent=lambda n: progress.advance(sent, n), outage=guard)
        done = progress.add_task(f"done   {args.workload} ← {queue}", total=count)
        # What Redis provably lost (popped, never delivered) is re-published: producer/batch/recovery.py.
        collected, republished = collect_with_recovery(
            app,
            backend,
            broker,
            batch,
            timeout_s=timeout_s,
            rounds=settings.republish_rounds,
            on_done=lambda n: progress.advance(done, n),
            outage=guard,
            visibility_timeout_s=settings.visibility_timeout_s,
        )
    # Pending tasks wait for a worker: say whether any consumes their queue (None: nobody could be asked).
    consumers = queue_consumers(app, queue) if collected.queued or collected.unacked else None
    summary = summarize(
        collected.records,
        workload=args.workload,
        queue=queue,
        size=args.size,
        submitted=batch.submitted,
        failures=collected.failures,
        lost=len(collected.lost),
        started_at=batch.send_started,
        finished_at=collected.finished_at,
        republished=republished,
        queued=len(collected.queued),
        unacked=len(collected.unacked),
        unacked_back_at=collected.unacked_back_at,
        queue_consumers=consumers,
        outages=guard.outages,
        outage_s=round(guard.downtime_s, 2),
        broker=broker.kind,
    )
    broker.close()
    return BatchOutcome(batch, collected, summary)
