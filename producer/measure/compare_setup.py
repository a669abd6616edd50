"""Compare's workers per pool × Celery mode, their measured consumer ceilings, and the record's ``pools``.

Per mode, :func:`producer.processes.measured_workers.pool_workers` reuses running workers of that mode or
starts some on ``<pool>.<mode>``. Each pool × mode then gets one no-op probe (producer/measure/ceiling.py)
on those very workers, in batches interleaved over the pools, unless every workload of the plan is a
no-op (a no-op cell is its own ceiling).
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.measure.ceiling import PROBE_ROUNDS, probe_round, warm_up
from producer.measure.modes import pool_key
from producer.processes.fleet import PoolWorkers
from producer.processes.measured_workers import pool_workers

#: (pool, mode): the workers a cell runs on.
Key = tuple[str, CeleryMode]


def enter_workers(
    stack: contextlib.ExitStack, app: Celery, settings: LabSettings, pools: list[str], modes: list[CeleryMode]
) -> dict[Key, PoolWorkers]:
    """Workers for every pool in every mode, stopped with ``stack``; pool-major (the run order: stock, lab per pool)."""
    per_mode = {mode: stack.enter_context(pool_workers(app, settings, pools, mode)) for mode in modes}
    return {(pool, mode): per_mode[mode][pool] for pool in pools for mode in modes}


def probe_ceilings(
    app: Celery,
    settings: LabSettings,
    workers: dict[Key, PoolWorkers],
    workloads: list[str],
    timeout_s: float,
    say: Any,
) -> dict[Key, list[float]]:
    """Each pool × mode's no-op probe batches, interleaved over the pools (none when every workload is a no-op:
    a no-op cell is its own ceiling). The ceiling is the best batch (:func:`ceiling_of`)."""
    probes: dict[Key, list[float]] = {key: [] for key in workers}
    if all(not catalogue.workload(w).has_ideal for w in workloads):
        return probes
    for found in workers.values():
        warm_up(app, settings, found.queue, found.concurrency, timeout_s)
    for _ in range(PROBE_ROUNDS):
        for key, found in workers.items():
            rate = probe_round(app, settings, found.queue, timeout_s)
            probes[key] += [rate] if rate else []
    for (pool, mode), rates in probes.items():
        shown = ", ".join(f"{rate:,.1f}" for rate in rates) or "nothing completed"
        say(f"  consumer ceiling {pool:<14} {mode:<5} {max(rates, default=0):,.1f}/s (best of {shown}: no-op tasks)")
    return probes


def ceiling_of(rates: list[float]) -> float | None:
    """The consumer ceiling from the probe batches: the best one (others only ever take throughput away)."""
    return max(rates, default=None)


def pools_info(
    workers: dict[Key, PoolWorkers],
    probes: dict[Key, list[float]],
    modes: list[CeleryMode],
    baselines: dict[str, int],
    rule: Any,
) -> dict[str, dict[str, Any]]:
    """The record's ``pools``: per pool (``pool/mode`` when both modes ran), then each baseline's executor."""
    info: dict[str, dict[str, Any]] = {
        pool_key(pool, mode, modes): {
            "concurrency": found.concurrency,
            "nodes": found.nodes,
            "started_here": found.started_here,
            "concurrency_rule": rule(pool),
            "celery": mode,
            "queue": found.queue,
            "origin": found.origin,
            "consumer_ceiling_tps": ceiling_of(probes.get((pool, mode), [])),
            "consumer_probes_tps": probes.get((pool, mode), []),
        }
        for (pool, mode), found in workers.items()
    }
    for name, slots in baselines.items():
        info[name] = {"concurrency": slots, "nodes": [], "started_here": True, "concurrency_rule": rule(name)}
    return info
