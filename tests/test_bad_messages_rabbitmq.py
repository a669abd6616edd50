"""Bad messages published raw to RabbitMQ (malformed, pickle, YAML, wrong shape, unknown task, no Celery headers).

Each is published with py-amqp's own ``basic.publish`` into a lab queue, then a good task follows: in
lab mode the worker refuses the bad one without running it and serves the next. AMQP frames every
message, so there is no "malformed queue entry" as on Redis; but stock Celery still exits on a body of
the wrong shape, and on RabbitMQ that message comes back for the next worker. Outcomes go to
test-artifacts/fault-counts.jsonl.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import amqp
import pytest
from kombu import Connection

from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import result_backend
from producer.broker import open_broker
from producer.processes import children as processes
from producer.processes import roles
from tests.faults import COUNTS_FILE, fault_app, fault_worker, wait_until, worker_env
from tests.helpers import LOG_DIR
from tests.rabbitmq import PrivateRabbit, empty, rabbit_settings, wait_for_counts

DB = 15
GOOD_BODY = [[], {"size": 0}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that a pickle message was (or was not) deserialised."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


def _headers(task_id: str, task: str = "lab.noop") -> dict[str, Any]:
    """Celery's protocol v2 headers for ``task`` (what ``as_task_v2`` writes, trimmed to what the worker reads)."""
    return {
        "lang": "py", "task": task, "id": task_id, "root_id": task_id, "parent_id": None, "group": None,
        "shadow": None, "eta": None, "expires": None, "retries": 0, "timelimit": [None, None],
        "argsrepr": "()", "kwargsrepr": "{}", "origin": "test", "ignore_result": False,
    }  # fmt: skip


def _bad_messages(marker: Path) -> dict[str, tuple[bytes, str, dict[str, Any] | None]]:
    """name → (body, content type, headers)."""
    payload = pickle.dumps(((), {"size": _TouchOnUnpickle(marker)}, {}))
    return {
        "body not JSON": (b"{not json", "application/json", _headers("bad-json")),
        "pickle body": (payload, "application/x-python-serialize", _headers("bad-pickle")),
        "yaml body": (b"size: 1", "application/x-yaml", _headers("bad-yaml")),
        "body of the wrong shape": (b"[1, 2]", "application/json", _headers("bad-shape")),
        "integer beyond 4300 digits": (
            f'[[], {{"size": {"9" * 5000}}}, {{}}]'.encode(),
            "application/json",
            _headers("bad-bigint"),
        ),
        "unknown task": (json.dumps(GOOD_BODY).encode(), "application/json", _headers("bad-unknown", "lab.nope")),
        "no Celery headers": (b'{"hello": "world"}', "application/json", None),
    }


def _publish_raw(url: str, queue: str, body: bytes, content_type: str, headers: dict[str, Any] | None) -> None:
    """One message through py-amqp's ``basic.publish``: nothing of Celery's or kombu's producer on the way."""
    with Connection(url) as connection:
        channel = connection.channel()
        message = amqp.Message(
            body, content_type=content_type, content_encoding="utf-8", application_headers=headers, delivery_mode=2
        )
        channel.basic_publish(message, exchange="", routing_key=queue)
        channel.close()


@pytest.fixture(scope="module")
def settings_mq(rabbitmq: PrivateRabbit) -> Iterator[LabSettings]:
    """The session node, results in Redis database 15."""
    yield rabbit_settings(rabbitmq, DB, execution_log=False)


def _record(outcome: dict[str, Any]) -> None:
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with COUNTS_FILE.open("a") as out:
        out.write(json.dumps({"fault": "bad messages published raw", "broker": "rabbitmq", **outcome}) + "\n")
    print(json.dumps(outcome))


