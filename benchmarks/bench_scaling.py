"""Scale out: aggregate throughput of k worker processes on one queue / (k × one worker), k = 1 … cores.

One worker process's consumer tops out at ~500–800 tasks/s whatever its pool (DESIGN.md), so past
that you add processes. This measures how well that works here: a pre-enqueued batch of no-op
tasks (the queue's own cost) is released to all k workers at once (``producer sweep --workers``
machinery), repeated and interleaved k = 1, 2, …, per pool. Goal: efficiency ≥ 0.8 until Redis or
the cores saturate; each k says which saturated (machine CPU ≥ 85 % or workers + Redis
using ≥ 75 % of the cores → cores; Redis busy ≥ 80 % of its one core, or throughput ≥ 80 % of the
pipelined Redis probe → Redis).

    .venv/bin/python -m benchmarks.bench_scaling [--pools threads,prefork] [--count 3000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from benchmarks.common import lab_environment, report

GOAL = 0.8


def measure(
    pools: list[str], concurrency: dict[str, int], count: int, repeats: int, max_workers: int
) -> tuple[dict[str, Any], dict[str, tuple[float, str]], list[str]]:
    """Run the points (interleaved), then medians, efficiencies and what saturated."""
    from config.settings import get_settings
    from producer.batch.run import redis_clients
    from producer.measure.redis_probe import redis_probe
    from producer.measure.sweep import SweepPlan, run_point
    from producer.measure.sweep_limits import saturation
    from worker.app import app
    from worker.task_args import WorkloadArgs

    settings = get_settings()
    broker, _ = redis_clients(settings)
    ks = list(range(1, max_workers + 1))
    points: dict[tuple[str, int], list[dict[str, Any]]] = {(pool, k): [] for pool in pools for k in ks}
    for _ in range(repeats):
        for pool in pools:
            plan = SweepPlan("noop", pool, WorkloadArgs("noop", 0), count, [concurrency[pool]], ks)
            for k in ks:
                point = run_point(app, settings, plan, concurrency[pool], k)
                points[(pool, k)].append(point)
                print(
                    f"  {pool:<8} k={k}: {point['throughput']:,.0f} tasks/s, machine CPU "
                    f"{point['machine_cpu_percent']:.0f}%, lost {point['lost']}",
                    flush=True,
                )
    redis_limit = statistics.median(redis_probe(broker) for _ in range(3))
    rows: dict[str, Any] = {"redis_probe_pairs_per_s": redis_limit, "count": count, "repeats": repeats}
    ratios: dict[str, tuple[float, str]] = {}
    notes = []
    for pool in pools:
        one = statistics.median(p["throughput"] for p in points[(pool, 1)])
        for k in ks:
            runs = points[(pool, k)]
            tp = statistics.median(p["throughput"] for p in runs)
            cpu = statistics.median(p["machine_cpu_percent"] for p in runs)
            lost = sum(p["lost"] + p["failed"] for p in runs)
            lab_cores = statistics.median(p["lab_cores_used"] for p in runs)
            redis_cores = statistics.median(p["redis_cores_used"] for p in runs)
            saturated = saturation(
                {
                    "throughput": tp,
                    "machine_cpu_percent": cpu,
                    "lab_cores_used": lab_cores,
                    "redis_cores_used": redis_cores,
                },
                redis_limit,
                os.cpu_count() or 1,
            )
            rows[f"{pool} k={k} cores used by workers + Redis"] = lab_cores
            rows[f"{pool} k={k} Redis cores used"] = redis_cores
            rows[f"{pool} -c {concurrency[pool]} k={k} tasks/s"] = tp
            rows[f"{pool} k={k} runs"] = [round(p["throughput"], 1) for p in runs]
            rows[f"{pool} k={k} machine CPU %"] = cpu
            rows[f"{pool} k={k} failed+lost"] = lost
            worker_cpu = [p["worker_cpu_s"] / p["completed"] for p in runs if p["worker_cpu_s"] and p["completed"]]
            if worker_cpu:
                rows[f"{pool} k={k} worker CPU ms/task"] = statistics.median(worker_cpu) * 1000
            if k > 1:
                efficiency = tp / (k * one) if one else 0.0
                goal = f">= {GOAL}" if saturated == "none visible" else f"n/a ({saturated} saturated)"
                ratios[f"{pool} efficiency k={k} (tp_k / (k × tp_1))"] = (efficiency, goal)
            if saturated != "none visible":
                notes.append(
                    f"{pool} k={k}: {saturated} saturated (machine CPU {cpu:.0f}%, workers + Redis "
                    f"{lab_cores:.2f} cores, Redis {redis_cores:.2f} core; {tp:,.0f} tasks/s vs "
                    f"Redis probe {redis_limit:,.0f}/s)"
                )
    notes.append(
        f"{os.cpu_count()} cores shared with other processes (load at the end: {os.getloadavg()[0]:.1f});"
        " the producer and Redis run on the same cores as the workers"
    )
    return rows, ratios, notes


def main(argv: list[str] | None = None) -> None:
    """Parse options, run in a private Redis, print and write ``benchmarks/results/scaling.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="threads,prefork")
    parser.add_argument("--threads-concurrency", type=int, default=16)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args(argv)
    pools = [p for p in options.pools.split(",") if p]
    concurrency = {
        "threads": options.threads_concurrency,
        "prefork": os.cpu_count() or 1,
        "solo": 1,
        "gevent": options.threads_concurrency,
    }
    with lab_environment():
        rows, ratios, notes = measure(pools, concurrency, options.count, options.repeats, max(1, options.max_workers))
    report("scaling", "Scale out: k worker processes on one queue vs k × one", rows, ratios, notes)


if __name__ == "__main__":
    main()
