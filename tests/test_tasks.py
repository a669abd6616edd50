"""Every workload through real Celery workers (prefork and threads) and a real Redis."""

from __future__ import annotations

from typing import Any

import pytest

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients, run_batch
from worker.task_args import WorkloadArgs

SMALL_SIZES = {"cpu": 2000, "cpu_nogil": 64, "io_http": 20, "io_sleep": 20, "noop": 0}


@pytest.mark.parametrize("pool", ["prefork", "threads"])
@pytest.mark.parametrize("workload", ["cpu", "cpu_nogil", "io_http", "io_sleep", "noop"])
def test_each_workload_runs_under_each_pool_with_timings(
    celery_app: Any, settings: Any, both_workers: dict[str, str], workload: str, pool: str
) -> None:
    url = settings.effective_target_url if workload == "io_http" else ""
    outcome = run_batch(
        celery_app, settings, WorkloadArgs(workload, SMALL_SIZES[workload], url), 6, pool, timeout_s=120
    )
    summary = outcome.summary
    assert (summary.submitted, summary.completed, summary.failed, summary.lost) == (6, 6, 0, 0)
    for record in outcome.collected.records:
        assert record["workload"] == workload
        assert record["pool"] == pool
        assert record["hostname"] == both_workers[pool]
        assert record["enqueued"] <= record["started"] <= record["finished"]
        assert record["thread_cpu"] >= 0
        assert isinstance(record["pid"], int) and isinstance(record["thread_id"], int)


def test_factorial_of_20000_has_over_4300_digits_and_still_returns(
    celery_app: Any, settings: Any, prefork_worker: str
) -> None:
    outcome = run_batch(celery_app, settings, WorkloadArgs("cpu", 20_000), 1, "prefork", timeout_s=120)
    assert outcome.summary.failed == 0
    bits = outcome.collected.records[0]["output"]["bits"]
    assert bits * 0.30103 > 4300  # decimal digits of the raw product: Celery could not encode it


def test_default_routes_send_cpu_to_prefork_and_io_to_threads(
    celery_app: Any, settings: Any, both_workers: dict[str, str]
) -> None:
    _, backend = redis_clients(settings)
    ids = [
        celery_app.send_task(f"lab.{name}", kwargs={"size": size}).id
        for name, size in (("cpu", 100), ("cpu_nogil", 4), ("io_sleep", 1))
    ]
    collected = collect_results(backend, ids, timeout_s=60)
    pools = {r["workload"]: r["pool"] for r in collected.records}
    assert pools == {"cpu": "prefork", "cpu_nogil": "prefork", "io_sleep": "threads"}


def test_task_refuses_bad_arguments_and_the_failure_is_counted(
    celery_app: Any, settings: Any, both_workers: dict[str, str]
) -> None:
    _, backend = redis_clients(settings)
    ids = [
        celery_app.send_task("lab.io_http", kwargs={"size": 1, "url": "http://example.com/"}).id,
        celery_app.send_task("lab.cpu", kwargs={"size": 10**9}).id,
    ]
    collected = collect_results(backend, ids, timeout_s=60)
    assert not collected.records and not collected.lost
    not_allowed, too_big = (collected.failures[task_id] for task_id in ids)
    assert not_allowed.startswith("BadTaskArgs") and "'example.com' is not allow-listed" in not_allowed
    assert too_big.startswith("BadTaskArgs") and "above the cap" in too_big
