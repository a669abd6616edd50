"""Compare's workers per pool × Celery mode, their measured consumer ceilings, and the record's ``pools``.

Per mode, :func:`producer.processes.measured_workers.pool_workers` reuses running workers of that mode or
starts some on ``<pool>.<mode>``. After each measured batch of a workload that does work, a no-op probe
batch on those very workers (producer/measure/ceiling.py); the pool × mode's ceiling is the best batch
(a no-op cell is its own ceiling).
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.measure.ceiling import probe_round
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


def probe_after(
    app: Celery, settings: LabSettings, workers: PoolWorkers, workload: str, timeout_s: float
) -> float | None:
    """A no-op probe batch on the workers that just ran a batch of ``workload`` (None after a no-op batch:
    a no-op cell is its own ceiling)."""
    if not catalogue.workload(workload).has_ideal:
        return None
    return probe_round(app, settings, workers.queue, timeout_s)


def ceiling_of(rates: list[float]) -> float | None:
    """The consumer ceiling from the probe batches: the best one (other processes only ever take throughput away)."""
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
