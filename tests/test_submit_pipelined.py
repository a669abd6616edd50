"""The pipelined publishing path: the exact wire format of ``send_task``, and nothing lost through a real worker."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import redis

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients
from producer.batch.submit import fast_path_supported, submit_batch
from worker.task_args import WorkloadArgs

#: Fields that differ between any two messages (ids, timestamps, random delivery tags).
_VARYING_HEADERS = {"id", "root_id", "kwargsrepr"}
_VARYING_PROPERTIES = {"correlation_id", "delivery_tag"}


def _decoded(raw: bytes) -> dict[str, Any]:
    message = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return dict(message)


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    args, kwargs, embed = message["body"]
    return {
        "headers": {k: v for k, v in message["headers"].items() if k not in _VARYING_HEADERS},
        "properties": {k: v for k, v in message["properties"].items() if k not in _VARYING_PROPERTIES},
        "content": (message["content-type"], message["content-encoding"]),
        "body": (args, sorted(kwargs), embed),
    }


@pytest.mark.parametrize("workload", ["noop", "cpu", "io_http"])
def test_pipelined_message_is_what_send_task_publishes(celery_app: Any, settings: Any, workload: str) -> None:
    queue = f"format-{uuid.uuid4().hex[:8]}"  # consumed by nobody
    url = settings.effective_target_url if workload == "io_http" else ""
    args = WorkloadArgs(workload, 10, url)
    task_name = f"lab.{workload}"
    assert fast_path_supported(celery_app, task_name, queue)
    celery_app.send_task(task_name, kwargs=args.as_kwargs(), queue=queue)  # warm-up: finalises the registry
    broker = redis.Redis.from_url(settings.broker_url)
    broker.delete(queue)
    celery_app.send_task(task_name, kwargs={**args.as_kwargs(), "enqueued": 1.5}, queue=queue, task_id="reference")
    batch = submit_batch(celery_app, args, 3, queue)
    raw = broker.lrange(queue, 0, -1)  # LPUSH: newest first
    broker.delete(queue)
    reference, *pipelined = (_decoded(item) for item in reversed(raw))
    assert [m["headers"]["id"] for m in pipelined] == batch.task_ids
    for message in pipelined:
        assert _comparable(message) == _comparable(reference)
        task_id = message["headers"]["id"]
        assert message["headers"]["root_id"] == message["properties"]["correlation_id"] == task_id
        assert message["headers"]["kwargsrepr"] == repr(message["body"][1])
    assert len({m["properties"]["delivery_tag"] for m in pipelined}) == 3


@pytest.mark.parametrize("pipelined", [True, False])
def test_every_pipelined_task_runs_once_on_a_real_worker(
    celery_app: Any, settings: Any, prefork_worker: str, pipelined: bool
) -> None:
    count = 1234  # not a multiple of the chunk size
    sent: list[int] = []
    batch = submit_batch(
        celery_app, WorkloadArgs("noop", 0), count, "prefork", on_sent=sent.append, pipelined=pipelined, chunk=500
    )
    assert sum(sent) == batch.submitted == count
    assert len(set(batch.task_ids)) == count
    broker, backend = redis_clients(settings)
    collected = collect_results(backend, batch.task_ids, timeout_s=240, broker=broker, queue="prefork")
    assert (len(collected.records), collected.failures, collected.lost) == (count, {}, [])
    assert all(record["hostname"] == prefork_worker for record in collected.records)
    assert broker.llen("prefork") == 0


def test_task_sent_events_are_published_once_per_chunk(celery_app: Any, settings: Any) -> None:
    assert celery_app.conf.task_send_sent_event
    queue = f"events-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(settings.broker_url)
    listener = broker.pubsub()
    listener.psubscribe("*celeryev*")
    listener.get_message(timeout=1.0)  # the psubscribe confirmation
    batch = submit_batch(celery_app, WorkloadArgs("noop", 0), 250, queue, chunk=100)
    broker.delete(queue)
    events: list[dict[str, Any]] = []
    routing_keys = []
    while len(events) < 250:
        item = listener.get_message(timeout=5.0)
        assert item is not None, f"only {len(events)} task-sent events arrived"
        if item["type"] != "pmessage":
            continue
        message = _decoded(item["data"])
        body = message["body"] if isinstance(message["body"], list) else [message["body"]]
        ours = [event for event in body if event.get("uuid") in batch.task_ids]
        if ours:  # other workers' heartbeats and task events share the channel
            routing_keys.append(message["properties"]["delivery_info"]["routing_key"])
            events.extend(ours)
    listener.close()
    assert routing_keys == ["task.multi"] * 3
    assert [event["uuid"] for event in events] == batch.task_ids
    assert {event["type"] for event in events} == {"task-sent"}
    assert {(event["queue"], event["name"]) for event in events} == {(queue, "lab.noop")}
