"""Re-publish tasks the broker has provably lost, under their own ids: end-to-end at-least-once.

kombu's Redis transport takes a message with ``BRPOP`` and records it as unacked in a second round
trip. When Redis stops (even cleanly) between its pop and its reply, the pop is in the AOF but the
worker never received the message: it is in no queue, in no unacked hash, and no worker runs it
(measured in tests/test_reliability_broker.py). No consumer can recover a message it never got; the
producer, which knows every id it sent, can. A task is re-published only when the broker holds
nothing for its queue and nothing unacknowledged, so a task that is merely slow is never sent twice
by this rule (one that was already running somewhere may be: at-least-once, not exactly-once).

Redis only. RabbitMQ has no such gap: a delivered message stays unacknowledged in the broker until the
worker acks it, and goes back to the queue when the worker's connection closes; and AMQP counts
messages but cannot name them, so nothing there proves a particular task lost. On RabbitMQ the
producer counts what it cannot find as lost and re-publishes nothing (``Broker.republishes_lost``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import redis
from celery import Celery

from config import catalogue
from producer.batch.collect import Collected, collect_results
from producer.batch.outage import OutageGuard
from producer.batch.submit import Batch, send_one
from producer.broker import Broker, as_broker


def republish(app: Celery, batch: Batch, task_ids: list[str], outage: OutageGuard | None = None) -> None:
    """Send the tasks ``task_ids`` of ``batch`` again, same ids, same arguments (a rare path: one by one)."""
    guard = outage or OutageGuard()
    task_name = catalogue.workload(batch.args.workload).task_name
    kwargs = batch.args.as_kwargs()
    with app.producer_or_acquire() as producer:
        for task_id in task_ids:
            send_one(app, producer, guard, task_name, kwargs, batch.queue, task_id)


def collect_with_recovery(
    app: Celery,
    backend: redis.Redis,
    broker: Broker | redis.Redis,
    batch: Batch,
    *,
    timeout_s: float,
    idle_grace_s: float = 5.0,
    rounds: int = 1,
    on_done: Callable[[int], None] | None = None,
    outage: OutageGuard | None = None,
    visibility_timeout_s: float | None = None,
) -> tuple[Collected, int]:
    """Collect ``batch``; re-publish what the broker provably lost (up to ``rounds`` times) and collect it.

    Returns the merged collection and how many tasks were re-published. Tasks still queued or held
    unacknowledged are pending, never re-published; broker outages are ridden out through ``outage``.
    """
    guard = outage or OutageGuard()
    broker = as_broker(broker)
    deadline = time.monotonic() + timeout_s
    collect = functools.partial(
        collect_results,
        backend,
        broker=broker,
        queue=batch.queue,
        idle_grace_s=idle_grace_s,
        on_done=on_done,
        outage=guard,
        visibility_timeout_s=visibility_timeout_s,
    )
    collected = collect(batch.task_ids, timeout_s=timeout_s)
    republished = 0
    for _ in range(rounds if broker.republishes_lost else 0):
        remaining = deadline - time.monotonic()
        if not collected.lost or remaining <= 0:
            break
        lost = collected.lost
        if not guard.call(functools.partial(broker.idle, batch.queue, set(lost)), "broker"):
            break  # the tasks may still be in the broker (in flight to a worker): never send twice
        republish(app, batch, lost, guard)
        republished += len(lost)
        again = collect(lost, timeout_s=remaining)
        collected.records.extend(again.records)
        collected.failures.update(again.failures)
        collected.lost = again.lost
        collected.queued = [*collected.queued, *again.queued]
        collected.unacked = [*collected.unacked, *again.unacked]
        back = [at for at in (collected.unacked_back_at, again.unacked_back_at) if at is not None]
        collected.unacked_back_at = min(back) if back else None
        collected.finished_at = again.finished_at
    return collected, republished