def _setup(settings_mq: LabSettings, mode: str, pool: str) -> tuple[LabSettings, str]:
    settings = LabSettings(**{**settings_mq.model_dump(), "celery_mode": mode})
    queue = f"mq-bad-{mode}-{pool}"
    empty(settings, (queue,))
    return settings, queue


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_in_lab_mode_bad_messages_are_refused_and_the_worker_serves_the_next_task(
    settings_mq: LabSettings, tmp_path: Path, pool: str
) -> None:
    settings, queue = _setup(settings_mq, "lab", pool)
    app = fault_app(settings)
    backend = result_backend(settings)
    broker = open_broker(settings)
    marker = tmp_path / "pickle-was-unpickled"
    served: dict[str, bool] = {}
    with fault_worker(app, settings, pool, 2, queue, label=f"mq-bad-lab-{pool}") as (worker, _):
        for name, (body, content_type, headers) in _bad_messages(marker).items():
            _publish_raw(settings.broker_url, queue, body, content_type, headers)
            follow_up = app.send_task("lab.noop", kwargs={"size": 0}, queue=queue).id
            served[name] = len(collect_results(backend, [follow_up], timeout_s=60).records) == 1
        alive = processes.is_running(worker)
        counts = broker.counts(queue)
    broker.drop_queue(queue)
    broker.close()
    log = Path(worker.log).read_text()
    _record(
        {
            "mode": "lab",
            "pool": pool,
            "served_next": served,
            "worker_alive": alive,
            "left": [counts.ready, counts.unacked],
        }
    )
    assert not marker.exists(), "the pickle payload was never unpickled"
    for task_id in ("bad-pickle", "bad-yaml", "bad-json", "bad-shape", "bad-bigint"):
        assert backend.get(f"celery-task-meta-{task_id}") is None, f"{task_id} never ran"
    assert all(served.values()) and alive, served
    assert (counts.ready, counts.unacked) == (0, 0), "every bad message was consumed and settled"
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert "Received invalid task message: not enough values to unpack" in log
    assert "Unrecoverable error" not in log
    unknown = json.loads(backend.get("celery-task-meta-bad-unknown"))
    assert (unknown["status"], unknown["result"]["exc_type"]) == ("FAILURE", "NotRegistered")


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_on_stock_celery_a_body_of_the_wrong_shape_is_a_poison_message(
    settings_mq: LabSettings, tmp_path: Path, pool: str
) -> None:
    """Stock Celery refuses undecodable, pickle and YAML bodies and goes on; a body of the wrong shape raises in
    its consumer ("Unrecoverable error") and the worker exits. Unlike Redis, where the entry was already popped,
    RabbitMQ requeues it with the dead worker's connection: the next stock worker takes it and exits too."""
    settings, queue = _setup(settings_mq, "stock", pool)
    app = fault_app(settings)
    backend = result_backend(settings)
    broker = open_broker(settings)
    marker = tmp_path / "pickle-was-unpickled"
    messages = _bad_messages(marker)
    served: dict[str, bool] = {}
    with fault_worker(app, settings, pool, 2, queue, label=f"mq-bad-stock-{pool}") as (worker, _):
        for name in ("body not JSON", "pickle body", "yaml body"):
            _publish_raw(settings.broker_url, queue, *messages[name])
            follow_up = app.send_task("lab.noop", kwargs={"size": 0}, queue=queue).id
            served[name] = len(collect_results(backend, [follow_up], timeout_s=60).records) == 1
        _publish_raw(settings.broker_url, queue, *messages["body of the wrong shape"])
        first_exit = wait_until(lambda: not processes.is_running(worker), 60, "the stock worker to exit")
    requeued = wait_for_counts(settings, queue, lambda c: c.ready >= 1 and not c.consumers, 60, "the message back")
    # The next worker takes the requeued message before it even answers a ping: started bare, watched by PID.
    name = f"mq-bad-stock-{pool}-again-{uuid.uuid4().hex[:6]}"
    command = roles.worker_command(pool, 2, queue, name, "stock")
    again = processes.spawn(name, command, LOG_DIR / f"{name}.log", worker_env(settings))
    try:
        second_exit = wait_until(lambda: not processes.is_running(again), 60, "the next stock worker to exit")
    finally:
        processes.stop(again)
    broker.drop_queue(queue)
    broker.close()
    _record({"mode": "stock", "pool": pool, "served_next": served, "wrong_shape_stops_worker": first_exit,
             "requeued_ready": requeued.ready, "next_worker_stops_too": second_exit})  # fmt: skip
    assert not marker.exists(), "the pickle payload was never unpickled"
    assert all(served.values()), served
    for log in (Path(worker.log).read_text(), Path(again.log).read_text()):
        assert "Unrecoverable error: ValueError('not enough values to unpack" in log
