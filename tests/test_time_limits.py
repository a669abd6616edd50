"""Runaway work with real workers: the prefork soft time limit, the threads pool's lack of any, and
the HTTP timeout that bounds I/O tasks instead. Each overrun ends as a counted failure with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import redis_clients, run_batch
from tests.faults import FaultRedis, fault_app, fault_redis, fault_settings, fault_worker
from worker.task_args import WorkloadArgs

#: Pure-Python product up to this n takes seconds (25,000 ≈ 0.1 s here): far past a 1 s limit.
RUNAWAY_CPU = 200_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """This module's own redis-server."""
    with fault_redis(tmp_path_factory.mktemp("redis-time-limits")) as running:
        yield running


def test_prefork_soft_time_limit_fails_the_task_with_its_reason(server: FaultRedis) -> None:
    settings = fault_settings(server, cpu_soft_time_limit_s=1.0, cpu_hard_time_limit_s=60.0)
    app = fault_app(settings)
    with fault_worker(app, settings, "prefork", 2, "prefork", label="soft-limit"):
        runaway = run_batch(app, settings, WorkloadArgs("cpu", RUNAWAY_CPU), 2, "prefork", timeout_s=120)
        small = run_batch(app, settings, WorkloadArgs("cpu", 1000), 2, "prefork", timeout_s=120)
    summary = runaway.summary
    assert (summary.submitted, summary.completed, summary.failed, summary.lost) == (2, 0, 2, 0)
    assert summary.failure_reasons == {"SoftTimeLimitExceeded": 2}
    for reason in runaway.collected.failures.values():
        assert reason == "SoftTimeLimitExceeded: cpu ran past its soft time limit of 1.0 s (LAB_CPU_SOFT_TIME_LIMIT_S)"
    assert small.summary.completed == 2, "the same pool processes serve the next tasks"


def test_soft_limit_backstop_fires_inside_the_pool_process_where_celery_has_no_timer(server: FaultRedis) -> None:
    # The solo pool has no time-limit timer of its own, so only worker/soft_deadline.py can stop this task:
    # the same backstop guards prefork when Celery's parent-side timer is not armed (Celery #6873).
    settings = fault_settings(server, cpu_soft_time_limit_s=1.0, cpu_hard_time_limit_s=60.0)
    app = fault_app(settings)
    with fault_worker(app, settings, "solo", 1, "solo", label="soft-backstop"):
        runaway = run_batch(app, settings, WorkloadArgs("cpu", RUNAWAY_CPU), 1, "solo", timeout_s=120)
        small = run_batch(app, settings, WorkloadArgs("cpu", 1000), 1, "solo", timeout_s=120)
    assert (runaway.summary.completed, runaway.summary.failed, runaway.summary.lost) == (0, 1, 0)
    (reason,) = runaway.collected.failures.values()
    assert reason == "SoftTimeLimitExceeded: cpu ran past its soft time limit of 1.0 s (LAB_CPU_SOFT_TIME_LIMIT_S)"
    assert small.summary.completed == 1, "the worker serves the next task"


def test_a_soft_limit_at_or_above_the_hard_one_is_refused() -> None:
    # Measured before this rule: soft 60 s, hard 1 s, and a 6 s task succeeded. Celery's prefork pool
    # arms the hard timer only when the soft one fires, so the hard limit never acted.
    with pytest.raises(ValidationError, match="must be above LAB_CPU_SOFT_TIME_LIMIT_S"):
        LabSettings(cpu_soft_time_limit_s=60.0, cpu_hard_time_limit_s=1.0)


def test_threads_pool_has_no_time_limits_so_io_is_bounded_by_the_http_timeout(
    server: FaultRedis, latency_target: Any
) -> None:
    settings = fault_settings(server, http_timeout_s=1.0)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    url = settings.effective_target_url
    with fault_worker(app, settings, "threads", 4, "threads", label="http-timeout"):
        # The server answers after 3 s, the client gives up after 1 s: a failure, counted, with its reason.
        slow = run_batch(app, settings, WorkloadArgs("io_http", 3000, url), 2, "threads", timeout_s=120)
        fast = run_batch(app, settings, WorkloadArgs("io_http", 10, url), 2, "threads", timeout_s=120)
        # A soft limit sent with the task is ignored by the threads pool (Celery #9203): it runs to the end.
        unlimited = app.send_task(
            "lab.io_sleep", kwargs={"size": 2500}, queue="threads", soft_time_limit=1, time_limit=2
        ).id
        ran = collect_results(backend, [unlimited], timeout_s=120, broker=broker, queue="threads")
    summary = slow.summary
    assert (summary.submitted, summary.completed, summary.failed, summary.lost) == (2, 0, 2, 0)
    assert summary.failure_reasons == {"ReadTimeout": 2}
    assert all("read timeout=1.0" in reason for reason in slow.collected.failures.values())
    assert fast.summary.completed == 2
    (record,) = ran.records
    assert record["output"] == {"slept_ms": 2500} and record["finished"] - record["started"] >= 2.5
