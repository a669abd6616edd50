"""From a compare's runs to its cells: medians, speedups, efficiency vs the ideal, the bottleneck, verdicts.

Plain functions over the JSON-ready run dicts, so `producer report` can recompute from a record.

- Ideal: CPU workloads — min(slots, cores) tasks at once, each taking the measured single-task CPU
  time t (median thread CPU time over the workload's runs); I/O workloads — ``slots`` waits of
  ``size`` ms at once. Both for a batch of ``count`` tasks: count / (⌈count / slots⌉ × t).
- Bottleneck: the lowest of the bounds that apply — cores (worker CPU per task; in a GIL pool one core
  per worker process, unless the work releases the GIL), concurrency / latency (I/O), and the consumer
  ceiling (Celery cells): the no-op throughput of those very workers, measured in the same run
  (producer/measure/ceiling.py; the pool's ``consumer_ceiling_tps``). A no-op cell is its own ceiling.

Cells are per workload × pool × Celery mode (``celery``: stock, lab) × broker (``broker``: redis,
rabbitmq); both None for in-process baselines.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from config import catalogue
from producer.measure.memory import median_figures
from producer.measure.verdicts import verdicts

#: Below this share of the tightest bound, a cell's limit is not explained by the bounds we know.
EXPLAINED_SHARE = 0.5


def is_io(workload: str) -> bool:
    """Workloads that wait (the catalogue's ``kind == "wait"``): slots beyond the cores still help."""
    return catalogue.workload(workload).waits


def _has_ideal(workload: str) -> bool:
    return catalogue.workload(workload).has_ideal


def _gil_bound(workload: str, pool: str) -> bool:
    """Pure-Python work in one process of this pool takes turns on one GIL (unless the work releases it)."""
    return catalogue.any_pool(pool).gil_per_process and not catalogue.workload(workload).releases_gil


def _in_process(pool: str) -> bool:
    return catalogue.any_pool(pool).is_baseline


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _ideal(workload: str, count: int, slots: int, cores: int, task_s: float) -> float:
    parallel = slots if is_io(workload) else min(slots, cores)
    if not _has_ideal(workload) or parallel < 1 or not task_s or math.isnan(task_s):
        return math.nan  # noop does no work: there is no ideal, only the queue's own cost
    return count / (math.ceil(count / parallel) * task_s)


def _bounds(
    workload: str,
    pool: str,
    info: dict[str, Any],
    runs: list[dict[str, Any]],
    *,
    cores: int,
    count: int,
    task_s: float,
    size_ms: int,
    own_tps: float,
) -> list[tuple[str, float, str]]:
    """(name, tasks/s bound, the figures behind it) for every limit that applies to this cell.

    Slots beyond the batch size cannot help, so a bound uses min(slots, count) and whole waves.
    """
    concurrency = int(info["concurrency"])
    slots = min(concurrency, count)
    slot_text = f"{slots} slots" if slots == concurrency else f"min({concurrency} slots, {count} tasks)"
    processes = max(1, len(info.get("nodes") or []) or _median([r["processes"] for r in runs]) or 1)
    bounds = []
    completed = sum(r["completed"] for r in runs)
    worker_cpu = [r["worker_cpu_s"] for r in runs if r.get("worker_cpu_s") is not None]
    cpu_per_task = sum(worker_cpu) / completed if worker_cpu and completed else math.nan
    if (not is_io(workload) and _has_ideal(workload)) or not math.isnan(cpu_per_task):
        per_task = max(task_s if not is_io(workload) else 0.0, 0.0 if math.isnan(cpu_per_task) else cpu_per_task)
        # One process of a GIL pool runs Python — the task's and Celery's own per-task work — on one core
        # at a time; only work that releases the GIL (cpu_nogil's hashing) can spread over more.
        gil_bound = _gil_bound(workload, pool)
        usable = min(cores, int(processes)) if gil_bound else min(cores, slots)
        if per_task > 0:
            label = "GIL: 1 core/process" if gil_bound and usable < cores else "cores"
            source = "worker CPU" if not math.isnan(cpu_per_task) else "task CPU"
            bounds.append(
                (
                    label,
                    count / (math.ceil(count / usable) * per_task),
                    f"{usable} core(s) / {per_task * 1000:,.1f} ms {source} per task",
                )
            )
    if is_io(workload) and size_ms > 0:
        bounds.append(
            (
                "concurrency÷latency",
                count / (math.ceil(count / slots) * size_ms / 1000.0),
                f"{slot_text} / {size_ms} ms",
            )
        )
    ceiling = consumer_ceiling(workload, pool, info, own_tps)
    if ceiling is not None:
        consumers = len(info.get("nodes") or []) or 1
        source = "this no-op cell itself" if not _has_ideal(workload) else "a no-op probe"
        bounds.append(("consumer ceiling", ceiling, f"{consumers} worker process(es), {source}: {ceiling:,.1f}/s"))
    return bounds


def consumer_ceiling(workload: str, pool: str, info: dict[str, Any], own_tps: float) -> float | None:
    """The measured no-op throughput of the cell's workers: a no-op cell's own median, else the pool's probe."""
    if _in_process(pool):
        return None
    if not _has_ideal(workload):
        return own_tps if own_tps > 0 and not math.isnan(own_tps) else None
    measured = info.get("consumer_ceiling_tps")
    return float(measured) if measured else None


def pool_info(pools_info: dict[str, Any], pool: str, celery: str | None, broker: str | None = None) -> dict[str, Any]:
    """A cell's pool entry: ``pool/mode/broker``, ``pool/broker`` or ``pool/mode`` (as what ran) or ``pool``."""
    keys = [f"{pool}/{celery}/{broker}", f"{pool}/{broker}", f"{pool}/{celery}", pool]
    found = next((pools_info[key] for key in keys if key in pools_info), {"concurrency": 1, "nodes": []})
    return dict(found)


def cpu_ms_per_task(runs: list[dict[str, Any]], field: str) -> float | None:
    """Median over runs of ``field`` (CPU seconds: ``broker_cpu_s``, ``worker_cpu_s``) per completed task, in ms."""
    per_task = [1000 * r[field] / r["completed"] for r in runs if r.get(field) is not None and r["completed"]]
    return _median(per_task) if per_task else None


def _bottleneck(bounds: list[tuple[str, float, str]], throughput: float) -> dict[str, Any]:
    if not bounds or math.isnan(throughput):
        return {"name": "–", "bound": None, "share": None, "figures": "no bound applies (no work per task, no queue)"}
    name, bound, figures = min(bounds, key=lambda b: b[1])
    share = throughput / bound if bound > 0 else math.nan
    if share < EXPLAINED_SHARE:
        return {
            "name": "overhead",
            "bound": bound,
            "share": share,
            "figures": f"nearest bound {name}: {figures} → ≤ {bound:,.1f}/s; got only {share:.0%}: "
            "per-task queue/CPU overhead (or a busy machine)",
        }
    return {"name": name, "bound": bound, "share": share, "figures": f"{figures} → ≤ {bound:,.1f}/s; got {share:.0%}"}


def analyse(
    runs: list[dict[str, Any]],
    pools_info: dict[str, dict[str, Any]],
    count: int,
    sizes: dict[str, int],
    *,
    cores: int,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Cells (one per workload × pool × Celery mode, in run order) and a one-line verdict per workload (and mode)."""
    grouped: dict[tuple[str, str, str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        grouped[(run["workload"], run["pool"], run.get("celery"), run.get("broker"))].append(run)
    task_cpu: dict[str, float] = {}
    for workload in {key[0] for key in grouped}:
        solo = [
            r["timings"]["thread_cpu_s"]["p50"]
            for (w, p, _, _), rs in grouped.items()
            if w == workload and p == catalogue.REFERENCE_POOL
            for r in rs
        ]
        every = [r["timings"]["thread_cpu_s"]["p50"] for key, rs in grouped.items() if key[0] == workload for r in rs]
        task_cpu[workload] = _median([v for v in (solo or every) if v is not None])
    cells: list[dict[str, Any]] = []
    for (workload, pool, celery, broker), cell_runs in grouped.items():
        info = pool_info(pools_info, pool, celery, broker)
        throughputs = [r["throughput"] for r in cell_runs]
        median_tp = _median(throughputs)
        size_ms = sizes.get(workload, 0)
        task_s = size_ms / 1000.0 if is_io(workload) else task_cpu[workload]
        ideal = _ideal(workload, count, int(info["concurrency"]), cores, task_s)
        cpu_mean = _median(
            [
                r["timings"]["thread_cpu_s"]["mean"]
                for r in cell_runs
                if r["timings"]["thread_cpu_s"]["mean"] is not None
            ]
        )
        run_mean = _median(
            [r["timings"]["run_time_s"]["mean"] for r in cell_runs if r["timings"]["run_time_s"]["mean"] is not None]
        )
        bounds = _bounds(
            workload,
            pool,
            info,
            cell_runs,
            cores=cores,
            count=count,
            task_s=task_s,
            size_ms=size_ms,
            own_tps=median_tp,
        )
        cells.append(
            {
                "workload": workload,
                "pool": pool,
                "kind": "in-process" if _in_process(pool) else "celery",
                "concurrency": info["concurrency"],
                "runs": len(cell_runs),
                "throughput_median": median_tp,
                "throughput_min": min(throughputs),
                "throughput_max": max(throughputs),
                "latency_p50_s": _median(
                    [
                        r["timings"]["latency_s"]["p50"]
                        for r in cell_runs
                        if r["timings"]["latency_s"]["p50"] is not None
                    ]
                ),
                "latency_p95_s": _median(
                    [
                        r["timings"]["latency_s"]["p95"]
                        for r in cell_runs
                        if r["timings"]["latency_s"]["p95"] is not None
                    ]
                ),
                "thread_cpu_mean_s": cpu_mean,
                "run_time_mean_s": run_mean,
                "cpu_share": cpu_mean / run_mean if run_mean and not math.isnan(run_mean) else math.nan,
                "ideal_throughput": ideal,
                "efficiency": median_tp / ideal if ideal and not math.isnan(ideal) else math.nan,
                "submitted": sum(r["submitted"] for r in cell_runs),
                "completed": sum(r["completed"] for r in cell_runs),
                "failed": sum(r["failed"] for r in cell_runs),
                "lost": sum(r["lost"] for r in cell_runs),
                "checks_agree": all(r["check"]["agree"] for r in cell_runs),
                "others_cores": _median([r.get("others_cores", 0.0) or 0.0 for r in cell_runs]),
                "check_notes": [r["check"]["note"] for r in cell_runs if not r["check"]["agree"]],
                "bottleneck": _bottleneck(bounds, median_tp),
                "celery": celery,
                "memory": median_figures([r.get("memory") for r in cell_runs]),
                "consumer_ceiling_tps": consumer_ceiling(workload, pool, info, median_tp),
                "broker": broker,
                "broker_cpu_ms_per_task": cpu_ms_per_task(cell_runs, "broker_cpu_s"),
                "worker_cpu_ms_per_task": cpu_ms_per_task(cell_runs, "worker_cpu_s"),
            }
        )
    for cell in cells:
        solos = [c for c in cells if c["workload"] == cell["workload"] and c["pool"] == catalogue.REFERENCE_POOL]
        # the solo of the same mode and broker; a baseline (neither) is set against the first solo
        same = (c for c in solos if c["celery"] == cell["celery"] and c.get("broker") == cell.get("broker"))
        solo_cell = next(same, solos[0] if solos else None)
        cell["speedup_vs_solo"] = (
            cell["throughput_median"] / solo_cell["throughput_median"]
            if solo_cell and solo_cell["throughput_median"]
            else math.nan
        )
    return cells, verdicts(cells)
