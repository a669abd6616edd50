"""`producer sweep`: throughput against concurrency (one worker) or against worker processes (scale out).

Each point gets dedicated workers (fast start: no mingle, no gossip) on a private queue, so the
stack's workers never take part. The batch is enqueued *before* the workers may consume it: they
start on a gate queue, run a warm-up there, then all are told at once (``add_consumer``) to consume
the batch's queue. Throughput = completed / (last finish − first start): the consumers' rate, not
the producer's publishing rate. The workers mode also probes Redis in the same run.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import psutil
import redis
from celery import Celery

from config import catalogue
from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import broker_and_backend
from producer.batch.submit import submit_batch
from producer.broker import Broker, as_broker
from producer.errors import LabError
from producer.measure.analysis import is_io
from producer.measure.record_models import SweepRecord
from producer.measure.records import environment, timing_summary
from producer.processes import fleet
from worker.task_args import WorkloadArgs

PROBE_ITEMS = 20_000
PROBE_PIPELINE = 500
#: A point is "cores saturated" when the machine's CPU was at least this busy during it ...
CPU_SATURATED_PERCENT = 85.0
#: ... or when the workers and Redis alone kept this share of the cores busy.
LAB_CORES_SATURATED_SHARE = 0.75
#: Throughput at this share of the Redis probe means Redis is the limit.
REDIS_SATURATED_SHARE = 0.8


@dataclass(frozen=True)
class SweepPlan:
    """A sweep: one workload on one pool, over concurrencies (one worker) or worker counts."""

    workload: str
    pool: str
    args: WorkloadArgs
    count: int
    concurrencies: list[int]
    workers: list[int]
    timeout_s: float = 600.0

    @property
    def mode(self) -> str:
        """``workers`` when the worker count varies, else ``concurrency``."""
        return "workers" if len(self.workers) > 1 else "concurrency"


def redis_probe(client: Broker | redis.Redis, items: int = PROBE_ITEMS, pipeline: int = PROBE_PIPELINE) -> float:
    """LPUSH then RPOP ``items`` small messages, pipelined: message round trips per second Redis sustains."""
    return as_broker(client).probe_rate(items, pipeline)


def redis_cpu_seconds(client: Broker | redis.Redis) -> float:
    """CPU seconds the broker server has used (Redis' ``INFO cpu``; a local RabbitMQ's process; else 0)."""
    return as_broker(client).server_cpu_seconds() or 0.0


def _agree(records_tp: float, producer_tp: float) -> bool:
    """The records' rate and the producer clock's rate agree within 25% (poll lag, start lag)."""
    return records_tp == producer_tp == 0 or (records_tp > 0 and abs(producer_tp / records_tp - 1) <= 0.25)


def _first_take(broker: Broker, queue: str, queued: int, deadline_s: float) -> float | None:
    """The producer's own clock when the queue first shrinks (consumers pick up on their next BRPOP)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if broker.depth(queue) < queued:
            return time.time()
        time.sleep(0.002)
    return None


def _ideal(plan: SweepPlan, concurrency: int, workers: int, task_s: float, cores: int) -> float:
    slots = concurrency * workers
    parallel = slots if is_io(plan.workload) else min(slots, cores)
    if not task_s or math.isnan(task_s) or not catalogue.workload(plan.workload).has_ideal:
        return math.nan
    return plan.count / (math.ceil(plan.count / max(parallel, 1)) * task_s)


def run_point(app: Celery, settings: LabSettings, plan: SweepPlan, concurrency: int, workers: int) -> dict[str, Any]:
    """One sweep point: start ``workers`` × ``concurrency`` workers, measure the pre-enqueued batch, stop them."""
    run_id = uuid.uuid4().hex[:8]
    gate, queue = f"sweep-gate-{run_id}", f"sweep-{run_id}"
    broker, backend = broker_and_backend(settings)
    started_workers = fleet.spawn_workers(app, settings, plan.pool, concurrency, gate, count=workers, tag="sweep")
    try:
        warmup = submit_batch(app, plan.args, max(1, min(plan.count, concurrency * workers)), gate)
        collect_results(backend, warmup.task_ids, timeout_s=plan.timeout_s, broker=broker, queue=gate)
        batch = submit_batch(app, plan.args, plan.count, queue)
        cpu_before = fleet.cpu_seconds(started_workers.pids)
        redis_cpu_before = redis_cpu_seconds(broker)
        psutil.cpu_percent(interval=None)
        released = time.time()
        replies = app.control.add_consumer(queue, destination=started_workers.nodes, reply=True, timeout=5) or []
        if len(replies) < workers:
            raise LabError(f"only {len(replies)} of {workers} workers acknowledged add_consumer({queue})")
        consuming = _first_take(broker, queue, batch.submitted, deadline_s=10.0)
        collected = collect_results(backend, batch.task_ids, timeout_s=plan.timeout_s, broker=broker, queue=queue)
        machine_cpu = psutil.cpu_percent(interval=None)
        cpu_after = fleet.cpu_seconds(started_workers.pids)
        redis_cpu = redis_cpu_seconds(broker) - redis_cpu_before
    finally:
        fleet.stop_all(started_workers.children)
        for used in (queue, gate):  # per-run queues: RabbitMQ would keep them for ever
            broker.drop_queue(used)
        broker.close()
    records = collected.records
    first = min((r["started"] for r in records), default=released)
    last = max((r["finished"] for r in records), default=collected.finished_at)
    span = max(last - first, 1e-9)
    throughput = len(records) / span if records else 0.0
    producer_tp = len(records) / max(collected.finished_at - (consuming or released), 1e-9)
    worker_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    per_node: dict[str, int] = {}
    for record in records:
        per_node[str(record["hostname"])] = per_node.get(str(record["hostname"]), 0) + 1
    return {
        "concurrency": concurrency,
        "workers": workers,
        "submitted": batch.submitted,
        "completed": len(records),
        "failed": len(collected.failures),
        "lost": len(collected.lost),
        "throughput": throughput,
        "span_s": span,
        "producer_throughput": producer_tp,
        "check_agree": _agree(throughput, producer_tp),
        "worker_cpu_s": worker_cpu,
        "machine_cpu_percent": machine_cpu,
        "redis_cpu_s": redis_cpu,
        "lab_cores_used": ((worker_cpu or 0.0) + redis_cpu) / span,
        "redis_cores_used": redis_cpu / span,
        "tasks_per_worker": sorted(per_node.values(), reverse=True),
        "timings": timing_summary(records),
    }


