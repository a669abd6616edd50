"""The ``interpreters`` pool (N subinterpreters in one worker process) through a real worker on CPython 3.13.

Skipped when the default-build CPython 3.13 is not built (`make pythons`; `.ci/run` builds it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import catalogue
from config.settings import LabSettings, get_settings
from producer.batch.collect import collect_results
from producer.batch.run import redis_clients, run_batch
from producer.processes.interpreters import missing_reason
from tests.faults import FaultRedis, fault_app, fault_redis, fault_settings, fault_worker
from tests.helpers import producer
from worker.task_args import WorkloadArgs

POOL = catalogue.pool("interpreters")
EXTENSION = "tests.subinterp_extension"
SMALL_SIZES = {"cpu": 2000, "cpu_nogil": 64, "io_http": 20, "io_sleep": 20, "noop": 0}
#: Pure-Python product up to this n takes seconds (25,000 ≈ 0.1 s here): far past a 1 s limit.
RUNAWAY_CPU = 200_000

needs_py313 = pytest.mark.skipif(
    missing_reason(POOL, get_settings()) is not None, reason=str(missing_reason(POOL, get_settings()))
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """This module's own redis-server."""
    with fault_redis(tmp_path_factory.mktemp("redis-interpreters")) as running:
        yield running


@pytest.fixture(scope="module")
def pool_settings(server: FaultRedis, settings: LabSettings) -> LabSettings:
    """A 1 s soft limit for cpu tasks (the runaway test), the session's latency target."""
    return fault_settings(
        server,
        cpu_soft_time_limit_s=1.0,
        cpu_hard_time_limit_s=60.0,
        target_port=settings.target_port,
        catalogue_extensions=EXTENSION,
    )


@pytest.fixture(scope="module")
def worker(pool_settings: LabSettings, latency_target: Any) -> Iterator[tuple[Any, str]]:
    """One interpreters worker, -c 2, with the test extension's workloads registered."""
    app = fault_app(pool_settings)
    with fault_worker(app, pool_settings, "interpreters", 2, POOL.queue, label="interpreters") as (_, node):
        yield app, node


@needs_py313
@pytest.mark.parametrize("workload", list(SMALL_SIZES))
def test_each_builtin_workload_runs_in_subinterpreters_of_one_process(
    worker: tuple[Any, str], pool_settings: LabSettings, workload: str
) -> None:
    app, node = worker
    url = pool_settings.effective_target_url if workload == "io_http" else ""
    outcome = run_batch(
        app, pool_settings, WorkloadArgs(workload, SMALL_SIZES[workload], url), 6, POOL.queue, timeout_s=120
    )
    summary = outcome.summary
    assert (summary.submitted, summary.completed, summary.failed, summary.lost) == (6, 6, 0, 0)
    records = outcome.collected.records
    assert {r["pool"] for r in records} == {"interpreters"}
    assert {r["hostname"] for r in records} == {node}
    assert len({r["pid"] for r in records}) == 1, "one worker process"
    for record in records:
        assert record["workload"] == workload
        assert record["enqueued"] <= record["started"] <= record["finished"]


