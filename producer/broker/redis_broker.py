"""Redis as the lab's broker (kombu's Redis transport): task ids are readable in the queue and the unacked hash.

kombu keeps a queue as a list per priority and every delivered-but-unacknowledged message in one
``unacked`` hash per database, so the producer can tell *which* tasks are queued, held or lost
(producer/batch/pending.py), and re-publish what Redis provably lost (producer/batch/recovery.py).
"""

from __future__ import annotations

import time
import uuid

import redis

from producer.batch import pending
from producer.broker.base import BrokerKind, QueueCounts, Whereabouts


class RedisBroker:
    """The :class:`~producer.broker.base.Broker` of a Redis broker, over one redis-py client."""

    kind: BrokerKind = "redis"
    republishes_lost = True

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, connect_timeout_s: float) -> RedisBroker:
        """A broker over a new client for ``url``."""
        return cls(redis.Redis.from_url(url, socket_connect_timeout=connect_timeout_s))

    def ping(self) -> None:
        """``PING`` (raises redis-py's connection errors)."""
        self.client.ping()

    def depth(self, queue: str) -> int:
        """The queue's lists' lengths, all priorities."""
        pipe = self.client.pipeline(transaction=False)
        for key in pending.queue_keys(queue):
            pipe.llen(key)
        return sum(int(n) for n in pipe.execute())

    def counts(self, queue: str) -> QueueCounts:
        """Every priority list's length; the unacked hash counts the whole database (every queue)."""
        pipe = self.client.pipeline(transaction=False)
        for key in pending.queue_keys(queue):
            pipe.llen(key)
        pipe.hlen(pending.UNACKED_KEY)
        *lengths, unacked = pipe.execute()
        return QueueCounts(sum(int(n) for n in lengths), int(unacked), None)

    def idle(self, queue: str, task_ids: set[str] | None = None) -> bool:
        """See :func:`producer.batch.pending.broker_idle`."""
        return pending.broker_idle(self.client, queue, task_ids)

    def locate(self, queue: str, task_ids: list[str], visibility_timeout_s: float) -> Whereabouts:
        """By id: read the queue's lists and the unacked hash (producer/batch/pending.py)."""
        return pending.locate_unfinished(self.client, queue, task_ids, visibility_timeout_s)

    def purge(self, queue: str) -> int:
        """Delete the queue's lists (kombu's ``queue_purge`` does the same)."""
        keys = pending.queue_keys(queue)
        pipe = self.client.pipeline(transaction=True)
        for key in keys:
            pipe.llen(key)
        pipe.delete(*keys)
        *lengths, _ = pipe.execute()
        return sum(int(n) for n in lengths)

    def drop_queue(self, queue: str) -> None:
        """An empty Redis list does not exist: purging is deleting."""
        self.purge(queue)

    def server_cpu_seconds(self) -> float | None:
        """``INFO cpu``: user + system seconds of the Redis server (it runs commands on one core)."""
        try:
            info = self.client.info("cpu")
        except redis.RedisError:
            return None
        return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))

    def probe_rate(self, items: int, pipeline: int) -> float:
        """LPUSH then RPOP ``items`` small messages, pipelined: message round trips per second Redis sustains."""
        key = f"lab:probe:{uuid.uuid4().hex}"
        payload = b"x" * 200
        started = time.perf_counter()
        try:
            for push in (True, False):
                for start in range(0, items, pipeline):
                    pipe = self.client.pipeline(transaction=False)
                    for _ in range(min(pipeline, items - start)):
                        pipe.lpush(key, payload) if push else pipe.rpop(key)
                    pipe.execute()
        finally:
            self.client.delete(key)
        return items / (time.perf_counter() - started)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
