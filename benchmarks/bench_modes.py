"""Stock vs lab Celery per pool: no-op and 100 ms I/O throughput, lab ÷ stock with its noise, worker CPU per task.

A thin wrapper over the product's own ``producer compare --celery both`` (``producer/measure/compare.py``:
``run_compare`` with ``ComparePlan(celery="both")``): per pool a worker of each mode on its own queue, one
unrecorded warm-up batch per cell, then ``--repeats`` rounds, each running the stock and the lab cell of
every pool once (the order rotates between rounds: stock, lab / lab, stock …), every task counted and
cross-checked, the workers' CPU (``fleet.cpu_seconds``) read around each batch. From its record this
takes, per pool × workload, each mode's median and min–max tasks/s, lab ÷ stock, whether that ratio lies
beyond both cells' repeat ranges (``modes.mode_ratios``), and each mode's worker CPU per task: the
reason for the difference. The no-op runs in one compare over all pools (one batch size for all). The
I/O batch of a pool is ``--waves`` × its default slots (at least 20 tasks, at most ``--max-io-count``),
so that a pool with many slots is bound by its worker, not trivially by the 100 ms; pools with the same
batch size share one compare (one start of their workers: solo and prefork; threads, gevent and
asyncio, whose ~400/s ceiling makes 384 tasks last ~1 s against 256 slots). The asyncio pool runs only
``async def`` workloads: it gets ``io_sleep_async`` and its no-op is skipped with the catalogue's reason.

    .venv/bin/python -m benchmarks.bench_modes [--repeats 3] [--noop-count 500] [--ms 100] [--pools …]
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

from benchmarks.common import lab_environment, report

DEFAULT_POOLS = "prefork,threads,solo,gevent,asyncio"
#: I/O batches never smaller than this (solo: 2 s of 100 ms tasks), nor larger than ``--max-io-count``.
MIN_IO_COUNT = 20


def io_workload(pool: str) -> str:
    """The I/O workload a pool runs: ``io_sleep``, or ``io_sleep_async`` on a pool that runs only coroutines."""
    from config import catalogue

    return "io_sleep_async" if catalogue.pool(pool).runs_coroutines else "io_sleep"


def io_count(slots: int, waves: int, cap: int) -> int:
    """Tasks in an I/O batch: ``waves`` rounds of every slot, at least :data:`MIN_IO_COUNT`, at most ``cap``."""
    return min(max(waves * slots, MIN_IO_COUNT), cap)


def io_groups(pools: list[str], settings: Any, waves: int, cap: int) -> dict[int, list[str]]:
    """The pools by I/O batch size (:func:`io_count` of their default slots): one compare per size, so that
    pools of the same size share one start of their workers."""
    from config import catalogue

    groups: dict[int, list[str]] = {}
    for pool in pools:
        groups.setdefault(io_count(catalogue.pool(pool).concurrency(settings), waves, cap), []).append(pool)
    return groups


def compare_both(
    app: Any, settings: Any, workloads: list[str], pools: list[str], count: int, repeats: int, size: int
) -> Any:
    """``producer compare --celery both`` of ``workloads`` on ``pools`` (each workload on the pools that run it),
    no baselines, no class probe: its record."""
    from rich.console import Console

    from producer.measure.compare import ComparePlan, run_compare

    plan = ComparePlan(
        workloads=workloads,
        pools=pools,
        count=count,
        repeat=repeats,
        sizes=dict.fromkeys(workloads, size),
        baselines=False,
        probe=False,
        celery="both",
    )
    return run_compare(app, settings, plan, Console(highlight=False, width=160))


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def mode_figures(record: Any, workload: str, pool: str, mode: str) -> dict[str, Any]:
    """One pool × workload × mode: tasks/s per run and their spread, worker CPU ms per task, slots, ceiling, memory."""
    runs = [r for r in record.runs if r.workload == workload and r.pool == pool and r.celery == mode]
    cell = next(c for c in record.cells if c.workload == workload and c.pool == pool and c.celery == mode)
    info = record.pools.get(f"{pool}/{mode}")
    cpu_ms = [r.worker_cpu_s * 1000 / r.completed for r in runs if r.worker_cpu_s is not None and r.completed]
    tps = _spread([r.throughput for r in runs if r.throughput is not None])
    return {
        "tasks_per_s": tps["median"],
        "tasks_per_s_min": tps["min"],
        "tasks_per_s_max": tps["max"],
        "runs_tasks_per_s": [round(r.throughput or 0.0, 1) for r in runs],
        "worker_cpu_ms_per_task": _spread(cpu_ms)["median"],
        "worker_cpu_ms_per_task_runs": [round(v, 3) for v in cpu_ms],
        "slots": info.concurrency if info else cell.concurrency,
        "consumer_ceiling_tps": info.consumer_ceiling_tps if info else None,
        "peak_pss_mb": cell.memory.peak_pss_mb if cell.memory else None,
        "failed": cell.failed,
        "lost": cell.lost,
        "checks_agree": cell.checks_agree,
    }


def _disjoint(stock: dict[str, Any], lab: dict[str, Any]) -> bool:
    """True when the two modes' min–max ranges of tasks/s do not overlap."""
    if None in (stock["tasks_per_s_min"], stock["tasks_per_s_max"], lab["tasks_per_s_min"], lab["tasks_per_s_max"]):
        return False
    return bool(lab["tasks_per_s_min"] > stock["tasks_per_s_max"] or lab["tasks_per_s_max"] < stock["tasks_per_s_min"])


