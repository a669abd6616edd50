"""Celery's per-task INFO lines are off by default (LAB_TASK_LOG); a failing task is still logged."""

from __future__ import annotations

import time
import uuid
from typing import Any

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients
from producer.batch.submit import submit_batch
from tests.helpers import LOG_DIR
from worker.task_args import WorkloadArgs


def test_worker_log_has_no_per_task_lines_but_keeps_failures(
    celery_app: Any, settings: Any, prefork_worker: str
) -> None:
    assert not settings.task_log
    batch = submit_batch(celery_app, WorkloadArgs("noop", 0), 5, "prefork")
    bad_id = f"bad-{uuid.uuid4().hex[:8]}"
    celery_app.send_task("lab.noop", kwargs={"size": -1}, queue="prefork", task_id=bad_id)
    broker, backend = redis_clients(settings)
    collected = collect_results(backend, [*batch.task_ids, bad_id], timeout_s=120, broker=broker, queue="prefork")
    assert len(collected.records) == 5 and list(collected.failures) == [bad_id]
    log = LOG_DIR / "test-prefork.log"
    deadline = time.monotonic() + 10
    while bad_id not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert bad_id in text  # the failure is logged (ERROR)
    assert not any(task_id in text for task_id in batch.task_ids)  # no "Received task" / "succeeded" lines
