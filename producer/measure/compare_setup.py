"""Compare's workers per pool × Celery mode × broker, their measured consumer ceilings, and the record's ``pools``.

Per mode and broker (``--broker``: each side's own app and settings, producer/broker/sides.py),
:func:`producer.processes.measured_workers.pool_workers` reuses running workers of that mode or
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
from producer.broker.sides import BrokerSide
from producer.measure.ceiling import probe_round
from producer.processes.fleet import PoolWorkers
from producer.processes.measured_workers import pool_workers

#: (pool, mode, broker): the workers a cell runs on.
Key = tuple[str, CeleryMode, str]


def enter_workers(
    stack: contextlib.ExitStack, sides: list[BrokerSide], pools: list[str], modes: list[CeleryMode]
) -> dict[Key, PoolWorkers]:
    """Workers for every pool in every mode on every broker, stopped with ``stack``; pool-major (the run order
    per pool: stock, lab; each on redis, rabbitmq)."""
    started = {
        (mode, side.kind): stack.enter_context(pool_workers(side.app, side.settings, pools, mode))
        for mode in modes
        for side in sides
    }
    return {
        (pool, mode, side.kind): started[(mode, side.kind)][pool] for pool in pools for mode in modes for side in sides
    }


def info_key(pool: str, mode: str, broker: str, modes: list[CeleryMode], brokers: list[str]) -> str:
    """A record's ``pools`` key: the pool, then ``/mode`` when both modes ran and ``/broker`` when both brokers did."""
    return "/".join([pool, *([mode] if len(modes) > 1 else []), *([broker] if len(brokers) > 1 else [])])


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
    """The record's ``pools``: per pool (× mode × broker, as :func:`info_key` says), then each baseline's executor."""
    brokers = list(dict.fromkeys(broker for _, _, broker in workers))
    info: dict[str, dict[str, Any]] = {
        info_key(pool, mode, broker, modes, brokers): {
            "concurrency": found.concurrency,
            "nodes": found.nodes,
            "started_here": found.started_here,
            "concurrency_rule": rule(pool),
            "celery": mode,
            "queue": found.queue,
            "origin": found.origin,
            "consumer_ceiling_tps": ceiling_of(probes.get((pool, mode, broker), [])),
            "consumer_probes_tps": probes.get((pool, mode, broker), []),
            "broker": broker,
        }
        for (pool, mode, broker), found in workers.items()
    }
    for name, slots in baselines.items():
        info[name] = {"concurrency": slots, "nodes": [], "started_here": True, "concurrency_rule": rule(name)}
    return info