def cells_of(record: Any, size: int, count: int) -> list[dict[str, Any]]:
    """Per pool × workload of a ``--celery both`` record: both modes' figures, lab ÷ stock, beyond noise or not."""
    cells = []
    for ratio in record.mode_ratios:
        stock = mode_figures(record, ratio.workload, ratio.pool, "stock")
        lab = mode_figures(record, ratio.workload, ratio.pool, "lab")
        cpu_ratio = (
            lab["worker_cpu_ms_per_task"] / stock["worker_cpu_ms_per_task"]
            if lab["worker_cpu_ms_per_task"] and stock["worker_cpu_ms_per_task"]
            else None
        )
        cells.append(
            {
                "pool": ratio.pool,
                "workload": ratio.workload,
                "size": size,
                "count": count,
                "repeats": record.plan.repeat,
                "stock": stock,
                "lab": lab,
                "lab_over_stock": ratio.lab_over_stock,
                "beyond_noise": ratio.beyond_noise,
                # Stricter: every run of one mode beat every run of the other.
                "ranges_disjoint": _disjoint(stock, lab),
                "cpu_per_task_lab_over_stock": cpu_ratio,
                # CPU times tick in 1/CLK_TCK s per process: that ÷ the batch's tasks is the per-task resolution.
                "cpu_tick_ms_per_task": 1000 / os.sysconf("SC_CLK_TCK") / count,
            }
        )
    return cells


def _line(cell: dict[str, Any]) -> str:
    """``stock 612/s [580–640], 1.61 ms CPU/task | lab 850/s [820–900], 1.10 ms | 1.39× (beyond noise)``."""

    def side(f: dict[str, Any]) -> str:
        cpu = f["worker_cpu_ms_per_task"]
        return f"{f['tasks_per_s']:,.1f}/s [{f['tasks_per_s_min']:,.1f}–{f['tasks_per_s_max']:,.1f}], " + (
            f"{cpu:.2f} ms CPU/task" if cpu is not None else "CPU n/a"
        )

    noise = "beyond noise" if cell["beyond_noise"] else "within noise"
    noise += ", ranges disjoint" if cell["ranges_disjoint"] else ""
    return f"stock {side(cell['stock'])} | lab {side(cell['lab'])} | ×{cell['lab_over_stock']:.2f} ({noise})"


def main(argv: list[str] | None = None) -> None:
    """The no-op over every pool, then the I/O per pool, each ``--celery both``; one JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default=DEFAULT_POOLS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--noop-count", type=int, default=400)
    parser.add_argument("--ms", type=int, default=100)
    parser.add_argument("--waves", type=int, default=6, help="I/O batch = waves × the pool's default slots")
    parser.add_argument("--max-io-count", type=int, default=384)
    options = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with lab_environment():
        from config import catalogue
        from config.settings import get_settings
        from producer.measure import modes
        from worker.app import app

        settings = get_settings()
        pools = [p.strip() for p in options.pools.split(",") if p.strip()]
        noop_pools = [p for p in pools if catalogue.refusal(p, "noop") is None]
        skipped = [
            {"pool": p, "workload": "noop", "reason": reason} for p in pools if (reason := catalogue.refusal(p, "noop"))
        ]
        cells: list[dict[str, Any]] = []
        if noop_pools:
            print(f"-- noop, {options.noop_count} tasks per batch, pools {', '.join(noop_pools)}", flush=True)
            record = compare_both(app, settings, ["noop"], noop_pools, options.noop_count, options.repeats, 0)
            cells += cells_of(record, 0, options.noop_count)
        for count, group in io_groups(pools, settings, options.waves, options.max_io_count).items():
            workloads = list(dict.fromkeys(io_workload(pool) for pool in group))
            print(
                f"-- {'/'.join(workloads)} {options.ms} ms on {', '.join(group)}, {count} tasks per batch", flush=True
            )
            record = compare_both(app, settings, workloads, group, count, options.repeats, options.ms)
            cells += cells_of(record, options.ms, count)
        celery_modes = {
            mode: info.model_dump(mode="json") for mode, info in modes.describe_all(settings, ["stock", "lab"]).items()
        }
    lost = [c for c in cells if c["stock"]["lost"] or c["lab"]["lost"] or c["stock"]["failed"] or c["lab"]["failed"]]
    if lost:
        raise RuntimeError(f"tasks failed or were lost in {[(c['workload'], c['pool']) for c in lost]}")
    versions = {k: celery_modes["stock"][k] for k in ("celery", "kombu", "redis_py", "python")}
    report(
        "modes",
        f"stock vs lab Celery: no-op and {options.ms} ms I/O, tasks/s, median of {options.repeats}, interleaved",
        {
            **{f"{c['workload']} {c['pool']} -c{c['stock']['slots']}": _line(c) for c in cells},
            **{f"{s['workload']} {s['pool']}": f"skipped: {s['reason']}" for s in skipped},
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        },
        {f"{c['workload']} {c['pool']}: lab ÷ stock tasks/s": (c["lab_over_stock"] or 0.0, "reported") for c in cells},
        [
            "each cell: producer compare --celery both (the product's machinery), stock and lab interleaved, "
            "every task counted and cross-checked; beyond noise = the ratio lies outside both cells' min–max ÷ median "
            "(modes.mode_ratios; a tight pair of ranges flags even a 1 % change), ranges disjoint = every run of one "
            "mode beat every run of the other",
            "worker CPU per task = the workers' CPU seconds (fleet.cpu_seconds, children included) around each "
            "batch ÷ its tasks, median over the repeats; CPU times tick in 10 ms per process, so on the 20-task I/O "
            "batches a difference under ~0.5 ms per task is below the clock's resolution (cpu_tick_ms_per_task)",
            f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} shared cores",
        ],
        extra={"cells": cells, "skipped": skipped, "celery_modes": celery_modes, "versions": versions},
    )


if __name__ == "__main__":
    main()
