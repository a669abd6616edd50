"""`producer compare`: the same batch on each pool's queue, interleaved, repeated, with in-process baselines.

Per workload: one unrecorded warm-up batch per pool, then ``repeat`` rounds; each round runs every
pool once (the order rotates between rounds so no pool always goes first) and the in-process
baselines, purging the pool's queue before each batch. Every batch is cross-checked: the results
counted in the backend by an independent SCAN, and the throughput seen by the producer's own clock.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import Celery
from rich.console import Console

from config import catalogue
from config.settings import LabSettings
from producer.batch.run import broker_and_backend, run_batch
from producer.measure import cpu_share, inprocess
from producer.measure.analysis import analyse
from producer.measure.cross_check import cross_check
from producer.measure.record_models import CompareRecord
from producer.measure.records import environment, latency_samples, timing_summary
from producer.processes import fleet, interpreters
from worker.task_args import WorkloadArgs, default_size

#: A 1-minute load average above this many runnable processes per core means others compete with the run.
BUSY_LOAD_PER_CORE = 0.75


@dataclass
class ComparePlan:
    """What to compare: workloads × pools, batch size, repeats, sizes, and whether to add baselines."""

    workloads: list[str]
    pools: list[str]
    count: int
    repeat: int
    sizes: dict[str, int] = field(default_factory=dict)
    baselines: bool = True
    timeout_s: float = 600.0

    def args_for(self, workload: str, settings: LabSettings) -> WorkloadArgs:
        """The workload's arguments (its size from ``--sizes`` or the default)."""
        url = settings.effective_target_url if catalogue.workload(workload).takes_url else ""
        return WorkloadArgs(workload, self.sizes.get(workload, default_size(workload)), url)


def _run_figures(
    workload: str,
    pool: str,
    repeat: int,
    records: list[dict[str, Any]],
    *,
    submitted: int,
    failed: int,
    lost: int,
    throughput: float,
    wall_s: float,
    processes: int,
    worker_cpu_s: float | None,
    others_cores: float,
    check: dict[str, Any],
) -> dict[str, Any]:
    return {
        "workload": workload,
        "pool": pool,
        "repeat": repeat,
        "submitted": submitted,
        "completed": len(records),
        "failed": failed,
        "lost": lost,
        "throughput": throughput,
        "wall_s": wall_s,
        "processes": processes,
        "worker_cpu_s": worker_cpu_s,
        "others_cores": others_cores,
        "timings": timing_summary(records),
        "latency_samples": latency_samples(records),
        "reported_pools": sorted({str(r["pool"]) for r in records if "pool" in r}),
        "check": check,
    }


def warmup_count(count: int, concurrency: int, workload: str) -> int:
    """A warm-up batch that touches every slot for I/O (keep-alive sessions), a few tasks for CPU."""
    slots = concurrency if catalogue.workload(workload).waits else min(concurrency, os.cpu_count() or 1)
    return max(1, min(count, slots))


def _celery_run(
    app: Celery,
    settings: LabSettings,
    plan: ComparePlan,
    workers: fleet.PoolWorkers,
    args: WorkloadArgs,
    repeat: int,
    lab_pids: list[int],
) -> dict[str, Any]:
    broker, backend = broker_and_backend(settings)
    fleet.purge_queue(app, workers.queue)
    cpu_before = fleet.cpu_seconds(workers.pids)
    shares_before = cpu_share.snapshot(lab_pids, broker)
    outcome = run_batch(app, settings, args, plan.count, workers.queue, timeout_s=plan.timeout_s)
    others = cpu_share.others_cores(shares_before, cpu_share.snapshot(lab_pids, broker))
    cpu_after = fleet.cpu_seconds(workers.pids)
    worker_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    summary = outcome.summary
    return _run_figures(
        args.workload,
        workers.pool,
        repeat,
        outcome.collected.records,
        submitted=summary.submitted,
        failed=summary.failed,
        lost=summary.lost,
        throughput=summary.throughput,
        wall_s=summary.wall_s,
        processes=summary.per_process,
        worker_cpu_s=worker_cpu,
        others_cores=others,
        check=cross_check(outcome, backend),
    )


def _baseline_run(
    name: str,
    workers: int,
    settings: LabSettings,
    plan: ComparePlan,
    args: WorkloadArgs,
    repeat: int,
    lab_pids: list[int],
) -> dict[str, Any]:
    broker, _ = broker_and_backend(settings)
    shares_before = cpu_share.snapshot(lab_pids, broker)
    run = inprocess.run_baseline(name, workers, args, plan.count)
    others = cpu_share.others_cores(shares_before, cpu_share.snapshot(lab_pids, broker))
    return _run_figures(
        args.workload,
        name,
        repeat,
        run.records,
        submitted=plan.count,
        failed=0,
        lost=plan.count - len(run.records),
        throughput=run.throughput,
        wall_s=run.wall_s,
        processes=len({r["pid"] for r in run.records}),
        worker_cpu_s=None,
        others_cores=others,
        check={"backend_results": None, "producer_throughput": run.throughput, "agree": True, "note": "in-process"},
    )


