"""The asyncio pool with real workers and a real Redis: async workloads run, sync ones are refused with
the reason (and async ones on sync pools), failures and overruns are counted and the worker keeps
serving, ``-c`` bounds the tasks in flight, and a warm shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients, run_batch
from producer.batch.submit import submit_batch
from producer.processes.redis_server import free_port
from tests.faults import FaultRedis, collect, fault_app, fault_redis, fault_settings, fault_worker, wait_until
from tests.helpers import child_env, producer, running_worker
from worker.pools.asyncio_pool import AsyncioPool
from worker.runtime import pool_name_of
from worker.task_args import WorkloadArgs

QUEUE = "asyncio"
SYNC_REFUSED = "WorkloadRefused: {name} is synchronous: the asyncio pool runs only async def workloads"
ASYNC_REFUSED = "WorkloadRefused: {name} is async def: it runs on a pool that runs coroutines, not on {pool}"


@pytest.fixture(scope="module")
def asyncio_worker(celery_app: Any, latency_target: Any) -> Iterator[str]:
    """An asyncio worker (-c 8) on its own queue; yields its node name."""
    with running_worker(celery_app, "asyncio", 8, QUEUE, name="test-asyncio") as (_, node):
        yield node


def overlap(records: list[dict[str, Any]]) -> int:
    """The most tasks running at once, from their started/finished stamps (a count, not a timing)."""
    edges = sorted([(r["started"], 1) for r in records] + [(r["finished"], -1) for r in records])
    running = most = 0
    for _, step in edges:  # at equal stamps a finish (-1) sorts before a start (+1)
        running += step
        most = max(most, running)
    return most


def test_custom_pool_class_is_named_after_its_catalogue_entry() -> None:
    assert pool_name_of(AsyncioPool) == "asyncio"
    assert pool_name_of("worker.pools.asyncio_pool:AsyncioPool") == "asyncio"


@pytest.mark.parametrize("workload", ["io_sleep_async", "io_http_async"])
def test_asyncio_pool_runs_each_async_workload_with_timings(
    celery_app: Any, settings: Any, asyncio_worker: str, workload: str
) -> None:
    url = settings.effective_target_url if workload == "io_http_async" else ""
    outcome = run_batch(celery_app, settings, WorkloadArgs(workload, 50, url), 12, QUEUE, timeout_s=120)
    summary = outcome.summary
    assert (summary.submitted, summary.completed, summary.failed, summary.lost) == (12, 12, 0, 0)
    for record in outcome.collected.records:
        assert record["workload"] == workload and record["pool"] == "asyncio"
        assert record["hostname"] == asyncio_worker
        assert record["enqueued"] <= record["started"] <= record["finished"]
        assert 0 <= record["thread_cpu"] <= record["finished"] - record["started"]
    expected = {"status": 200, "bytes": 3} if workload == "io_http_async" else {"slept_ms": 50}
    assert all(r["output"] == expected for r in outcome.collected.records)
    assert len({r["thread_id"] for r in outcome.collected.records}) == 1, "one event loop, one thread"


@pytest.mark.parametrize("workload", ["cpu", "io_http"])
def test_asyncio_pool_refuses_a_sync_workload_with_the_reason_and_keeps_serving(
    celery_app: Any, settings: Any, asyncio_worker: str, workload: str
) -> None:
    url = settings.effective_target_url if workload == "io_http" else ""
    refused = run_batch(celery_app, settings, WorkloadArgs(workload, 10, url), 3, QUEUE, timeout_s=120)
    assert (refused.summary.completed, refused.summary.failed, refused.summary.lost) == (0, 3, 0)
    assert set(refused.collected.failures.values()) == {SYNC_REFUSED.format(name=workload)}
    served = run_batch(celery_app, settings, WorkloadArgs("io_sleep_async", 10), 3, QUEUE, timeout_s=120)
    assert served.summary.completed == 3


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_sync_pool_refuses_an_async_workload_with_the_reason(
    celery_app: Any, settings: Any, both_workers: dict[str, str], pool: str
) -> None:
    refused = run_batch(celery_app, settings, WorkloadArgs("io_sleep_async", 10), 2, pool, timeout_s=120)
    assert (refused.summary.completed, refused.summary.failed, refused.summary.lost) == (0, 2, 0)
    assert set(refused.collected.failures.values()) == {ASYNC_REFUSED.format(name="io_sleep_async", pool=pool)}
    served = run_batch(celery_app, settings, WorkloadArgs("io_sleep", 10), 2, pool, timeout_s=120)
    assert served.summary.completed == 2


def test_the_pool_runs_the_same_on_stock_celery(celery_app: Any, settings: Any, latency_target: Any) -> None:
    queue = "asyncio-stock"
    env = child_env(LAB_CELERY_MODE="stock")
    with running_worker(celery_app, "asyncio", 8, queue, name="test-asyncio-stock", env=env):
        url = settings.effective_target_url
        ran = run_batch(celery_app, settings, WorkloadArgs("io_http_async", 20, url), 8, queue, timeout_s=120)
        refused = run_batch(celery_app, settings, WorkloadArgs("cpu", 10), 2, queue, timeout_s=120)
    assert (ran.summary.completed, ran.summary.failed, ran.summary.lost) == (8, 0, 0)
    assert {r["pool"] for r in ran.collected.records} == {"asyncio"}
    assert set(refused.collected.failures.values()) == {SYNC_REFUSED.format(name="cpu")}


def test_worker_survives_a_raising_task_and_ones_past_their_time_bound(
    celery_app: Any, settings: Any, asyncio_worker: str
) -> None:
    broker, backend = redis_clients(settings)
    closed_port = f"http://127.0.0.1:{free_port()}/"  # nothing listens: aiohttp raises
    ids = {
        "raises": celery_app.send_task("lab.io_http_async", kwargs={"size": 10, "url": closed_port}, queue=QUEUE).id,
        "soft": celery_app.send_task(
            "lab.io_sleep_async", kwargs={"size": 30_000}, queue=QUEUE, soft_time_limit=1, time_limit=20
        ).id,
        "hard": celery_app.send_task("lab.io_sleep_async", kwargs={"size": 30_000}, queue=QUEUE, time_limit=1).id,
        "bad": celery_app.send_task("lab.io_sleep_async", kwargs={"size": -1}, queue=QUEUE).id,
        "denied": celery_app.send_task(
            "lab.io_http_async", kwargs={"size": 10, "url": "http://example.org/"}, queue=QUEUE
        ).id,
    }
    failed = collect_results(backend, list(ids.values()), timeout_s=120, broker=broker, queue=QUEUE).failures
    assert failed[ids["raises"]].startswith("HttpError: ClientConnectorError: Cannot connect to host 127.0.0.1:")
    assert failed[ids["soft"]] == "SoftTimeLimitExceeded: io_sleep_async ran past its soft time limit of 1 s"
    assert failed[ids["hard"]] == "TimeLimitExceeded: io_sleep_async ran past its time limit of 1 s"
    assert failed[ids["bad"]] == "BadTaskArgs: size must be a non-negative integer, got -1"
    assert failed[ids["denied"]].startswith("BadTaskArgs: host 'example.org' is not allow-listed")
    served = run_batch(celery_app, settings, WorkloadArgs("io_sleep_async", 10), 4, QUEUE, timeout_s=120)
    assert served.summary.completed == 4


def test_concurrency_bounds_the_tasks_in_flight(celery_app: Any, settings: Any, latency_target: Any) -> None:
    queue = "asyncio-c3"
    with running_worker(celery_app, "asyncio", 3, queue, name="test-asyncio-c3"):
        outcome = run_batch(celery_app, settings, WorkloadArgs("io_sleep_async", 300), 15, queue, timeout_s=120)
    assert outcome.summary.completed == 15
    assert 2 <= overlap(outcome.collected.records) <= 3, "at most -c tasks in flight, and more than one"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """A private redis-server for the shutdown tests (their unacked hash is theirs alone)."""
    with fault_redis(tmp_path_factory.mktemp("redis-asyncio-shutdown")) as running:
        yield running


def _in_flight(app: Any, node: str) -> int:
    stats = app.control.inspect(destination=[node], timeout=1.0).stats() or {}
    return int(stats.get(node, {}).get("pool", {}).get("in-flight", 0))


@pytest.mark.parametrize(("grace_s", "sleep_ms"), [(30.0, 1500), (0.5, 8000)], ids=["finish", "bounded"])
def test_warm_shutdown_finishes_or_returns_every_task(server: FaultRedis, grace_s: float, sleep_ms: int) -> None:
    for db in (0, 1):
        redis.Redis.from_url(server.url(db)).flushdb()
    settings = fault_settings(server, visibility_timeout_s=3600, asyncio_shutdown_grace_s=grace_s)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    count = 12
    with fault_worker(app, settings, "asyncio", 4, QUEUE, label="asyncio-term") as (worker, node):
        batch = submit_batch(app, WorkloadArgs("io_sleep_async", sleep_ms), count, QUEUE)
        wait_until(lambda: _in_flight(app, node) == 4, 60, "four tasks in flight")
        psutil.Process(worker.pid).send_signal(signal.SIGTERM)
        psutil.Process(worker.pid).wait(120)
    done = [key for key in backend.scan_iter("celery-task-meta-*")]
    assert int(broker.hlen("unacked")) == 0, "nothing left delivered-but-unacknowledged"
    returned = int(broker.llen(QUEUE))
    assert returned + len(done) == count, "every task not finished went back to the queue"
    assert len(done) == (4 if grace_s > 1 else 0), "in flight: finished within the grace, else returned"
    with fault_worker(app, settings, "asyncio", 16, QUEUE, label="asyncio-term-again"):
        collected = collect(backend, broker, batch.task_ids, QUEUE)
    assert (len(collected.records), len(collected.failures), len(collected.lost)) == (count, 0, 0)


def test_io_http_async_is_bounded_by_its_http_timeout(settings: Any, latency_target: Any) -> None:
    from worker.async_workloads import close_sessions, io_http_async

    async def slow_then_fast() -> tuple[str, dict[str, Any]]:
        try:
            try:
                await io_http_async(settings.effective_target_url, 3000, 0.5)
            except TimeoutError as error:
                message = str(error)
            return message, await io_http_async(settings.effective_target_url, 1, 5.0)
        finally:
            await close_sessions()

    message, answer = asyncio.run(slow_then_fast())
    assert message == f"GET {settings.effective_target_url} got no answer within 0.5 s (LAB_HTTP_TIMEOUT_S)"
    assert answer == {"status": 200, "bytes": 3}


def test_compare_skips_each_pool_that_refuses_a_workload_with_the_reason(
    asyncio_worker: str, threads_worker: str, tmp_path: Path
) -> None:
    result = producer(
        "compare",
        "--workloads",
        "io_sleep,io_sleep_async",
        "--pools",
        "threads,asyncio",
        "--count",
        "4",
        "--repeat",
        "1",
        "--sizes",
        "io_sleep=10,io_sleep_async=10",
        "--json",
        timeout=240,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cells = {(c["workload"], c["pool"]) for c in json.loads(result.stdout)["cells"]}
    assert cells == {
        ("io_sleep", "threads"),
        ("io_sleep", "inproc-threads"),
        ("io_sleep", "inproc-processes"),
        ("io_sleep_async", "asyncio"),
        ("io_sleep_async", "inproc-asyncio"),
    }
    assert "io_sleep  asyncio           skipped: " + SYNC_REFUSED.format(name="io_sleep").split(": ", 1)[1] in (
        result.stderr
    )


def test_sweep_of_a_pool_that_refuses_the_workload_is_one_line() -> None:
    result = producer("sweep", "--workload", "cpu", "--pool", "asyncio")
    assert result.returncode == 2
    assert result.stderr.strip() == "producer: error: " + SYNC_REFUSED.format(name="cpu").split(": ", 1)[1]
