"""Redis: where a batch's unfinished tasks are: still queued, held unacknowledged by a worker, or vanished (lost).

Measured (issue 11): kill -9 of the stack's I/O worker during ``submit --count 2000 --timeout 30``: the
summary said "401 lost" while 382 were still in the queue (no worker consumed it any more) and 19 were
held unacknowledged by the dead worker until the visibility timeout. Only a task in neither place is
lost. kombu's Redis transport keeps a delivered message in the ``unacked`` hash (delivery tag →
``[message, exchange, routing key]``) and the delivery time in the ``unacked_index`` sorted set; a
worker's periodic restore puts it back in its queue once that time plus the visibility timeout passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

import redis
from celery import Celery

from producer.broker.base import Whereabouts

UNACKED_KEY, UNACKED_INDEX_KEY = "unacked", "unacked_index"
#: kombu's priority lists of a queue: the queue itself (priority 0) and ``queue + sep + step`` for the others.
PRIORITY_SEP, PRIORITY_STEPS = "\x06\x16", (3, 6, 9)
#: Messages read per ``LRANGE``: a queue of 100,000 is read in 100 round trips of ~1.5 MB.
PAGE = 1000
#: A task message's first ``"id"`` is its header's (the body before it is base64, properties come after).
_FIRST_ID = re.compile(rb'"id":\s*"([^"]+)"')


def task_id_of(raw: bytes | str) -> str | None:
    """The task id in a queued message (kombu envelope), without decoding all of it when possible."""
    data = raw.encode() if isinstance(raw, str) else raw
    found = _FIRST_ID.search(data)
    if found is not None:
        return found.group(1).decode()
    try:
        return str(json.loads(data)["headers"]["id"])
    except (ValueError, LookupError, TypeError):
        return None


def unacked_task_id(raw: bytes | str) -> str | None:
    """The task id of one entry of kombu's unacked hash (``[message, exchange, routing key]``)."""
    try:
        return str(json.loads(raw)[0]["headers"]["id"])
    except (ValueError, LookupError, TypeError):
        return None


def queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s messages, one per priority step."""
    return [queue, *(f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS)]


def ids_in_queue(broker: redis.Redis, queue: str, wanted: Collection[str]) -> set[str]:
    """Which of ``wanted`` are in ``queue``'s lists (read page by page; stops once all are found)."""
    wanted_set = set(wanted)
    found: set[str] = set()
    for key in queue_keys(queue):
        start = 0
        while len(found) < len(wanted_set):
            page = broker.lrange(key, start, start + PAGE - 1)
            found.update(tid for tid in map(task_id_of, page) if tid in wanted_set)
            if len(page) < PAGE:
                break
            start += PAGE
    return found


def unacked_delivered_at(broker: redis.Redis, wanted: Collection[str]) -> dict[str, float]:
    """Task id → delivery time (epoch s) for those of ``wanted`` held unacknowledged by some worker."""
    wanted_set = set(wanted)
    tags = {
        tag: tid
        for tag, raw in broker.hgetall(UNACKED_KEY).items()
        if (tid := unacked_task_id(raw)) is not None and tid in wanted_set
    }
    if not tags:
        return {}
    pipe = broker.pipeline(transaction=False)
    for tag in tags:
        pipe.zscore(UNACKED_INDEX_KEY, tag)
    scores = pipe.execute()
    # An entry without an index score was being written when we looked: count it as delivered now.
    return {tid: float(score) if score is not None else 0.0 for tid, score in zip(tags.values(), scores, strict=True)}


def locate_unfinished(broker: redis.Redis, queue: str, task_ids: list[str], visibility_timeout_s: float) -> Whereabouts:
    """Split ``task_ids`` (unfinished, in batch order) into queued, unacknowledged and lost."""
    if not task_ids:
        return Whereabouts()
    queued = ids_in_queue(broker, queue, task_ids)
    held = unacked_delivered_at(broker, [tid for tid in task_ids if tid not in queued])
    where = Whereabouts(
        queued=[tid for tid in task_ids if tid in queued],
        unacked=[tid for tid in task_ids if tid in held],
        lost=[tid for tid in task_ids if tid not in queued and tid not in held],
    )
    delivered = [at for at in held.values() if at > 0]
    if delivered:
        where.unacked_back_at = min(delivered) + visibility_timeout_s
    return where


def broker_idle(broker: redis.Redis, queue: str, task_ids: Collection[str] | None = None) -> bool:
    """True when ``queue`` is empty and no message is delivered-but-unacknowledged.

    With ``task_ids``, only unacknowledged messages of those tasks count: an unacked entry left by some
    other batch (say, an ack that failed) must not keep this batch from ever deciding its tasks are lost.
    """
    pipe = broker.pipeline(transaction=False)
    pipe.llen(queue)
    pipe.hlen(UNACKED_KEY)
    queued, unacked = pipe.execute()
    if int(queued) or not int(unacked):
        return not int(queued)
    if task_ids is None:
        return False
    wanted = task_ids if isinstance(task_ids, set | frozenset) else set(task_ids)
    return not any(unacked_task_id(raw) in wanted for raw in broker.hvals(UNACKED_KEY))


def queue_consumers(app: Celery, queue: str, timeout_s: float = 1.0) -> list[str] | None:
    """Names of the workers consuming ``queue`` (``inspect active_queues``); None when no worker answered."""
    try:
        replies: dict[str, Any] = app.control.inspect(timeout=timeout_s).active_queues() or {}
    except Exception:  # the broker is down again or answers garbage: unknown, not "nobody"
        return None
    if not replies:
        return None  # no worker at all, or none answered in time (a reconnecting one does not)
    return sorted(
        name
        for name, queues in replies.items()
        if any(isinstance(q, dict) and q.get("name") == queue for q in queues or ())
    )
