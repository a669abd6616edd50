"""The lab mode's classes (worker/lab_transport.py, worker/lab_consumer.py): selected through Celery's seams,
the shared client and the coalesced event flush, with real Redis and a real worker."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import redis
from celery.worker.consumer import Consumer as CeleryConsumer

from producer.batch.collect import collect_results
from producer.batch.run import redis_clients
from producer.batch.submit import submit_batch
from worker.lab_consumer import Consumer
from worker.lab_transport import Channel, QoS, Transport
from worker.task_args import WorkloadArgs


def test_the_lab_app_uses_the_lab_transport_and_consumer(celery_app: Any) -> None:
    assert celery_app.conf.worker_consumer == "worker.lab_consumer:Consumer"
    assert celery_app.conf.broker_transport == "worker.lab_transport:Transport"
    with celery_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        channel = connection.default_channel
        assert isinstance(channel, Channel) and isinstance(channel.qos, QoS)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()
    assert issubclass(Consumer, CeleryConsumer)


def test_every_task_event_still_arrives_with_coalesced_flushes(
    celery_app: Any, settings: Any, prefork_worker: str
) -> None:
    listener = redis.Redis.from_url(settings.broker_url).pubsub()
    listener.psubscribe("*celeryev*")
    listener.get_message(timeout=1.0)
    batch = submit_batch(celery_app, WorkloadArgs("noop", 0), 40, "prefork")
    broker, backend = redis_clients(settings)
    collected = collect_results(backend, batch.task_ids, timeout_s=120, broker=broker, queue="prefork")
    assert len(collected.records) == 40
    wanted = {"task-sent", "task-received", "task-started", "task-succeeded"}
    seen: dict[str, set[str]] = {kind: set() for kind in wanted}
    deadline = time.monotonic() + 30
    while any(seen[kind] != set(batch.task_ids) for kind in wanted) and time.monotonic() < deadline:
        item = listener.get_message(timeout=1.0)
        if item is None or item["type"] != "pmessage":
            continue
        body = json.loads(base64.b64decode(json.loads(item["data"])["body"]))
        for event in body if isinstance(body, list) else [body]:
            if event.get("type") in wanted and event.get("uuid") in batch.task_ids:
                seen[event["type"]].add(event["uuid"])
    listener.close()
    assert {kind: len(ids) for kind, ids in seen.items()} == dict.fromkeys(wanted, 40)
