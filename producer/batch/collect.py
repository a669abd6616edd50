"""Collect a batch's results from the Redis result backend with pipelined reads (MGET in chunks).

Every read goes through an :class:`~producer.batch.outage.OutageGuard`: a Redis restart while results
are collected is ridden out (up to ``LAB_OUTAGE_RETRY_S``), and the lost-task clock restarts after it.
What is unfinished at the end is located in the broker (:meth:`producer.broker.base.Broker.locate`: by id
on Redis, by count on RabbitMQ): still queued, held unacknowledged by a worker, or lost.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from producer.batch.outage import OutageGuard
from producer.broker import Broker, Whereabouts, as_broker

CHUNK = 2000
POLL_INTERVAL_S = 0.05
#: Pending ids read by an ordinary poll (the oldest first), and how often a poll reads them all.
WINDOW = 500
FULL_SWEEP_EVERY = 10
RESULT_KEY_PREFIX = "celery-task-meta-"


@dataclass
class Collected:
    """Results of one batch: successes, failures (task id → reason), and the unfinished by whereabouts.

    ``lost`` holds only tasks the broker has neither queued nor held unacknowledged (or, when no broker was
    given to look in, every unfinished task); ``queued`` and ``unacked`` are pending, not lost.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    unacked: list[str] = field(default_factory=list)
    #: When the earliest unacknowledged task goes back to its queue (epoch seconds).
    unacked_back_at: float | None = None
    finished_at: float = 0.0

    @property
    def unfinished(self) -> list[str]:
        """Every task without a final state: queued, unacknowledged or lost."""
        return [*self.queued, *self.unacked, *self.lost]

    def place(self, where: Whereabouts) -> None:
        """Record where the unfinished tasks are."""
        self.queued, self.unacked, self.lost = where.queued, where.unacked, where.lost
        self.unacked_back_at = where.unacked_back_at


def _failure_reason(meta: dict[str, Any]) -> str:
    result = meta.get("result")
    if isinstance(result, dict) and "exc_type" in result:
        message = result.get("exc_message")
        text = " ".join(map(str, message)) if isinstance(message, list | tuple) else str(message)
        return f"{result['exc_type']}: {text}"
    return str(meta.get("status", "unknown"))


def _read(backend: redis.Redis, task_ids: list[str], collected: Collected) -> tuple[list[str], int]:
    """One pipelined round trip of MGETs over ``task_ids``: record final states, return (still pending, finished)."""
    pipe = backend.pipeline(transaction=False)
    for start in range(0, len(task_ids), CHUNK):
        pipe.mget([RESULT_KEY_PREFIX + task_id for task_id in task_ids[start : start + CHUNK]])
    values = [value for chunk in pipe.execute() for value in chunk]
    still_pending: list[str] = []
    for task_id, raw in zip(task_ids, values, strict=True):
        if raw is None:
            still_pending.append(task_id)
            continue
        meta: dict[str, Any] = json.loads(raw)
        status = meta.get("status")
        if status == "SUCCESS":
            collected.records.append(meta["result"])
        elif status in ("FAILURE", "REVOKED"):
            collected.failures[task_id] = _failure_reason(meta)
        else:
            still_pending.append(task_id)
    return still_pending, len(task_ids) - len(still_pending)


def collect_results(
    backend: redis.Redis,
    task_ids: list[str],
    *,
    timeout_s: float,
    broker: Broker | redis.Redis | None = None,
    queue: str = "",
    idle_grace_s: float = 5.0,
    on_done: Callable[[int], None] | None = None,
    outage: OutageGuard | None = None,
    visibility_timeout_s: float | None = None,
) -> Collected:
    """Poll until every task has a final state; what never finishes is located, never silently dropped.

    Polling stops when ``timeout_s`` passes, or when the broker has nothing queued or unacknowledged for
    ``idle_grace_s`` while results are still missing (nobody can run those tasks any more). With a
    ``broker`` and ``queue``, the unfinished are then split into queued, unacknowledged and lost
    (``visibility_timeout_s``, default the setting, dates the unacknowledged ones' return).

    Tasks leave a queue roughly in order, so most polls read only the oldest :data:`WINDOW` pending
    ids (and read the next window at once when a whole window has finished); every :data:`FULL_SWEEP_EVERY`-th
    poll reads them all. With thousands in flight this keeps the collector's own MGETs from loading
    Redis and the CPU the workers need; a lost-task decision is only ever taken on a full sweep.
    """
    guard = outage or OutageGuard()
    on_broker = as_broker(broker) if broker is not None else None
    collected = Collected()
    pending = list(task_ids)
    deadline = time.monotonic() + timeout_s
    idle_since: float | None = None
    polls = 0
    while pending:
        full = polls % FULL_SWEEP_EVERY == 0 or len(pending) <= WINDOW
        polls += 1
        behind = False
        outages = guard.outages
        if full:
            pending, finished = guard.call(functools.partial(_read, backend, pending, collected), "result backend")
        else:
            window, finished = guard.call(
                functools.partial(_read, backend, pending[:WINDOW], collected), "result backend"
            )
            pending = window + pending[WINDOW:]
            behind = not window  # the whole window had finished: read the next one at once
        if finished and on_done is not None:
            on_done(finished)
        if not pending:
            break
        now = time.monotonic()
        if finished or guard.outages != outages:
            idle_since = None  # progress, or Redis just came back: the idle clock starts again
        elif full and on_broker is not None and queue:
            idle = guard.call(functools.partial(on_broker.idle, queue, set(pending)), "broker")
            if idle and guard.outages == outages:
                idle_since = idle_since or now
                if now - idle_since >= idle_grace_s:
                    break
            else:
                idle_since = None
        if now >= deadline:
            break
        if not behind:
            time.sleep(POLL_INTERVAL_S)
    collected.lost = pending
    if pending and on_broker is not None and queue:
        collected.place(locate(on_broker, queue, pending, guard, visibility_timeout_s))
    collected.finished_at = time.time()
    return collected


def locate(
    broker: Broker, queue: str, task_ids: list[str], guard: OutageGuard, visibility_timeout_s: float | None = None
) -> Whereabouts:
    """The broker's :meth:`~producer.broker.base.Broker.locate`, through the outage guard."""
    if visibility_timeout_s is None:
        from config.settings import get_settings

        visibility_timeout_s = get_settings().visibility_timeout_s
    visibility = visibility_timeout_s
    return guard.call(lambda: broker.locate(queue, task_ids, visibility), "broker")
