"""What ran out during a sweep point (the broker, the cores, the consumers), and the sweep's per-process ceiling."""

from __future__ import annotations

import contextlib
import statistics
from typing import Any

from config.settings import LabSettings
from producer.broker import open_broker
from producer.measure.redis_probe import redis_probe

#: A point is "cores saturated" when the machine's CPU was at least this busy during it ...
CPU_SATURATED_PERCENT = 85.0
#: ... or when the workers and the broker alone kept this share of the cores busy.
LAB_CORES_SATURATED_SHARE = 0.75
#: Throughput at this share of the broker probe means the broker is the limit.
REDIS_SATURATED_SHARE = 0.8
#: Throughput at this share of the point's measured consumer ceiling means the consumers are the limit.
CONSUMER_SATURATED_SHARE = 0.8


def per_process_ceiling(points: list[dict[str, Any]]) -> float | None:
    """The median over points of the measured consumer ceiling per worker process (the record's summary figure)."""
    values = [p["consumer_ceiling_tps"] / p["workers"] for p in points if p.get("consumer_ceiling_tps")]
    return statistics.median(values) if values else None


def saturation(point: dict[str, Any], redis_limit: float | None, cores: int) -> str:
    """What ran out during a point: the broker (its core, or its probe rate), the cores, the consumers, or nothing.

    Cores: the machine's CPU ≥ 85 %, or the workers and Redis alone used ≥ 75 % of the cores (the
    producer, the OS and other jobs need the rest). Consumers: ≥ 80 % of the point's measured no-op
    ceiling (a no-op point is always at its own).
    """
    if point.get("redis_cores_used", 0.0) >= REDIS_SATURATED_SHARE or (
        redis_limit and point["throughput"] >= REDIS_SATURATED_SHARE * redis_limit
    ):
        return str(point.get("broker") or "redis")
    if (
        point["machine_cpu_percent"] >= CPU_SATURATED_PERCENT
        or point.get("lab_cores_used", 0.0) >= LAB_CORES_SATURATED_SHARE * cores
    ):
        return "cores"
    ceiling = point.get("consumer_ceiling_tps")
    if ceiling and point["throughput"] >= CONSUMER_SATURATED_SHARE * ceiling:
        return "consumer ceiling"
    return "none visible"


def probe_rate(settings: LabSettings) -> float:
    """The broker's own message rate (producer/measure/redis_probe.py), on a connection of its own."""
    with contextlib.closing(open_broker(settings)) as broker:
        return redis_probe(broker)


def broker_lines(points: list[dict[str, Any]]) -> list[str]:
    """``--broker redis,rabbitmq``: rabbitmq ÷ redis at each point (per mode), and each broker's best point."""
    ratios = []
    for point in (p for p in points if p["broker"] == "redis"):
        twin = next(
            (
                p
                for p in points
                if p["broker"] == "rabbitmq"
                and (p["concurrency"], p["workers"], p["celery"])
                == (point["concurrency"], point["workers"], point["celery"])
            ),
            None,
        )
        if twin is not None and point["throughput"]:
            ratios.append(f"{point['workers']}×{point['concurrency']}: {twin['throughput'] / point['throughput']:.2f}×")
    best = {
        kind: max((p for p in points if p["broker"] == kind), key=lambda p: p["throughput"])
        for kind in dict.fromkeys(p["broker"] for p in points)
    }
    tops = "; ".join(
        f"{kind} {p['throughput']:,.1f}/s at {p['workers']}×{p['concurrency']}" for kind, p in best.items()
    )
    return [f"rabbitmq ÷ redis per point (workers×slots): {', '.join(ratios)}", f"best per broker: {tops}"]
