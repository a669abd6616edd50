"""What the broker itself sustains and uses: a pipelined probe and the server's own CPU seconds (producer/broker/)."""

from __future__ import annotations

import redis

from producer.broker import Broker, as_broker

PROBE_ITEMS = 20_000
PROBE_PIPELINE = 500


def redis_probe(client: Broker | redis.Redis, items: int = PROBE_ITEMS, pipeline: int = PROBE_PIPELINE) -> float:
    """Messages in and out per second, pipelined (Redis: LPUSH then RPOP; RabbitMQ: confirmed publishes, consumed)."""
    return as_broker(client).probe_rate(items, pipeline)


def redis_cpu_seconds(client: Broker | redis.Redis) -> float:
    """CPU seconds the broker server has used (Redis' ``INFO cpu``; a local RabbitMQ's process; else 0)."""
    return as_broker(client).server_cpu_seconds() or 0.0
