"""Faults on RabbitMQ with real processes: kill -9 a prefork child, kill -9 a whole worker, the node restarted.

Counted as the Redis fault tests count (submitted / completed / duplicated / lost, in
test-artifacts/fault-counts.jsonl with ``"broker": "rabbitmq"``). The node is this module's own (it
is stopped and started by PID); results and the execution log stay in Redis.

What differs from Redis, measured here: a dead worker's unacknowledged tasks go back to the queue as
soon as RabbitMQ sees its connection close (no visibility timeout; the time is recorded as
``requeued_after_s``), and a node restart keeps durable queues and persistent messages.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from config.settings import LabSettings
from producer.batch.outage import OutageGuard
from producer.batch.recovery import collect_with_recovery
from producer.batch.run import result_backend
from producer.batch.submit import submit_batch
from producer.broker import open_broker
from producer.errors import LabError
from producer.processes import children as processes
from tests.faults import collect, count_outcome, fault_app, fault_worker, kill9, started_events, wait_until
from tests.rabbitmq import PrivateRabbit, empty, private_rabbit, rabbit_settings
from tests.test_reliability_worker import _running
from worker.task_args import WorkloadArgs

DB = 14
COUNT = 30
#: Stop the node inside the send callback after this many tasks (publishing in chunks of 5).
STOP_AFTER, CHUNK = 10, 5
STOPS = {"restart (SIGTERM)": signal.SIGTERM, "crash (kill -9 beam.smp)": signal.SIGKILL}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    """This module's own node: restarted by the tests, so nobody else's."""
    with private_rabbit(tmp_path_factory.mktemp("rabbitmq-faults")) as running:
        yield running


def _settings(server: PrivateRabbit, **overrides: Any) -> LabSettings:
    if server.child is None or not processes.is_running(server.child):
        server.start()  # a test that failed half-way left it stopped
    settings = rabbit_settings(server, DB, **overrides)
    empty(settings)
    return settings


def test_kill9_of_a_prefork_child_mid_task_runs_the_task_again(server: PrivateRabbit) -> None:
    settings = _settings(server)
    app = fault_app(settings)
    backend = result_backend(settings)
    broker = open_broker(settings)
    with fault_worker(app, settings, "prefork", 2, "prefork", label="mq-kill-child") as (worker, _):
        batch = submit_batch(app, WorkloadArgs("io_sleep", 2000), 6, "prefork")
        victim = wait_until(lambda: _running(backend, batch.task_ids), 60, "a task to start")
        assert psutil.Process(victim["pid"]).ppid() == worker.pid, "the task runs in a pool child"
        kill9(victim["pid"])
        collected = collect(backend, broker, batch.task_ids, "prefork")
    counts, executions = count_outcome("kill -9 prefork child", batch, collected, backend, broker="rabbitmq")
    assert (counts.completed, counts.failed, counts.lost) == (6, 0, 0), collected.failures
    assert victim["id"] in executions.rerun
    assert executions.successes[victim["id"]] == 1, "the killed execution never finished"


def test_kill9_of_a_whole_worker_requeues_its_tasks_when_its_connection_closes(server: PrivateRabbit) -> None:
    settings = _settings(server)
    app = fault_app(settings)
    backend = result_backend(settings)
    broker = open_broker(settings)
    count = 16
    with fault_worker(app, settings, "prefork", 2, "prefork", label="mq-kill-worker") as (worker, _):
        batch = submit_batch(app, WorkloadArgs("io_sleep", 500), count, "prefork")
        wait_until(lambda: len(started_events(backend, batch.task_ids)) >= 3, 60, "three tasks to start")
        family = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
        ready_before = broker.depth("prefork")
        killed_at = time.monotonic()
        for pid in family:  # the whole worker at once, as an OOM kill or a lost container would
            kill9(pid)
        back = wait_until(lambda: broker.depth("prefork") > ready_before, 60, "the held tasks back in the queue")
        requeued_after_s = time.monotonic() - killed_at
        psutil.wait_procs([psutil.Process(pid) for pid in family if psutil.pid_exists(pid)], timeout=30)
    assert back and broker.counts("prefork").consumers == 0
    with fault_worker(app, settings, "prefork", 2, "prefork", label="mq-kill-worker-again"):
        collected = collect(backend, broker, batch.task_ids, "prefork")
    counts, _ = count_outcome(
        "kill -9 whole worker, restart",
        batch,
        collected,
        backend,
        broker="rabbitmq",
        requeued_after_s=round(requeued_after_s, 3),
        redis_visibility_timeout_s=LabSettings().visibility_timeout_s,
    )
    assert (counts.completed, counts.failed, counts.lost) == (count, 0, 0), collected.failures
    assert counts.rerun >= 1, "the tasks running at the kill ran again"


def _restart_mid_batch(server: PrivateRabbit, stop: str, mode: str) -> dict[str, Any]:
    """Prefork and threads workers of ``mode``; the node stops inside the 10th send and is started again."""
    settings = _settings(server, celery_mode=mode)
    app = fault_app(settings)
    backend = result_backend(settings)
    broker = open_broker(settings)
    sent: list[int] = []
    restarts: list[threading.Thread] = []

    def stop_at_ten(n: int) -> None:
        sent.append(n)
        if sum(sent) >= STOP_AFTER and not restarts:
            server.stop(STOPS[stop])
            restarts.append(threading.Thread(target=server.start, name="rabbitmq-restart"))
            restarts[0].start()

    with (
        fault_worker(app, settings, "prefork", 2, "prefork", label=f"mq-{mode}-prefork") as (prefork, _),
        fault_worker(app, settings, "threads", 8, "threads", label=f"mq-{mode}-threads") as (threads, _),
    ):
        in_flight = submit_batch(app, WorkloadArgs("io_sleep", 200), COUNT, "threads")
        publishing = submit_batch(
            app, WorkloadArgs("io_sleep", 200), COUNT, "prefork", on_sent=stop_at_ten, chunk=CHUNK, outage=OutageGuard()
        )
        restarts[0].join(120)
        recovered = {
            queue: collect_with_recovery(app, backend, broker, batch, timeout_s=120, idle_grace_s=10)
            for queue, batch in (("prefork", publishing), ("threads", in_flight))
        }
        after = {queue: submit_batch(app, WorkloadArgs("noop", 0), 10, queue) for queue in ("prefork", "threads")}
        after_collected = {q: collect(backend, broker, b.task_ids, q, 90, idle_grace_s=20) for q, b in after.items()}
        alive = {child.role: processes.is_running(child) for child in (prefork, threads)}
        logs = {child.role: Path(child.log).read_text() for child in (prefork, threads)}
    counts = {}
    for queue, batch, what in (("prefork", publishing, "publishing"), ("threads", in_flight, "in flight")):
        collected, again = recovered[queue]
        counts[queue], _ = count_outcome(
            f"RabbitMQ {stop} mid-batch ({what})", batch, collected, backend, again, mode=mode, broker="rabbitmq"
        )
    for queue, outcome in after_collected.items():
        count_outcome(
            f"new work after RabbitMQ {stop} ({queue})", after[queue], outcome, backend, mode=mode, broker="rabbitmq"
        )
    return {"counts": counts, "after": after_collected, "alive": alive, "logs": logs}


@pytest.mark.parametrize("stop", list(STOPS))
def test_rabbitmq_restart_mid_batch_keeps_every_task(server: PrivateRabbit, stop: str) -> None:
    outcome = _restart_mid_batch(server, stop, "lab")
    for role, log in outcome["logs"].items():
        assert "Connection to broker lost" in log, f"{role} saw the broker go away"
        assert "Unrecoverable error" not in log, role
    for queue, counts in outcome["counts"].items():
        assert (counts.submitted, counts.completed, counts.failed, counts.lost) == (COUNT, COUNT, 0, 0), queue
        assert counts.republished == 0, "nothing re-published on RabbitMQ"
    for queue, after in outcome["after"].items():
        assert (len(after.records), len(after.lost)) == (10, 0), queue
    assert all(outcome["alive"].values()), outcome["alive"]


def test_rabbitmq_restart_mid_batch_on_stock_celery_is_counted(server: PrivateRabbit) -> None:
    """Stock Celery and kombu under the crash: counted (recorded, printed); only what holds every run is asserted."""
    outcome = _restart_mid_batch(server, "crash (kill -9 beam.smp)", "stock")
    for counts in outcome["counts"].values():
        assert counts.submitted == COUNT and counts.completed + counts.failed + counts.lost <= COUNT
    print("stock workers alive after the RabbitMQ crash:", outcome["alive"])


def test_rabbitmq_gone_for_good_makes_publishing_fail_with_a_count(server: PrivateRabbit) -> None:
    settings = _settings(server, publish_retries=2)
    app = fault_app(settings)
    progress: list[int] = []

    def stop_at_five(sent: int) -> None:
        progress.append(sent)
        if sum(progress) == 5:
            server.stop(signal.SIGKILL)

    try:
        with pytest.raises(LabError) as failure:
            submit_batch(
                app, WorkloadArgs("noop", 0), 20, "prefork", on_sent=stop_at_five, chunk=CHUNK, outage=OutageGuard(2.0)
            )
    finally:
        server.start()
    message = str(failure.value)
    assert message.startswith("publishing failed after 5 of 20 tasks:"), message
    assert server.node.password not in message
