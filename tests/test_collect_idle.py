"""Lost-task detection against a real Redis: only this batch's unacknowledged messages keep it waiting."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from producer.batch.collect import collect_results
from producer.batch.pending import broker_idle
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
    collected = collect_results(
        backend, ["b-0", "b-1"], timeout_s=120, broker=broker, queue="prefork", idle_grace_s=0.2
    )
    assert collected.records == [record]
    assert collected.lost == ["b-1"]


def _queued_message(task_id: str) -> str:
    # kombu's envelope: base64 body first, then headers (whose "id" is the task id), then properties.
    return json.dumps(
        {
            "body": "W10=",
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "lab.noop", "id": task_id},
            "properties": {"correlation_id": task_id, "delivery_tag": f"tag-{task_id}"},
        }
    )


def test_unfinished_tasks_are_split_into_queued_unacknowledged_and_lost(
    clients: tuple[redis.Redis, redis.Redis],
) -> None:
    from producer.batch.pending import PAGE, PRIORITY_SEP, locate_unfinished

    broker, _ = clients
    # More than one page of queued messages, one on a priority list, and a foreign one.
    broker.lpush("threads", *(_queued_message(f"b-{i}") for i in range(PAGE + 5)), _queued_message("other-0"))
    broker.lpush(f"threads{PRIORITY_SEP}3", _queued_message("b-prio"))
    broker.hset("unacked", "tag-held", _unacked_entry("b-held"))
    broker.zadd("unacked_index", {"tag-held": 1000.0})
    broker.hset("unacked", "tag-foreign", _unacked_entry("other-1"))
    wanted = ["b-0", f"b-{PAGE + 4}", "b-prio", "b-held", "b-gone"]
    where = locate_unfinished(broker, "threads", wanted, visibility_timeout_s=3600)
    assert where.queued == ["b-0", f"b-{PAGE + 4}", "b-prio"]
    assert where.unacked == ["b-held"] and where.unacked_back_at == 4600.0
    assert where.lost == ["b-gone"]


def test_collect_reports_queued_tasks_as_pending_not_lost(clients: tuple[redis.Redis, redis.Redis]) -> None:
    broker, backend = clients
    broker.lpush("nobody", _queued_message("q-0"))
    collected = collect_results(backend, ["q-0", "q-1"], timeout_s=0.3, broker=broker, queue="nobody")
    assert (collected.queued, collected.unacked, collected.lost) == (["q-0"], [], ["q-1"])
    assert collected.unfinished == ["q-0", "q-1"]


def test_an_outage_longer_than_the_bound_raises_one_line(redis_server: RedisProcess) -> None:
    from producer.batch.outage import OutageGuard, OutageTooLong
    from producer.processes.redis_server import free_port

    said: list[str] = []
    guard = OutageGuard(0.3, say=said.append)
    closed = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))  # fail at once
    with pytest.raises(OutageTooLong) as failure:
        guard.call(closed.ping)
    assert str(failure.value).startswith("broker unreachable for ") and "LAB_OUTAGE_RETRY_S=0.3" in str(failure.value)
    assert len(said) == 1 and "retrying for up to 0.3 s (LAB_OUTAGE_RETRY_S)" in said[0]
    # The same guard, Redis answering again: the outage ends and is counted.
    guard = OutageGuard(30, say=said.append)
    base = redis_server.url.rsplit("/", 1)[0]
    attempts: list[int] = []

    def ping_once_refused() -> object:
        attempts.append(1)
        return (closed if len(attempts) == 1 else redis.Redis.from_url(f"{base}/{BROKER_DB}")).ping()

    assert guard.call(ping_once_refused) is True
    assert guard.outages == 1 and said[-1].startswith("broker back after ")
