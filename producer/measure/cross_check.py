"""Each Celery run checked against an independent count: result keys in the backend vs the producer's records.

A cell whose figures disagree with the backend (results the producer missed, or counted twice) is
flagged in the table instead of being trusted.
"""

from __future__ import annotations

from typing import Any

import redis

from producer.batch.collect import RESULT_KEY_PREFIX
from producer.batch.run import BatchOutcome

#: Throughputs by the task records and by the producer's clock may differ by this much (poll lag).
AGREEMENT_TOLERANCE = 0.25
AGREEMENT_SLACK_S = 0.3


def backend_count(backend: redis.Redis, task_ids: list[str]) -> int:
    """Results of these tasks present in the backend, counted independently of the collector."""
    prefix = _shared_prefix(task_ids)
    if len(prefix) >= 8:  # the batch id: one SCAN finds every result of the batch, and only those
        wanted = set(task_ids)
        keys = backend.scan_iter(match=f"{RESULT_KEY_PREFIX}{prefix}*", count=2000)
        return sum(1 for key in keys if key.decode().removeprefix(RESULT_KEY_PREFIX) in wanted)
    pipe = backend.pipeline(transaction=False)
    for task_id in task_ids:
        pipe.exists(RESULT_KEY_PREFIX + task_id)
    return sum(int(n) for n in pipe.execute())


def _shared_prefix(names: list[str]) -> str:
    if not names:
        return ""
    low, high = min(names), max(names)
    length = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), min(len(low), len(high)))
    return low[:length]


def cross_check(outcome: BatchOutcome, backend: redis.Redis) -> dict[str, Any]:
    """Compare the records with the backend's count and the producer's clock; say when they disagree."""
    summary, collected = outcome.summary, outcome.collected
    found = backend_count(backend, outcome.batch.task_ids)
    producer_span = max(collected.finished_at - outcome.batch.send_started, 1e-9)
    producer_tp = summary.completed / producer_span
    notes = []
    if found != summary.completed + summary.failed:
        notes.append(f"backend holds {found} results, records say {summary.completed + summary.failed}")
    gap = producer_span - summary.wall_s
    if gap < -AGREEMENT_SLACK_S or (gap > AGREEMENT_SLACK_S and gap > AGREEMENT_TOLERANCE * summary.wall_s):
        notes.append(f"producer clock {producer_tp:,.1f}/s vs records {summary.throughput:,.1f}/s")
    return {"backend_results": found, "producer_throughput": producer_tp, "agree": not notes, "note": "; ".join(notes)}
