"""Every command on RabbitMQ (``LAB_BROKER_URL=amqp://…``), against the session's private node, real workers.

Results stay in Redis (a database of the session's redis-server). Nothing here touches the machine's
RabbitMQ on 5672.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Queue

from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.recovery import collect_with_recovery
from producer.batch.run import result_backend
from producer.batch.submit import submit_batch
from producer.broker import open_broker
from producer.processes import fleet
from tests.faults import fault_app, fault_worker, worker_env
from tests.helpers import ROOT
from tests.rabbitmq import PrivateRabbit, empty, rabbit_settings, wait_for_counts
from worker.task_args import WorkloadArgs

DB = 12


@pytest.fixture(scope="module")
def settings_mq(rabbitmq: PrivateRabbit, tmp_path_factory: pytest.TempPathFactory) -> LabSettings:
    """The session node as broker, results in Redis database 12, records in a temporary directory."""
    values = rabbit_settings(rabbitmq, DB, execution_log=False).model_dump()
    values["results_dir"] = tmp_path_factory.mktemp("results-mq")
    settings = LabSettings(**values)
    empty(settings)
    return settings


@pytest.fixture(scope="module")
def app(settings_mq: LabSettings) -> Celery:
    """A producer-side app configured as the workers are."""
    return fault_app(settings_mq)


@pytest.fixture(scope="module")
def threads_worker(app: Celery, settings_mq: LabSettings) -> Iterator[str]:
    """A threads worker (-c 8) on the threads queue over AMQP."""
    with fault_worker(app, settings_mq, "threads", 8, "threads", label="mq-threads") as (_, node):
        yield node


def _producer(settings: LabSettings, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "producer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=worker_env(settings),
        cwd=ROOT,
    )


def test_submit_on_rabbitmq_runs_every_task_and_says_which_broker(
    settings_mq: LabSettings, threads_worker: str
) -> None:
    done = _producer(settings_mq, "submit", "--workload", "noop", "--count", "300", "--pool", "threads", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["submitted"], summary["completed"], summary["lost"]) == (300, 300, 0)
    assert summary["broker"] == "rabbitmq"


def test_the_batch_is_confirmed_persistent_and_celerys_own_message(app: Celery, settings_mq: LabSettings) -> None:
    queue = "mq-shape"
    broker = open_broker(settings_mq)
    try:
        batch = submit_batch(app, WorkloadArgs("noop", 0), 250, queue, chunk=100)
        # Confirmed publishing: when submit returns, RabbitMQ holds every message.
        assert broker.depth(queue) == 250
        app.send_task("lab.noop", kwargs={"size": 0, "enqueued": 1.0}, queue=queue, task_id="by-send-task")
        with Connection(settings_mq.broker_url) as connection:
            simple = connection.SimpleQueue(Queue(queue, durable=True), no_ack=False)
            ours = simple.get(timeout=10)
            for _ in range(249):
                simple.get(timeout=10).ack()
            celerys = simple.get(timeout=10)
            for message in (ours, celerys):
                message.ack()
            simple.close()
    finally:
        broker.drop_queue(queue)
        broker.close()
    assert ours.headers["id"] == batch.task_ids[0] and celerys.headers["id"] == "by-send-task"
    assert set(ours.headers) == set(celerys.headers), "the same protocol v2 headers as send_task"
    for field in ("task", "lang", "argsrepr", "ignore_result"):
        assert ours.headers[field] == celerys.headers[field], field
    assert ours.content_type == celerys.content_type == "application/json"
    assert ours.properties["delivery_mode"] == celerys.properties["delivery_mode"] == 2, "persistent"
    args, kwargs, embed = ours.decode()
    assert args == [] and set(kwargs) == {"size", "enqueued"} and "callbacks" in embed


def test_unfinished_tasks_are_counted_queued_held_or_lost(app: Celery, settings_mq: LabSettings) -> None:
    backend = result_backend(settings_mq)
    broker = open_broker(settings_mq)
    try:
        # Nobody consumes this queue: every task is pending in it, none is lost.
        waiting = submit_batch(app, WorkloadArgs("noop", 0), 20, "mq-nobody")
        nobody = collect_results(backend, waiting.task_ids, timeout_s=1, broker=broker, queue="mq-nobody")
        assert (len(nobody.queued), len(nobody.unacked), len(nobody.lost)) == (20, 0, 0)
        # A worker holds what it runs and what it prefetched: unacknowledged (counted by rabbitmqctl).
        with fault_worker(app, settings_mq, "threads", 2, "mq-held", label="mq-held"):
            held = submit_batch(app, WorkloadArgs("io_sleep", 3000), 6, "mq-held")
            wait_for_counts(settings_mq, "mq-held", lambda c: c.ready == 0 and c.unacked == 6, 60, "6 unacked")
            holding = collect_results(backend, held.task_ids, timeout_s=0.5, broker=broker, queue="mq-held")
            assert (len(holding.queued), len(holding.unacked), len(holding.lost)) == (0, 6, 0)
            finished = collect_results(backend, held.task_ids, timeout_s=120, broker=broker, queue="mq-held")
            assert len(finished.records) == 6
        # Messages the broker no longer has (purged here, as a broker that lost them would): lost, never re-sent.
        gone = submit_batch(app, WorkloadArgs("noop", 0), 10, "mq-lost")
        assert broker.purge("mq-lost") == 10
        collected, republished = collect_with_recovery(app, backend, broker, gone, timeout_s=30, idle_grace_s=1)
        assert (len(collected.lost), republished) == (10, 0), "on RabbitMQ the producer re-publishes nothing"
    finally:
        for queue in ("mq-nobody", "mq-held", "mq-lost"):
            broker.drop_queue(queue)
        broker.close()


def test_purging_a_queue_that_does_not_exist_is_zero(app: Celery, settings_mq: LabSettings) -> None:
    broker = open_broker(settings_mq)
    try:
        assert broker.purge("mq-never-declared") == 0
        assert fleet.purge_queue(app, "mq-never-declared") == 0
        submit_batch(app, WorkloadArgs("noop", 0), 7, "mq-purge")
        assert fleet.purge_queue(app, "mq-purge") == 7
        assert broker.counts("mq-purge").ready == 0
    finally:
        broker.drop_queue("mq-purge")
        broker.close()


def test_watch_sees_the_task_events_on_rabbitmq(settings_mq: LabSettings, threads_worker: str) -> None:
    command = [sys.executable, "-m", "producer", "watch", "--once", "--window", "6", "--json"]
    watching = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=worker_env(settings_mq), cwd=ROOT
    )
    try:
        time.sleep(2.0)  # the watcher binds its event queue before the batch
        sent = _producer(settings_mq, "submit", "--workload", "noop", "--count", "200", "--pool", "threads")
        assert sent.returncode == 0, sent.stderr
        stdout, stderr = watching.communicate(timeout=60)
    finally:
        if watching.poll() is None:
            watching.kill()
    assert watching.returncode == 0, stderr
    snapshot: dict[str, Any] = json.loads(stdout)
    assert snapshot["total"]["succeeded"] >= 1, snapshot["total"]


def test_compare_and_sweep_run_on_rabbitmq(settings_mq: LabSettings, threads_worker: str) -> None:
    compared = _producer(
        settings_mq, "compare", "--workloads", "noop", "--pools", "threads", "--count", "40", "--repeat", "1",
        "--no-baselines", "--json", timeout=300,
    )  # fmt: skip
    assert compared.returncode == 0, compared.stderr
    record = json.loads(compared.stdout)
    assert record["environment"]["settings"]["broker_url"].startswith("amqp://")
    assert all(run["lost"] == 0 and run["failed"] == 0 for run in record["runs"])
    swept = _producer(
        settings_mq, "sweep", "--workload", "noop", "--pool", "threads", "--concurrency", "2", "--count", "60",
        "--json", timeout=300,
    )  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    points = json.loads(swept.stdout)["points"]
    assert [p["completed"] for p in points] == [60]
    leftovers = [q for q in _queue_names(settings_mq) if q.startswith("sweep")]
    assert not leftovers, "sweep deletes its per-run queues on RabbitMQ"


def _queue_names(settings: LabSettings) -> list[str]:
    from producer.processes.rabbitmq_server import RabbitNode, rabbitmqctl

    node = RabbitNode.load(settings.rabbitmq_node_path)
    assert node is not None
    return [row["name"] for row in json.loads(rabbitmqctl(node, "list_queues", "name", "--formatter", "json"))]
