"""I/O on an event loop vs on threads: ``io_http_async`` on ``asyncio -c N`` against ``io_http`` on ``threads -c N``.

Both GET the lab's latency target, answering after ``--ms`` ms, through Celery + Redis (every task
counted; tasks/s = tasks ÷ (last finish − first enqueue)). Head to head at ``-c 256``, alternating, in one
run: the throughput ratio (goal ≥ 1) and the worker's PSS per slot (``producer/measure/memory.py``: peak
PSS during the batch ÷ slots; goal: asyncio below threads). Then a sweep over ``-c`` (64, 256, 1024;
a fresh worker per point, both models alternating) that says where each model stops scaling and why,
from what was measured at each point: the worker process's CPU (one process, one GIL: its consumer,
tracer and result writes share one core), the latency target's CPU, the machine's cores (shared with
Redis, the target and this producer), and the worker's ceiling with no wait at all (size 0, measured here).

    .venv/bin/python -m benchmarks.bench_asyncio [--ms 500] [--repeats 3] [--sweep 64,256,1024]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from benchmarks.common import (
    child_env,
    lab_environment,
    report,
    run_batch_rate,
    running_target,
    running_worker,
    unique,
    worker_command,
)

#: Each model's pool and the workload it runs (the same GET, in its own style).
MODELS = {"asyncio": ("asyncio", "io_http_async"), "threads": ("threads", "io_http")}
HEAD_TO_HEAD_SLOTS = 256
#: A point "still scales" when it gains at least this share of what its extra slots promise.
SCALING_SHARE = 0.5
BUSY = 0.85


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@contextmanager
def _worker(app: Any, model: str, slots: int) -> Iterator[tuple[int, str, float]]:
    """A fresh worker of ``model`` with ``slots``: (pid, queue, PSS MiB at start, before any task)."""
    from config import catalogue
    from producer.measure.memory import tree_memory
    from producer.processes.interpreters import pool_env

    pool, _ = MODELS[model]
    queue = unique(model)
    command = worker_command(pool, slots, queue, unique(f"{model}{slots}"))
    # The pool's own environment (-P custom's class, the label): worker_command gives the command line only.
    with running_worker(app, command, env=child_env(**pool_env(catalogue.pool(pool)))) as (child, _):
        fresh = tree_memory([child.pid])
        yield child.pid, queue, fresh[0] if fresh else 0.0


def measure_point(app: Any, model: str, pid: int, queue: str, slots: int, size: int, count: int, target: int) -> dict:
    """One batch on a running worker: tasks/s, the CPU each process used, and the worker's peak PSS."""
    from config.settings import get_settings
    from producer.measure.memory import sampled

    _, workload = MODELS[model]
    url = get_settings().effective_target_url
    before = {"worker": _cpu_s(pid), "target": _cpu_s(target)}
    psutil.cpu_percent()
    started = time.monotonic()
    try:
        with sampled([pid], slots) as memory:
            rate = run_batch_rate(app, workload, size, count, queue, url)
        failure = ""
    except RuntimeError as error:  # failed or lost tasks: the point says so instead of a rate
        rate, failure = 0.0, str(error)[:200]
    wall = time.monotonic() - started
    figures = memory.figures()
    return {
        "tasks_per_s": rate,
        "ideal": slots * 1000 / size if size else None,
        "worker_cores": (_cpu_s(pid) - before["worker"]) / wall,
        "target_cores": (_cpu_s(target) - before["target"]) / wall,
        "machine_cpu_percent": psutil.cpu_percent(),
        "peak_pss_mb": figures.peak_pss_mb if figures else None,
        "pss_per_slot_mb": figures.per_slot_pss_mb if figures else None,
        "failure": failure,
    }


def why(point: dict[str, Any], ceiling: float) -> str:
    """What bounded a point, from its own figures (the first that holds)."""
    if point["failure"]:
        return f"tasks failed: {point['failure']}"
    if point["ideal"] and point["tasks_per_s"] >= BUSY * point["ideal"]:
        return "nothing yet: at the latency bound (slots ÷ latency)"
    if point["worker_cores"] >= BUSY:
        return f"CPU of the worker process ({point['worker_cores']:.2f} of one core, one GIL)"
    if point["target_cores"] >= BUSY:
        return f"the latency target ({point['target_cores']:.2f} of its one core)"
    if point["machine_cpu_percent"] >= 100 * BUSY:
        return f"the machine's cores ({point['machine_cpu_percent']:.0f}% busy: worker, Redis, target, producer)"
    if point["tasks_per_s"] >= BUSY * ceiling:
        return f"the worker's own ceiling with no wait ({ceiling:,.0f}/s: consumer + tracer)"
    return "per-task overhead (no single resource saturated)"


def stops_scaling(points: dict[int, dict[str, Any]], ceiling: float) -> str:
    """Where a model stopped gaining from more slots, and what bounded it there."""
    ordered = sorted(points)
    for low, high in itertools.pairwise(ordered):
        gain = points[high]["tasks_per_s"] / max(points[low]["tasks_per_s"], 1e-9)
        if gain - 1 < SCALING_SHARE * (high / low - 1):
            return f"stops scaling between -c {low} and -c {high} (×{gain:.2f} for ×{high // low} slots): " + why(
                points[high], ceiling
            )
    return f"still scaling at -c {ordered[-1]}: " + why(points[ordered[-1]], ceiling)


