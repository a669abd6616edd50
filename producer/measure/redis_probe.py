"""What Redis itself sustains and uses: a pipelined LPUSH/RPOP probe and the server's own CPU seconds."""

from __future__ import annotations

import time
import uuid

import redis

PROBE_ITEMS = 20_000
PROBE_PIPELINE = 500


def redis_probe(client: redis.Redis, items: int = PROBE_ITEMS, pipeline: int = PROBE_PIPELINE) -> float:
    """LPUSH then RPOP ``items`` small messages, pipelined: message round trips per second Redis sustains."""
    key = f"lab:probe:{uuid.uuid4().hex}"
    payload = b"x" * 200
    started = time.perf_counter()
    try:
        for start in range(0, items, pipeline):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(pipeline, items - start)):
                pipe.lpush(key, payload)
            pipe.execute()
        for start in range(0, items, pipeline):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(pipeline, items - start)):
                pipe.rpop(key)
            pipe.execute()
    finally:
        client.delete(key)
    return items / (time.perf_counter() - started)


def redis_cpu_seconds(client: redis.Redis) -> float:
    """CPU seconds the Redis server has used (``INFO cpu``): Redis runs commands on one core."""
    info = client.info("cpu")
    return float(info.get("used_cpu_user", 0.0)) + float(info.get("used_cpu_sys", 0.0))
