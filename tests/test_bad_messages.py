"""Bad input reaching a real worker: hand-made queue entries (malformed, pickle, wrong shape) and
oversized arguments. In lab mode each is refused and logged; the worker keeps running and serves the
next task. On stock Celery and kombu one malformed entry stops the worker that pops it.

The entries are ``LPUSH``ed straight into the queue, in kombu's Redis envelope format, built from a
real envelope the producer wrote.
"""

from __future__ import annotations

import base64
import copy
import json
import pathlib
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients
from producer.processes import children as processes
from tests.faults import FaultRedis, fault_app, fault_redis, fault_settings, fault_worker, wait_until
from tests.helpers import ROOT, child_env

GOOD_BODY = json.dumps([[], {"size": 0}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that a pickle message was (or was not) deserialised."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """This module's own redis-server."""
    with fault_redis(tmp_path_factory.mktemp("redis-bad-messages")) as running:
        yield running


def _envelope_template(app: Any, broker: redis.Redis, queue: str) -> dict[str, Any]:
    """A real kombu envelope, as the producer writes it (nobody consumes ``queue`` yet)."""
    app.send_task("lab.noop", kwargs={"size": 0}, queue=queue, task_id="template")
    template = json.loads(broker.rpop(queue))
    return template  # type: ignore[no-any-return]


def _envelope(
    template: dict[str, Any], task_id: str, body: bytes, content_type: str = "application/json", task: str = "lab.noop"
) -> str:
    message = copy.deepcopy(template)
    message["headers"].update(id=task_id, task=task)
    message["properties"].update(correlation_id=task_id, delivery_tag=f"{task_id}-tag")
    message["content-type"] = content_type
    message["body"] = base64.b64encode(body).decode()
    return json.dumps(message)


def _bad_entries(template: dict[str, Any], marker: Path) -> dict[str, tuple[str, str]]:
    """name → (raw queue entry, the worker's log line that proves it was refused)."""
    payload = pickle.dumps(((), {"size": _TouchOnUnpickle(marker)}, {}))
    return {
        "not JSON": ("this is not json {", "malformed message in queue"),
        "JSON, not an envelope": ('{"hello": "world"}', "no properties.delivery_tag"),
        "pickle body": (
            _envelope(template, "bad-pickle", payload, "application/x-python-serialize"),
            "Refusing to deserialize untrusted content of type pickle",
        ),
        "yaml body": (
            _envelope(template, "bad-yaml", b"size: 1", "application/x-yaml"),
            "Refusing to deserialize untrusted content of type yaml",
        ),
        "body not JSON": (_envelope(template, "bad-json", b"{not json"), "Can't decode message body"),
        "body of the wrong shape": (
            _envelope(template, "bad-shape", b"[1, 2]"),
            "Received invalid task message: not enough values to unpack",
        ),
        "integer beyond 4300 digits": (
            _envelope(template, "bad-bigint", f'[[], {{"size": {"9" * 5000}}}, {{}}]'.encode()),
            "Exceeds the limit (4300 digits)",
        ),
        "unknown task": (
            _envelope(template, "bad-unknown", GOOD_BODY.encode(), task="lab.no_such_task"),
            "Received unregistered task of type 'lab.no_such_task'",
        ),
    }


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_in_lab_mode_bad_queue_entries_are_refused_logged_and_the_worker_serves_the_next_task(
    server: FaultRedis, tmp_path: Path, pool: str
) -> None:
    settings = fault_settings(server, execution_log=False, celery_mode="lab")
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    queue = f"bad-{pool}"
    marker = tmp_path / "pickle-was-unpickled"
    entries = _bad_entries(_envelope_template(app, broker, queue), marker)
    with fault_worker(app, settings, pool, 2, queue, label=f"bad-{pool}") as (worker, _):
        for name, (raw, _) in entries.items():
            broker.lpush(queue, raw)
            follow_up = app.send_task("lab.noop", kwargs={"size": 0}, queue=queue).id
            collected = collect_results(backend, [follow_up], timeout_s=60)
            assert len(collected.records) == 1, f"the worker stopped serving after: {name}"
        assert processes.is_running(worker)
        assert (broker.llen(queue), broker.hlen("unacked")) == (0, 0), "every bad entry was consumed and acked"
    log = Path(worker.log).read_text()
    for name, (_, proof) in entries.items():
        assert proof in log, f"no log line for: {name}"
    assert "Unrecoverable error" not in log
    assert not marker.exists(), "the pickle payload was never unpickled"
    for task_id in ("bad-pickle", "bad-yaml", "bad-json", "bad-shape", "bad-bigint"):
        assert backend.get(f"celery-task-meta-{task_id}") is None, f"{task_id} never ran"
    unknown = json.loads(backend.get("celery-task-meta-bad-unknown"))
    assert (unknown["status"], unknown["result"]["exc_type"]) == ("FAILURE", "NotRegistered")


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_on_stock_celery_one_malformed_queue_entry_stops_the_worker(server: FaultRedis, pool: str) -> None:
    """The evidence for the lab transport's quarantine: stock kombu raises inside the consumer loop and
    Celery exits ("Unrecoverable error"); the entry was already popped, so it stops one worker each."""
    settings = fault_settings(server, execution_log=False, celery_mode="stock")
    app = fault_app(settings)
    broker, _ = redis_clients(settings)
    queue = f"bad-stock-{pool}"
    with fault_worker(app, settings, pool, 2, queue, label=f"bad-stock-{pool}") as (worker, _):
        broker.lpush(queue, "this is not json {")
        exited = wait_until(lambda: not processes.is_running(worker), 60, "the stock worker to exit")
    log = Path(worker.log).read_text()
    print(f"[stock] {pool}: one malformed entry, worker exited: {exited}")
    assert "Unrecoverable error" in log and "JSONDecodeError" in log


def test_bad_and_oversized_arguments_are_refused_by_the_task_with_a_short_reason(server: FaultRedis) -> None:
    settings = fault_settings(server, execution_log=False)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    huge = "x" * 100_000
    sends = {
        "url above max_arg_bytes": ("lab.io_http", {"size": 1, "url": "http://127.0.0.1/" + "a" * 5000}),
        "size as a 100 kB string": ("lab.cpu", {"size": huge}),
        "enqueued as a 100 kB string": ("lab.noop", {"size": 0, "enqueued": huge}),
        "an unexpected keyword": ("lab.noop", {"size": 0, "evil": 1}),
    }
    with fault_worker(app, settings, "threads", 4, "threads", label="bad-args"):
        ids = {name: app.send_task(task, kwargs=kwargs, queue="threads").id for name, (task, kwargs) in sends.items()}
        collected = collect_results(backend, list(ids.values()), timeout_s=60, broker=broker, queue="threads")
    assert not collected.records and not collected.lost
    reasons = {name: collected.failures[task_id] for name, task_id in ids.items()}
    assert reasons["url above max_arg_bytes"].startswith("BadTaskArgs: url is 5017 bytes, above the cap 4096")
    assert reasons["size as a 100 kB string"].startswith("BadTaskArgs: size must be a non-negative integer")
    assert reasons["enqueued as a 100 kB string"].startswith("BadTaskArgs: enqueued must be a timestamp")
    unexpected = reasons["an unexpected keyword"]
    assert unexpected.startswith("TypeError: ") and "got an unexpected keyword argument 'evil'" in unexpected
    assert all(len(reason) < 300 for reason in reasons.values()), "a refused value is quoted, not echoed"


def test_the_producer_refuses_an_oversized_url_before_sending() -> None:
    command = [
        sys.executable,
        "-m",
        "producer",
        "submit",
        "--workload",
        "io_http",
        "--count",
        "1",
        "--url",
        "http://127.0.0.1/" + "a" * 5000,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=child_env(), cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip() == "producer: error: url is 5017 bytes, above the cap 4096"
