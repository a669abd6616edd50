"""``--broker redis,rabbitmq``: rabbitmq ÷ redis per workload × pool (× Celery mode), and a verdict line per workload.

A ratio is beyond noise when it lies outside both cells' repeat ranges (as in producer/measure/modes.py).
Each side's CPU per task, the workers' and the broker server's, is given as the reason for the difference
(measured: the workers' CPU, i.e. the round trips kombu's transport makes per task, explains it; docs/brokers.md).
"""

from __future__ import annotations

import math
from typing import Any

from producer.measure.figure_models import BrokerRatio
from producer.measure.modes import beyond_noise


def _tps(cell: dict[str, Any] | None) -> float | None:
    value = cell.get("throughput_median") if cell else None
    return None if value is None or math.isnan(value) else float(value)


def broker_ratios(cells: list[dict[str, Any]]) -> list[BrokerRatio]:
    """Per workload × pool × mode measured on both brokers: each median and rabbitmq ÷ redis."""
    by_key = {(c["workload"], c["pool"], c.get("celery"), c.get("broker")): c for c in cells}
    ratios = []
    for (workload, pool, mode, broker), redis_cell in by_key.items():
        rabbit_cell = by_key.get((workload, pool, mode, "rabbitmq"))
        if broker != "redis" or rabbit_cell is None:
            continue
        redis_tps, rabbit_tps = _tps(redis_cell), _tps(rabbit_cell)
        ratio = rabbit_tps / redis_tps if redis_tps and rabbit_tps is not None else None
        ratios.append(
            BrokerRatio(
                workload=workload,
                pool=pool,
                celery=mode,
                redis_tps=redis_tps,
                rabbitmq_tps=rabbit_tps,
                rabbitmq_over_redis=ratio,
                beyond_noise=beyond_noise(ratio, redis_cell, rabbit_cell),
                redis_cpu_ms_per_task=redis_cell.get("broker_cpu_ms_per_task"),
                rabbitmq_cpu_ms_per_task=rabbit_cell.get("broker_cpu_ms_per_task"),
                redis_worker_cpu_ms_per_task=redis_cell.get("worker_cpu_ms_per_task"),
                rabbitmq_worker_cpu_ms_per_task=rabbit_cell.get("worker_cpu_ms_per_task"),
            )
        )
    return ratios


def ratio_phrase(ratio: BrokerRatio, show_mode: bool = False) -> str:
    """``noop/threads: rabbitmq 2.1× redis`` (the faster broker first), with noise and broker CPU per task."""
    label = f"{ratio.workload}/{ratio.pool}" + (f" ({ratio.celery})" if show_mode and ratio.celery else "")
    value = ratio.rabbitmq_over_redis
    if value is None or value <= 0:
        return f"{label}: no ratio (a side completed nothing)"
    faster, slower, times = ("rabbitmq", "redis", value) if value >= 1 else ("redis", "rabbitmq", 1 / value)
    text = f"{label}: {faster} {times:.2f}× {slower}" + ("" if ratio.beyond_noise else " (within noise)")
    costs = [
        (what, redis, rabbit)
        for what, redis, rabbit in (
            ("worker", ratio.redis_worker_cpu_ms_per_task, ratio.rabbitmq_worker_cpu_ms_per_task),
            ("broker", ratio.redis_cpu_ms_per_task, ratio.rabbitmq_cpu_ms_per_task),
        )
        if redis is not None and rabbit is not None
    ]
    if costs:
        text += "; CPU per task, redis/rabbitmq: " + ", ".join(
            f"{what} {redis:.2f}/{rabbit:.2f} ms" for what, redis, rabbit in costs
        )
    return text


def broker_verdicts(ratios: list[BrokerRatio]) -> dict[str, str]:
    """A verdict line per workload: every pool's rabbitmq ÷ redis (keys ``<workload> (brokers)``)."""
    lines: dict[str, str] = {}
    show_mode = len({r.celery for r in ratios}) > 1
    for workload in dict.fromkeys(r.workload for r in ratios):
        phrases = [ratio_phrase(r, show_mode) for r in ratios if r.workload == workload]
        lines[f"{workload} (brokers)"] = " · ".join(phrases)
    return lines