def main(argv: list[str] | None = None) -> None:
    """Head to head at -c 256 (alternating), the no-wait ceilings, then the sweep; one JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ms", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweep", default="64,256,1024")
    options = parser.parse_args(argv)
    sweep = [int(c) for c in options.sweep.split(",")]
    load_before = os.getloadavg()[0]
    rows: dict[str, Any] = {}
    with lab_environment(LAB_ASYNC_CONCURRENCY=str(HEAD_TO_HEAD_SLOTS)):
        from config.settings import get_settings
        from worker.app import app

        settings = get_settings()
        with running_target(settings.target_port) as target:
            head: dict[str, list[dict[str, Any]]] = {model: [] for model in MODELS}
            count = 6 * HEAD_TO_HEAD_SLOTS
            with _worker(app, "asyncio", HEAD_TO_HEAD_SLOTS) as a, _worker(app, "threads", HEAD_TO_HEAD_SLOTS) as t:
                running = {"asyncio": a, "threads": t}
                for model, (pid, queue, _) in running.items():  # warm-up: every slot, every connection
                    measure_point(
                        app, model, pid, queue, HEAD_TO_HEAD_SLOTS, options.ms, HEAD_TO_HEAD_SLOTS, target.pid
                    )
                no_wait: dict[str, list[float]] = {model: [] for model in MODELS}
                for _ in range(options.repeats):
                    for model, (pid, queue, fresh) in running.items():
                        point = measure_point(app, model, pid, queue, HEAD_TO_HEAD_SLOTS, options.ms, count, target.pid)
                        head[model].append({**point, "pss_at_start_mb": fresh})
                        print(f"  {model:<8} -c {HEAD_TO_HEAD_SLOTS}: {point['tasks_per_s']:,.1f}/s", flush=True)
                        no_wait[model].append(
                            measure_point(app, model, pid, queue, HEAD_TO_HEAD_SLOTS, 0, 2000, target.pid)[
                                "tasks_per_s"
                            ]
                        )
                ceilings = {model: statistics.median(values) for model, values in no_wait.items()}
            swept: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in MODELS}
            for slots in sweep:
                for model in MODELS:
                    with _worker(app, model, slots) as (pid, queue, fresh):
                        measure_point(app, model, pid, queue, slots, options.ms, slots, target.pid)
                        point = measure_point(
                            app, model, pid, queue, slots, options.ms, max(3 * slots, 600), target.pid
                        )
                        swept[model][slots] = {**point, "pss_at_start_mb": fresh}
                        swept[model][slots]["added_kib_per_slot"] = added_per_slot(swept[model][slots], slots)
                        print(f"  sweep {model:<8} -c {slots}: {point['tasks_per_s']:,.1f}/s", flush=True)
    med = {
        model: {key: statistics.median(p[key] for p in runs) for key in ("tasks_per_s", "pss_per_slot_mb")}
        | {"added_kib_per_slot": statistics.median(added_per_slot(p, HEAD_TO_HEAD_SLOTS) for p in runs)}
        for model, runs in head.items()
    }
    for model, runs in head.items():
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} tasks/s"] = med[model]["tasks_per_s"]
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} runs"] = [round(p["tasks_per_s"], 1) for p in runs]
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} PSS per slot, MiB"] = med[model]["pss_per_slot_mb"]
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} PSS at start, MiB"] = runs[0]["pss_at_start_mb"]
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} PSS added per slot in flight, KiB"] = med[model]["added_kib_per_slot"]
        rows[f"{model} -c {HEAD_TO_HEAD_SLOTS} worker cores"] = statistics.median(p["worker_cores"] for p in runs)
        rows[f"{model} no-wait ceiling (size 0), tasks/s"] = ceilings[model]
    rows["ideal at -c 256"] = HEAD_TO_HEAD_SLOTS * 1000 / options.ms
    rows["sweep"] = {model: {str(c): _rounded(p) for c, p in points.items()} for model, points in swept.items()}
    verdicts = [f"{model}: {stops_scaling(points, ceilings[model])}" for model, points in swept.items()]
    report(
        "asyncio",
        f"io_http_async on asyncio vs io_http on threads, {options.ms} ms latency target, median of {options.repeats}",
        rows,
        {
            "asyncio -c 256 io_http_async / threads -c 256 io_http (tasks/s)": (
                med["asyncio"]["tasks_per_s"] / med["threads"]["tasks_per_s"],
                ">= 1",
            ),
            "asyncio / threads PSS per slot at -c 256": (
                med["asyncio"]["pss_per_slot_mb"] / med["threads"]["pss_per_slot_mb"],
                "<= 1",
            ),
            "asyncio / threads PSS added per slot in flight at -c 256": (
                med["asyncio"]["added_kib_per_slot"] / max(med["threads"]["added_kib_per_slot"], 1e-9),
                "reported",
            ),
        },
        [
            *verdicts,
            f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} shared cores",
            "PSS per slot = the worker's peak PSS during the batch ÷ slots (its idle base included); "
            "PSS added per slot = (peak − PSS of the fresh worker) ÷ slots",
        ],
    )


def added_per_slot(point: dict[str, Any], slots: int) -> float:
    """KiB of PSS the worker gained from its start to the batch's peak, per slot: the cost of a slot in flight."""
    return max(0.0, (point["peak_pss_mb"] or 0.0) - point["pss_at_start_mb"]) * 1024 / slots


def _rounded(point: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in point.items()}


if __name__ == "__main__":
    main()
