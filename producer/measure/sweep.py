"""`producer sweep`: throughput against concurrency (one worker) or against worker processes (scale out).

Each point gets dedicated workers (fast start: no mingle, no gossip) on a private queue, so the
stack's workers never take part. The batch is enqueued *before* the workers may consume it: they
start on a gate queue, run a warm-up there, then all are told at once (``add_consumer``) to consume
the batch's queue. Throughput = completed / (last finish − first start): the consumers' rate, not
the producer's publishing rate. Each point runs in the Celery mode(s) asked for (``--celery``; both:
stock then lab per point) and on the broker(s) asked for (``--broker redis,rabbitmq``: each point on
each broker, one after the other), samples the workers' memory (PSS/USS) during the batch and then
measures their consumer ceiling with a no-op batch (a no-op point is its own). The workers mode also
probes each broker's own message rate.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import psutil
from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import broker_and_backend
from producer.batch.submit import submit_batch
from producer.broker import Broker
from producer.broker import sides as broker_sides
from producer.errors import LabError
from producer.measure import memory, modes, probe
from producer.measure.analysis import is_io
from producer.measure.ceiling import probe_consuming
from producer.measure.records import environment, timing_summary
from producer.measure.redis_probe import redis_cpu_seconds
from producer.measure.sweep_limits import broker_lines, per_process_ceiling, probe_rate, saturation
from producer.measure.sweep_record import SweepRecord
from producer.measure.user_tasks import task_info
from producer.processes import fleet
from worker.task_args import WorkloadArgs


@dataclass(frozen=True)
class SweepPlan(modes.CelerySides):
    """A sweep: one workload on one pool, over concurrencies (one worker) or worker counts."""

    workload: str
    pool: str
    args: WorkloadArgs
    count: int
    concurrencies: list[int]
    workers: list[int]
    timeout_s: float = 600.0
    #: Classify the workload first (``producer/measure/probe.py``).
    probe: bool = True
    #: ``--celery``: stock (the default), lab or both.
    celery: str = "stock"
    #: ``--broker``: redis and/or rabbitmq ("": LAB_BROKER_URL's only).
    broker: str = ""

    @property
    def mode(self) -> str:
        """``workers`` when the worker count varies, else ``concurrency``."""
        return "workers" if len(self.workers) > 1 else "concurrency"


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


def run_point(
    app: Celery,
    settings: LabSettings,
    plan: SweepPlan,
    concurrency: int,
    workers: int,
    mode: CeleryMode | None = None,
) -> dict[str, Any]:
    """One sweep point: start ``workers`` × ``concurrency`` workers of ``mode`` (default: ``LAB_CELERY_MODE``),
    measure the pre-enqueued batch (sampling their memory), then their no-op ceiling; stop them."""
    mode = mode or settings.celery_mode
    run_id = uuid.uuid4().hex[:8]
    gate, queue = f"sweep-gate-{run_id}", f"sweep-{run_id}"
    broker, backend = broker_and_backend(settings)
    started_workers = fleet.spawn_workers(
        app,
        settings,
        plan.pool,
        concurrency,
        gate,
        count=workers,
        tag=f"sweep-{mode}",
        env=fleet.measured_env(settings, mode),
    )
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
        with memory.sampled(started_workers.pids, concurrency * workers) as sampler:
            consuming = _first_take(broker, queue, batch.submitted, deadline_s=10.0)
            collected = collect_results(backend, batch.task_ids, timeout_s=plan.timeout_s, broker=broker, queue=queue)
        machine_cpu = psutil.cpu_percent(interval=None)
        cpu_after = fleet.cpu_seconds(started_workers.pids)
        redis_cpu = redis_cpu_seconds(broker) - redis_cpu_before
        noop = not catalogue.workload(plan.workload).has_ideal
        ceiling = None if noop else probe_consuming(app, settings, queue, plan.timeout_s)
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
    figures = sampler.figures()
    return {
        "concurrency": concurrency,
        "workers": workers,
        "celery": mode,
        "broker": broker.kind,
        "memory": figures.model_dump() if figures is not None else None,
        # a no-op point is its own ceiling measurement
        "consumer_ceiling_tps": throughput if noop and records else ceiling,
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
    points = []
    classification = probe.classify(app, settings, plan.args, timeout_s=plan.timeout_s) if plan.probe else None
    needs_target = catalogue.workload(plan.workload).takes_url
    with contextlib.ExitStack() as stack:
        stack.enter_context(fleet.latency_target(settings) if needs_target else nullcontext())
        sides = stack.enter_context(broker_sides.broker_sides(app, settings, plan.brokers))
        for concurrency in plan.concurrencies:
            for workers in plan.workers:
                for mode in plan.modes:
                    for side in sides:
                        point = run_point(side.app, side.settings, plan, concurrency, workers, mode)
                        point["x"] = workers if plan.mode == "workers" else concurrency
                        shown = [m for m, many in ((mode, len(plan.modes) > 1), (side.kind, len(sides) > 1)) if many]
                        point["label"] = f"{workers} worker(s) × {concurrency}" + "".join(f" {m}" for m in shown)
                        points.append(point)
                        if on_point is not None:
                            on_point(point)
        limits = {side.kind: probe_rate(side.settings) for side in sides} if plan.mode == "workers" else {}
        brokers = {side.kind: broker_sides.describe(side) for side in sides}
    redis_limit = limits.get(sides[0].kind)
    cpu_p50 = [p["timings"]["thread_cpu_s"]["p50"] for p in points if p["timings"]["thread_cpu_s"]["p50"]]
    task_s = (
        plan.args.size / 1000.0
        if is_io(plan.workload)
        else (sorted(cpu_p50)[len(cpu_p50) // 2] if cpu_p50 else math.nan)
    )
    if plan.args.function and is_io(plan.workload) and classification is not None:
        task_s = classification.task_s  # a user task that waits: its measured wait, not a size in ms
    notes = []
    if plan.mode == "workers":
        ones = []
        groups = list(dict.fromkeys((p["celery"], p["broker"]) for p in points))
        for mode, kind in groups:  # each mode's (and broker's) points against its own one-worker point
            own = [p for p in points if (p["celery"], p["broker"]) == (mode, kind)]
            one = own[0]["throughput"] / own[0]["workers"]
            shown = [m for m, many in ((mode, len(plan.modes) > 1), (kind, len(sides) > 1)) if many]
            ones.append(f"{one:,.1f}/s" + "".join(f" {m}" for m in shown))
            for point in own:
                point["ideal"] = one * point["workers"]
                point["efficiency"] = point["throughput"] / point["ideal"] if point["ideal"] else math.nan
                point["saturated"] = saturation(point, limits.get(kind), cores)
        ideal_label = f"k × one worker ({', '.join(ones)})"
        notes.append(
            "scaling efficiency (k workers / (k × one)): "
            + ", ".join(f"{p['label']}: {p['efficiency']:.2f}" for p in points)
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
            "environment": environment(
                settings, celery_mode=modes.describe(settings, plan.modes[0]) if len(plan.modes) == 1 else None
            ),
            "celery": modes.celery_choice(plan.modes),
            "celery_modes": modes.describe_all(settings, plan.modes),
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
            "consumer_ceiling_tps": per_process_ceiling(points),
            "task": task_info(plan.args),
            "classification": classification,
            "broker": broker_sides.sides_label(sides),
            "brokers": brokers,
            "notes": notes + (broker_lines(points) if len(sides) > 1 else []),
        }
    )
