"""One batch end to end: check the broker, submit, collect with a progress bar, summarise."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import LabSettings
from producer.batch.collect import Collected
from producer.batch.recovery import collect_with_recovery
from producer.batch.stats import BatchSummary, summarize
from producer.batch.submit import Batch, submit_batch
from producer.processes.redis_server import require_redis
from worker.task_args import WorkloadArgs


@dataclass
class BatchOutcome:
    """A batch as sent, as collected, and as summarised."""

    batch: Batch
    collected: Collected
    summary: BatchSummary


def redis_clients(settings: LabSettings) -> tuple[redis.Redis, redis.Redis]:
    """(broker, result backend) clients with the configured connect timeout."""
    timeout = settings.broker_connect_timeout_s
    broker = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=timeout)
    backend = redis.Redis.from_url(settings.result_backend, socket_connect_timeout=timeout)
    return broker, backend


def run_batch(app: Celery, settings: LabSettings, args: WorkloadArgs, count: int, queue: str, *,
              timeout_s: float, console: Console | None = None) -> BatchOutcome:
    """Submit ``count`` tasks to ``queue``, wait for every one, and summarise (lost ones included)."""
    require_redis(settings.broker_url, settings.broker_connect_timeout_s)
    require_redis(settings.result_backend, settings.broker_connect_timeout_s)
    broker, backend = redis_clients(settings)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, disable=console is None, transient=True)
    with progress:
        sent = progress.add_task(f"submit {args.workload} → {queue}", total=count)
        batch = submit_batch(app, args, count, queue, on_sent=lambda n: progress.advance(sent, n))
        done = progress.add_task(f"done   {args.workload} ← {queue}", total=count)
        # What the broker provably lost (popped by Redis, never delivered) is re-published: producer/recovery.py.
        collected, republished = collect_with_recovery(app, backend, broker, batch, timeout_s=timeout_s,
                                                       rounds=settings.republish_rounds,
                                                       on_done=lambda n: progress.advance(done, n))
    summary = summarize(collected.records, workload=args.workload, queue=queue, size=args.size,
                        submitted=batch.submitted, failures=collected.failures, lost=len(collected.lost),
                        started_at=batch.send_started, finished_at=collected.finished_at,
                        republished=republished)
    return BatchOutcome(batch, collected, summary)