def baseline_workers(name: str, settings: LabSettings) -> int:
    """The executor's workers, by the baseline's catalogue rule (threads: the I/O setting; processes: cores)."""
    return catalogue.any_pool(name).concurrency(settings)


def run_compare(app: Celery, settings: LabSettings, plan: ComparePlan, console: Console | None = None) -> CompareRecord:
    """Run the plan and return its record: environment, pools, every run, cells and verdicts."""
    runs: list[dict[str, Any]] = []
    say = console.print if console else (lambda *_: None)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy = load_before > BUSY_LOAD_PER_CORE * (os.cpu_count() or 1)
    if busy:
        say(
            f"[yellow]note[/]: the machine is busy before the run (load {load_before:.1f} on {os.cpu_count()} "
            "cores): other processes compete for the cores, CPU-bound figures will be low and noisy"
        )
    needs_target = any(catalogue.workload(w).takes_url for w in plan.workloads)
    with (
        fleet.latency_target(settings) if needs_target else nullcontext(),
        fleet.pool_workers(app, settings, plan.pools) as workers,
    ):
        for pool, found in workers.items():
            origin = "started here" if found.started_here else "already running"
            say(f"{pool:<14} {found.concurrency:>3} slots on {len(found.nodes)} worker(s) ({origin})")
        lab_pids = [pid for found in workers.values() for pid in found.pids]
        for workload in plan.workloads:
            args = plan.args_for(workload, settings)
            for pool in plan.pools:
                fleet.purge_queue(app, pool)
                run_batch(
                    app,
                    settings,
                    args,
                    warmup_count(plan.count, workers[pool].concurrency, workload),
                    pool,
                    timeout_s=plan.timeout_s,
                )
            for repeat in range(plan.repeat):
                order = plan.pools[repeat % len(plan.pools) :] + plan.pools[: repeat % len(plan.pools)]
                for pool in order:
                    runs.append(_celery_run(app, settings, plan, workers[pool], args, repeat, lab_pids))
                    _say_run(say, runs[-1])
                if plan.baselines:
                    for name in catalogue.BASELINES:
                        runs.append(
                            _baseline_run(
                                name, baseline_workers(name, settings), settings, plan, args, repeat, lab_pids
                            )
                        )
                        _say_run(say, runs[-1])
        pools_info = {
            pool: {
                "concurrency": w.concurrency,
                "nodes": w.nodes,
                "started_here": w.started_here,
                "concurrency_rule": concurrency_rule(pool),
            }
            for pool, w in workers.items()
        }
    if plan.baselines:
        for name in catalogue.BASELINES:
            pools_info[name] = {
                "concurrency": baseline_workers(name, settings),
                "nodes": [],
                "started_here": True,
                "concurrency_rule": concurrency_rule(name),
            }
    cells, verdicts = analyse(
        runs,
        pools_info,
        plan.count,
        {w: plan.args_for(w, settings).size for w in plan.workloads},
        cores=os.cpu_count() or 1,
        consumer_ceiling_tps=settings.consumer_ceiling_tps,
    )
    return CompareRecord.model_validate(
        {
            "environment": environment(
                settings,
                interpreters=_interpreters(settings, plan.pools),
                load_before=round(load_before, 2),
                busy_before=busy,
            ),
            "plan": {**asdict(plan), "sizes": {w: plan.args_for(w, settings).size for w in plan.workloads}},
            "pools": pools_info,
            "runs": runs,
            "cells": cells,
            "verdicts": verdicts,
        }
    )


def concurrency_rule(pool: str) -> str:
    """Why a pool gets the concurrency it gets (shown in the report)."""
    entry = catalogue.find_pool(pool)
    return entry.concurrency_rule if entry else "as the running worker reports"


def _interpreters(settings: LabSettings, pools: list[str]) -> dict[str, Any] | None:
    """For pools on another interpreter (free-threaded): which Python, and whether its GIL is really off."""
    found: dict[str, Any] = {}
    for name in pools:
        entry = catalogue.pool(name)
        if entry.interpreter == "default":
            continue
        python = interpreters.interpreter_for(entry, settings)
        found[name] = {
            "interpreter": entry.interpreter,
            "python": python,
            "gil_enabled": interpreters.gil_enabled_with_worker(entry, python) if python else None,
        }
    return found or None


def _say_run(say: Any, run: dict[str, Any]) -> None:
    flag = "" if run["check"]["agree"] else f"  [red]CHECK: {run['check']['note']}[/]"
    lost = f", {run['failed']} failed, {run['lost']} lost" if run["failed"] or run["lost"] else ""
    say(
        f"  {run['workload']:<9} {run['pool']:<17} #{run['repeat'] + 1}  {run['throughput']:>9,.1f} tasks/s{lost}{flag}"
    )
