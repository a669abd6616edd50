"""The workers a measurement runs on, per pool and Celery mode: running ones of that mode, else started here.

A pool's queue is named after the pool (``config/catalogue.py``). Running consumers of it (e.g. the
stack's, which run the lab mode by default) are reused only when every one of them runs the mode being
measured; otherwise workers of that mode are started (fast start) on ``<pool>.<mode>`` and stopped by
PID when the measurement ends, so two modes never share a queue. A worker's mode is its own
``LAB_CELERY_MODE`` (``fleet.worker_launch``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.processes.fleet import PoolWorkers, measured_env, spawn_workers, stop_all
from producer.processes.queue_consumers import Consumer, consumers


def mode_queue(pool: str, mode: str) -> str:
    """The queue workers of ``pool`` started here in ``mode`` consume: two modes never share a queue."""
    return f"{catalogue.pool(pool).queue}.{mode}"


def _reusable(pool: str, mode: str, queue: str, existing: dict[str, Consumer]) -> PoolWorkers | None:
    """The running consumers of ``queue`` when every one of them runs ``mode`` (else None: not reusable)."""
    if not existing or any(found.mode != mode for found in existing.values()):
        return None
    nodes = sorted(existing)
    return PoolWorkers(
        pool,
        queue,
        nodes,
        sum(found.concurrency for found in existing.values()),
        False,
        pids=[found.pid for found in existing.values() if found.pid],
        mode=mode,
        origin=f"reused {len(nodes)} running {mode} worker(s) on queue {queue}: {', '.join(nodes)}",
    )


def _why_started(pool: str, mode: str, running: dict[str, dict[str, Consumer]]) -> str:
    others = running.get(catalogue.pool(pool).queue) or {}
    if not others:
        return f"nobody consumes {pool}"
    modes = sorted({found.mode or "an unknown mode" for found in others.values()})
    return f"the {len(others)} running consumer(s) of {pool} run {' and '.join(modes)}, not {mode}"


@contextlib.contextmanager
def pool_workers(
    app: Celery, settings: LabSettings, pools: list[str], mode: CeleryMode | None = None
) -> Iterator[dict[str, PoolWorkers]]:
    """Each pool's workers of ``mode`` (default: this process's ``LAB_CELERY_MODE``), stopped on exit if started here.

    Running consumers of the pool's queue are reused only when every one of them runs ``mode`` (read
    from their configuration); otherwise workers of ``mode`` are started on ``<pool>.<mode>``, so a
    batch never reaches a worker of the other mode.
    """
    mode = mode or settings.celery_mode
    found: dict[str, PoolWorkers] = {}
    try:
        queues = {pool: catalogue.pool(pool).queue for pool in pools}
        running = consumers(app, list(queues.values()))
        for pool, queue in queues.items():
            found[pool] = _reusable(pool, mode, queue, running[queue]) or _start(
                app, settings, pool, mode, mode_queue(pool, mode), _why_started(pool, mode, running)
            )
        yield found
    finally:
        stop_all([child for workers in found.values() for child in workers.children])


def _start(app: Celery, settings: LabSettings, pool: str, mode: CeleryMode, queue: str, why: str) -> PoolWorkers:
    """One worker of ``pool`` in ``mode`` (its ``LAB_CELERY_MODE``) on ``queue``."""
    workers = spawn_workers(
        app,
        settings,
        pool,
        catalogue.pool(pool).concurrency(settings),
        queue,
        tag=f"compare-{mode}",
        env=measured_env(settings, mode),
    )
    workers.mode = mode
    workers.origin = f"started {len(workers.nodes)} {mode} worker(s) on queue {queue} ({why})"
    return workers
