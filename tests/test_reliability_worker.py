"""Worker faults with real processes: kill -9 a pool child, kill -9 a whole worker, SIGTERM.

Each test counts submitted / completed / duplicated / lost tasks; the workers record every execution
(``LAB_EXECUTION_LOG``) so that a task that ran twice is seen, not just a task that finished.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import redis

from producer.batch.run import redis_clients
from producer.batch.submit import submit_batch
from tests.faults import (
    FaultRedis,
    collect,
    count_outcome,
    fault_app,
    fault_redis,
    fault_settings,
    fault_worker,
    kill9,
    started_events,
    wait_until,
)
from worker.execution_log import EXECUTIONS_KEY, read_events
from worker.task_args import WorkloadArgs

QUEUE = "prefork"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """This module's own redis-server (nobody else's unacked messages, nobody else's tasks)."""
    with fault_redis(tmp_path_factory.mktemp("redis-worker-faults")) as running:
        yield running


@pytest.fixture(autouse=True)
def empty_databases(server: FaultRedis) -> None:
    """Each test starts from an empty broker and result backend."""
    for db in (0, 1):
        redis.Redis.from_url(server.url(db)).flushdb()


def _running(backend: redis.Redis, task_ids: list[str]) -> dict[str, Any] | None:
    """The latest started execution that has not ended yet, if any."""
    events = read_events(backend)
    ended = {(e["id"], e["pid"]) for e in events if e["event"] != "start"}
    running = [e for e in events if e["event"] == "start" and e["id"] in task_ids and (e["id"], e["pid"]) not in ended]
    return running[-1] if running else None


def test_kill9_of_a_prefork_child_mid_task_runs_the_task_again(server: FaultRedis) -> None:
    # A long visibility timeout: the re-run must come from reject_on_worker_lost, not from the timeout.
    settings = fault_settings(server, visibility_timeout_s=3600)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    with fault_worker(app, settings, "prefork", 2, QUEUE, label="kill-child") as (worker, _):
        batch = submit_batch(app, WorkloadArgs("io_sleep", 2000), 6, QUEUE)
        victim = wait_until(lambda: _running(backend, batch.task_ids), 60, "a task to start")
        assert psutil.Process(victim["pid"]).ppid() == worker.pid, "the task runs in a pool child"
        kill9(victim["pid"])
        collected = collect(backend, broker, batch.task_ids, QUEUE)
    counts, executions = count_outcome("kill -9 prefork child", batch, collected, backend)
    assert (counts.completed, counts.failed, counts.lost) == (6, 0, 0), collected.failures
    assert victim["id"] in executions.rerun
    assert executions.successes[victim["id"]] == 1, "the killed execution never finished"
    assert counts.duplicated == 0


def test_kill9_of_a_whole_worker_redelivers_after_the_visibility_timeout(server: FaultRedis) -> None:
    settings = fault_settings(server, visibility_timeout_s=5)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    count = 16
    with fault_worker(app, settings, "prefork", 2, QUEUE, label="kill-worker") as (worker, _):
        batch = submit_batch(app, WorkloadArgs("io_sleep", 500), count, QUEUE)
        wait_until(lambda: len(started_events(backend, batch.task_ids)) >= 3, 60, "three tasks to start")
        family = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
        for pid in family:  # the whole worker at once, as an OOM kill or a lost container would
            kill9(pid)
        psutil.wait_procs([psutil.Process(pid) for pid in family if psutil.pid_exists(pid)], timeout=30)
    held = int(broker.hlen("unacked"))
    assert held > 0, "the dead worker's delivered tasks wait in the unacked hash"
    with fault_worker(app, settings, "prefork", 2, QUEUE, label="kill-worker-again"):
        collected = collect(backend, broker, batch.task_ids, QUEUE)
    counts, _ = count_outcome("kill -9 whole worker, restart", batch, collected, backend)
    assert (counts.completed, counts.failed, counts.lost) == (count, 0, 0), collected.failures
    assert counts.rerun >= 1, "the tasks running at the kill ran again"


def test_sigterm_finishes_running_tasks_and_returns_prefetched_ones(server: FaultRedis) -> None:
    # A long visibility timeout: whatever comes back must come back by the warm shutdown itself.
    settings = fault_settings(server, visibility_timeout_s=3600, prefetch_multiplier=4)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    count = 14
    with fault_worker(app, settings, "prefork", 2, QUEUE, label="sigterm") as (worker, _):
        batch = submit_batch(app, WorkloadArgs("io_sleep", 1500), count, QUEUE)
        wait_until(lambda: len(started_events(backend, batch.task_ids)) >= 2, 60, "two tasks to start")
        wait_until(lambda: int(broker.hlen("unacked")) > 2, 60, "the worker to prefetch more than it runs")
        prefetched = int(broker.hlen("unacked"))
        running_at_term = {e["id"] for e in started_events(backend, batch.task_ids)}
        psutil.Process(worker.pid).send_signal(signal.SIGTERM)
        psutil.Process(worker.pid).wait(120)
    finished = {e["id"] for e in read_events(backend) if e["event"] == "SUCCESS"}
    assert running_at_term <= finished, "warm shutdown let every running task finish"
    assert int(broker.hlen("unacked")) == 0, "nothing left delivered-but-unacknowledged"
    returned = int(broker.llen(QUEUE))
    assert returned + len(finished) == count, "every task not finished went back to the queue"
    with fault_worker(app, settings, "prefork", 2, QUEUE, label="sigterm-again"):
        collected = collect(backend, broker, batch.task_ids, QUEUE)
    counts, _ = count_outcome(
        f"SIGTERM (warm shutdown; {prefetched} held, {returned} returned)", batch, collected, backend
    )
    assert (counts.completed, counts.failed, counts.lost) == (count, 0, 0), collected.failures
    assert (counts.duplicated, counts.rerun) == (0, 0), "a warm shutdown runs nothing twice"
    assert returned > 0
    assert backend.llen(EXECUTIONS_KEY) == 2 * count


def test_execution_log_is_off_unless_enabled(server: FaultRedis) -> None:
    settings = fault_settings(server, execution_log=False)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    with fault_worker(app, settings, "threads", 2, "threads", label="no-log"):
        task_ids = [app.send_task("lab.noop", kwargs={"size": 0}, queue="threads").id for _ in range(3)]
        collected = collect(backend, broker, task_ids, "threads")
    assert len(collected.records) == 3
    assert backend.exists(EXECUTIONS_KEY) == 0
