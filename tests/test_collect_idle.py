"""Lost-task detection against a real Redis: only this batch's unacknowledged messages keep it waiting."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from producer.batch.collect import broker_idle, collect_results
from producer.processes.redis_server import RedisProcess

#: Databases of the session's private Redis that no worker uses.
BROKER_DB, BACKEND_DB = 7, 8


@pytest.fixture
def clients(redis_server: RedisProcess) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    """Broker and backend clients on databases no worker reads, emptied before and after."""
    base = redis_server.url.rsplit("/", 1)[0]
    broker, backend = redis.Redis.from_url(f"{base}/{BROKER_DB}"), redis.Redis.from_url(f"{base}/{BACKEND_DB}")
    for client in (broker, backend):
        client.flushdb()
    yield broker, backend
    for client in (broker, backend):
        client.flushdb()


def _unacked_entry(task_id: str) -> str:
    return json.dumps([{"headers": {"id": task_id}, "body": ""}, "", "prefork"])


def test_only_this_batchs_unacked_messages_count(clients: tuple[redis.Redis, redis.Redis]) -> None:
    broker, _ = clients
    broker.hset("unacked", "tag-foreign", _unacked_entry("other-batch-0"))
    broker.hset("unacked", "tag-garbage", "not json")
    assert broker_idle(broker, "prefork", {"b-1"})
    assert not broker_idle(broker, "prefork"), "without task ids every unacked entry counts"
    broker.hset("unacked", "tag-ours", _unacked_entry("b-1"))
    assert not broker_idle(broker, "prefork", {"b-1"})
    broker.lpush("prefork", "queued message")
    assert not broker_idle(broker, "prefork", {"b-9"}), "a non-empty queue is never idle"


def test_lost_tasks_are_reported_despite_a_foreign_unacked_entry(clients: tuple[redis.Redis, redis.Redis]) -> None:
    broker, backend = clients
    broker.hset("unacked", "tag-foreign", _unacked_entry("other-batch-0"))
    record = {"workload": "noop", "enqueued": 1.0, "started": 1.0, "finished": 1.0}
    backend.set("celery-task-meta-b-0", json.dumps({"status": "SUCCESS", "result": record}))
    collected = collect_results(backend, ["b-0", "b-1"], timeout_s=120, broker=broker, queue="prefork",
                                idle_grace_s=0.2)
    assert collected.records == [record]
    assert collected.lost == ["b-1"]
