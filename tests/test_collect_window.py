"""collect_results reads a window of the oldest pending ids most of the time: out-of-order results still count."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from producer.batch.collect import WINDOW, collect_results
from producer.batch.run import redis_clients

#: Celery's Redis backend calls redis-py's deprecated setex: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


def _store(app: Any, task_ids: list[str]) -> None:
    for task_id in task_ids:
        app.backend.store_result(task_id, {"workload": "noop", "finished": time.time()}, "SUCCESS")


def test_results_outside_the_window_and_late_ones_are_all_collected(celery_app: Any, settings: Any) -> None:
    prefix = uuid.uuid4().hex[:8]
    task_ids = [f"{prefix}-{index}" for index in range(WINDOW * 2 + 100)]
    oldest, newest = task_ids[: WINDOW + 50], task_ids[WINDOW + 50 :]
    _store(celery_app, newest)  # finished out of order: none of the oldest window is there yet
    late = threading.Timer(0.5, _store, (celery_app, oldest))
    late.start()
    _, backend = redis_clients(settings)
    done: list[int] = []
    collected = collect_results(backend, task_ids, timeout_s=60, on_done=done.append)
    late.join()
    assert (len(collected.records), collected.failures, collected.lost) == (len(task_ids), {}, [])
    assert sum(done) == len(task_ids)


def test_missing_results_are_lost_when_the_broker_is_idle(celery_app: Any, settings: Any) -> None:
    prefix = uuid.uuid4().hex[:8]
    task_ids = [f"{prefix}-{index}" for index in range(WINDOW + 10)]
    _store(celery_app, task_ids[5:])
    broker, backend = redis_clients(settings)
    collected = collect_results(
        backend, task_ids, timeout_s=60, broker=broker, queue=f"idle-{prefix}", idle_grace_s=0.5
    )
    assert len(collected.records) == len(task_ids) - 5
    assert collected.lost == task_ids[:5]