def _run_one(app: Any, settings: LabSettings, task: str, size: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    broker, backend = redis_clients(settings)
    task_id = app.send_task(task, kwargs={"size": size}, queue=POOL.queue).id
    collected = collect_results(backend, [task_id], timeout_s=120, broker=broker, queue=POOL.queue)
    return collected.records, collected.failures


@needs_py313
def test_a_task_that_raises_fails_with_its_error_and_the_worker_serves_on(
    worker: tuple[Any, str], pool_settings: LabSettings
) -> None:
    app, _ = worker
    records, failures = _run_one(app, pool_settings, "lab.raises", 7)
    assert not records and list(failures.values()) == ["ValueError: raised on purpose with size 7"]
    records, _ = _run_one(app, pool_settings, "lab.noop", 0)
    assert records and records[0]["pool"] == "interpreters"


@needs_py313
def test_a_module_that_cannot_load_in_a_subinterpreter_fails_that_task_with_the_reason(
    worker: tuple[Any, str], pool_settings: LabSettings
) -> None:
    app, _ = worker
    records, failures = _run_one(app, pool_settings, "lab.needs_psutil", 0)
    assert not records
    (reason,) = failures.values()
    assert reason.startswith("ImportError: cannot import psutil:cpu_count in a subinterpreter")
    assert "does not support loading in subinterpreters" in reason
    records, _ = _run_one(app, pool_settings, "lab.cpu", 1000)
    assert records, "the worker serves the next task"


@needs_py313
def test_a_runaway_task_fails_at_its_limit_and_its_slot_gets_a_fresh_interpreter(
    worker: tuple[Any, str], pool_settings: LabSettings
) -> None:
    app, node = worker
    runaway = run_batch(app, pool_settings, WorkloadArgs("cpu", RUNAWAY_CPU), 1, POOL.queue, timeout_s=120)
    assert (runaway.summary.completed, runaway.summary.failed, runaway.summary.lost) == (0, 1, 0)
    (reason,) = runaway.collected.failures.values()
    assert reason.startswith("SoftTimeLimitExceeded: cpu ran past its soft time limit of 1 s in subinterpreter slot")
    assert "fresh interpreter" in reason
    after = run_batch(app, pool_settings, WorkloadArgs("cpu", 1000), 4, POOL.queue, timeout_s=120)
    assert after.summary.completed == 4, "both slots serve the next tasks"
    stats = app.control.inspect(destination=[node], timeout=5).stats() or {}
    assert stats[node]["pool"]["abandoned"] >= 1
    assert stats[node]["pool"]["interpreters"] == 2


@needs_py313
@pytest.mark.parametrize("workload", ["sleeps_async", "io_sleep_async", "io_http_async"])
def test_an_async_workload_is_refused_with_the_reason(
    worker: tuple[Any, str], pool_settings: LabSettings, workload: str
) -> None:
    app, _ = worker
    records, failures = _run_one(app, pool_settings, f"lab.{workload}", 1)
    assert not records
    assert list(failures.values()) == [
        f"WorkloadRefused: {workload} is async def: it runs on a pool that runs coroutines, not on interpreters"
    ]


def test_the_producer_refuses_an_async_workload_for_the_pool_before_sending() -> None:
    result = producer(
        "submit", "--workload", "sleeps_async", "--pool", "interpreters", "--count", "1",
        LAB_CATALOGUE_EXTENSIONS=EXTENSION,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "producer: error: sleeps_async is async def: it runs on a pool that runs coroutines, not on interpreters"
    ]


@needs_py313
def test_compare_runs_cpu_on_the_pool_in_one_worker_process(tmp_path: Path) -> None:
    # compare starts its own interpreters worker on the 3.13 venv, stops it after.
    result = producer(
        "compare", "--workloads", "cpu", "--pools", "interpreters", "--count", "4", "--repeat", "1",
        "--sizes", "cpu=2000", "--no-baselines", timeout=240, LAB_RESULTS_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = tmp_path.glob("compare-*.json")
    record = json.loads(path.read_text())
    (run,) = record["runs"]
    assert (run["pool"], run["completed"], run["reported_pools"], run["processes"]) == (
        "interpreters",
        4,
        ["interpreters"],
        1,
    )
    assert record["environment"]["interpreters"]["interpreters"]["interpreter"] == "3.13"


def test_a_pool_whose_interpreter_is_not_built_is_refused_with_how_to_build_it(tmp_path: Path) -> None:
    result = producer("sweep", "--workload", "cpu", "--pool", "interpreters", "--concurrency", "1",
                      LAB_PY313_VENV=str(tmp_path / "absent"), LAB_PY313_PYTHON="")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "producer: error: pool interpreters needs the default-build CPython 3.13: run `make pythons` "
        "(a few minutes, cached) or set LAB_PY313_PYTHON"
    ]


def test_results_name_the_pool_from_its_class_without_a_label() -> None:
    from worker.pools.interpreters_pool import InterpreterPool
    from worker.runtime import pool_name_of

    assert pool_name_of(InterpreterPool) == "interpreters"
    assert pool_name_of("threads") == "threads"  # not threads_nogil: that one needs LAB_POOL_LABEL