def run_sweep(
    app: Celery, settings: LabSettings, plan: SweepPlan, on_point: Callable[[dict[str, Any]], None] | None = None
) -> SweepRecord:
    """Every point of the plan, then ideals, the Redis probe (workers mode) and the record."""
    cores = psutil.cpu_count() or 1
    broker, _ = broker_and_backend(settings)
    points = []
    needs_target = catalogue.workload(plan.workload).takes_url
    with fleet.latency_target(settings) if needs_target else nullcontext():
        for concurrency in plan.concurrencies:
            for workers in plan.workers:
                point = run_point(app, settings, plan, concurrency, workers)
                point["x"] = workers if plan.mode == "workers" else concurrency
                point["label"] = f"{workers} worker(s) × {concurrency}"
                points.append(point)
                if on_point is not None:
                    on_point(point)
    redis_limit = redis_probe(broker) if plan.mode == "workers" else None
    cpu_p50 = [p["timings"]["thread_cpu_s"]["p50"] for p in points if p["timings"]["thread_cpu_s"]["p50"]]
    task_s = (
        plan.args.size / 1000.0
        if is_io(plan.workload)
        else (sorted(cpu_p50)[len(cpu_p50) // 2] if cpu_p50 else math.nan)
    )
    notes = []
    if plan.mode == "workers":
        base = points[0]
        one = base["throughput"] / base["workers"]
        for point in points:
            point["ideal"] = one * point["workers"]
            point["efficiency"] = point["throughput"] / point["ideal"] if point["ideal"] else math.nan
            point["saturated"] = saturation(point, redis_limit, cores)
        ideal_label = f"k × one worker ({one:,.1f}/s)"
        notes.append(
            "scaling efficiency (k workers / (k × one)): "
            + ", ".join(f"k={p['workers']}: {p['efficiency']:.2f}" for p in points)
        )
    else:
        for point in points:
            point["ideal"] = _ideal(plan, point["concurrency"], point["workers"], task_s, cores)
            point["saturated"] = saturation(point, None, cores)
        ideal_label = "ideal: min(slots, batch) / latency" if is_io(plan.workload) else "ideal: min(slots, cores) / t"
    title = f"{plan.workload} on {plan.pool}: tasks/s vs " + (
        f"worker processes (each -c {plan.concurrencies[0]})"
        if plan.mode == "workers"
        else f"concurrency ({plan.workers[0]} worker)"
    )
    return SweepRecord.model_validate(
        {
            "environment": environment(settings),
            "mode": plan.mode,
            "workload": plan.workload,
            "pool": plan.pool,
            "size": plan.args.size,
            "count": plan.count,
            "points": points,
            "title": title,
            "x_label": "worker processes" if plan.mode == "workers" else "concurrency (slots per worker)",
            "ideal_label": ideal_label,
            "redis_limit_tps": redis_limit,
            "consumer_ceiling_tps": settings.consumer_ceiling_tps,
            "notes": notes,
        }
    )


def saturation(point: dict[str, Any], redis_limit: float | None, cores: int) -> str:
    """What ran out during a point: Redis (its one core, or the probe's rate), the cores, or nothing visible.

    Cores: the machine's CPU ≥ 85 %, or the workers and Redis alone used ≥ 75 % of the cores (the
    producer, the OS and other jobs need the rest).
    """
    if point.get("redis_cores_used", 0.0) >= REDIS_SATURATED_SHARE or (
        redis_limit and point["throughput"] >= REDIS_SATURATED_SHARE * redis_limit
    ):
        return "redis"
    if (
        point["machine_cpu_percent"] >= CPU_SATURATED_PERCENT
        or point.get("lab_cores_used", 0.0) >= LAB_CORES_SATURATED_SHARE * cores
    ):
        return "cores"
    return "none visible"
