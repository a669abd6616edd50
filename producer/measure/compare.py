"""`producer compare`: the same batch on each pool's queue, interleaved, repeated, with in-process baselines.

Celery cells are pool × mode (``--celery stock|lab|both``) × broker (``--broker redis,rabbitmq``: the
same batches on each broker, producer/broker/sides.py); producer/measure/compare_setup.py finds or
starts the workers of each. After each measured batch of a workload that does work, a no-op probe
batch on the same workers measures their consumer ceiling (the best batch counts). Per workload: one
unrecorded warm-up batch per cell, then ``repeat`` rounds; each round runs every cell once (the order
rotates between rounds so no cell always goes first) and the in-process baselines, purging the cell's
queue before each batch. Every batch is cross-checked: the results counted in the backend by an
independent SCAN, and the throughput seen by the producer's own clock. The workers' memory (PSS/USS)
is sampled during every batch (producer/measure/memory.py).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import Celery
from rich.console import Console

from config import catalogue
from config.settings import LabSettings
from producer.batch.run import run_batch
from producer.broker import sides as broker_sides
from producer.measure import compare_runs, compare_setup, modes, probe
from producer.measure.analysis import analyse
from producer.measure.broker_ratios import broker_ratios, broker_verdicts
from producer.measure.figure_models import UserTaskInfo
from producer.measure.record_models import CompareRecord
from producer.measure.records import environment
from producer.measure.user_tasks import args_of
from producer.processes import fleet, interpreters
from worker.task_args import WorkloadArgs, default_size

#: A 1-minute load average above this many runnable processes per core means others compete with the run.
BUSY_LOAD_PER_CORE = 0.75


@dataclass
class ComparePlan(modes.CelerySides):
    """What to compare: workloads × pools, batch size, repeats, sizes, and whether to add baselines."""

    workloads: list[str]
    pools: list[str]
    count: int
    repeat: int
    sizes: dict[str, int] = field(default_factory=dict)
    baselines: bool = True
    timeout_s: float = 600.0
    task: UserTaskInfo | None = None  # a user's task (--task): its workload is named by its function
    probe: bool = True  # classify each workload first (producer/measure/probe.py)
    #: ``--celery``: stock (the default), lab or both.
    celery: str = "stock"
    #: ``--broker``: redis and/or rabbitmq, comma-separated ("": LAB_BROKER_URL's only).
    broker: str = ""

    def args_for(self, workload: str, settings: LabSettings) -> WorkloadArgs:
        """The workload's arguments (its size from ``--sizes`` or the default; a user task's call)."""
        if self.task is not None and workload == self.task.function:
            return args_of(self.task)
        url = settings.effective_target_url if catalogue.workload(workload).takes_url else ""
        return WorkloadArgs(workload, self.sizes.get(workload, default_size(workload)), url)


def warmup_count(count: int, concurrency: int, workload: str) -> int:
    """A warm-up batch that touches every slot for I/O (keep-alive sessions), a few tasks for CPU."""
    slots = concurrency if catalogue.workload(workload).waits else min(concurrency, os.cpu_count() or 1)
    return max(1, min(count, slots))


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
    probed = [plan.args_for(w, settings) for w in plan.workloads] if plan.probe else []  # each workload's class
    classifications = {a.workload: probe.classify_and_say(app, settings, a, say, plan.timeout_s) for a in probed}
    chosen = plan.modes
    baselines = {name: baseline_workers(name, settings) for name in catalogue.BASELINES} if plan.baselines else {}
    with contextlib.ExitStack() as stack:
        if any(catalogue.workload(w).takes_url for w in plan.workloads):
            stack.enter_context(fleet.latency_target(settings))
        sides = stack.enter_context(broker_sides.broker_sides(app, settings, plan.brokers))
        by_kind: dict[str, broker_sides.BrokerSide] = {side.kind: side for side in sides}
        for side in sides if len(sides) > 1 else []:
            say(f"broker {side.kind:<8} {side.url} ({side.origin})")
        workers = compare_setup.enter_workers(stack, sides, _pools_with_work(plan), chosen)
        for (pool, mode, kind), found in workers.items():
            say(f"{pool:<14} {mode:<5} {kind:<8} {found.concurrency:>3} slots: {found.origin}")
        lab_pids = [pid for found in workers.values() for pid in found.pids]
        probes: dict[compare_setup.Key, list[float]] = {key: [] for key in workers}
        order = list(workers)
        for workload in plan.workloads:
            args = plan.args_for(workload, settings)
            pools = runnable(plan.pools, workload, say)
            keys = [key for key in order if key[0] in pools]
            for key in keys:
                side = by_kind[key[2]]
                fleet.purge_queue(side.app, workers[key].queue)
                warmup = warmup_count(plan.count, workers[key].concurrency, workload)
                run_batch(side.app, side.settings, args, warmup, workers[key].queue, timeout_s=plan.timeout_s)
            names = runnable(list(baselines), workload, say)
            for repeat in range(plan.repeat):
                turn = repeat % len(keys) if keys else 0
                for key in keys[turn:] + keys[:turn]:
                    side = by_kind[key[2]]
                    runs.append(
                        compare_runs.celery_run(
                            side.app, side.settings, workers[key], args, plan.count, plan.timeout_s, repeat, lab_pids
                        )
                    )
                    ceiling = compare_setup.probe_after(side.app, side.settings, workers[key], workload, plan.timeout_s)
                    probes[key] += [ceiling] if ceiling else []
                    _say_run(say, runs[-1], ceiling)
                for name in names:
                    runs.append(
                        compare_runs.baseline_run(name, baselines[name], settings, args, plan.count, repeat, lab_pids)
                    )
                    _say_run(say, runs[-1])
        pools_info = compare_setup.pools_info(workers, probes, chosen, baselines, concurrency_rule)
        brokers = {side.kind: broker_sides.describe(side) for side in sides}
    cells, verdicts = analyse(
        runs,
        pools_info,
        plan.count,
        {w: plan.args_for(w, settings).size for w in plan.workloads},
        cores=os.cpu_count() or 1,
    )
    ratios = broker_ratios(cells) if len(brokers) > 1 else []
    return CompareRecord.model_validate(
        {
            "environment": environment(
                settings,
                interpreters=_interpreters(settings, plan.pools),
                load_before=round(load_before, 2),
                busy_before=busy,
                # which Celery ran: the one mode, or (both) see celery_modes
                celery_mode=modes.describe(settings, chosen[0]) if len(chosen) == 1 else None,
            ),
            "plan": {**asdict(plan), "sizes": {w: plan.args_for(w, settings).size for w in plan.workloads}},
            "pools": pools_info,
            "runs": runs,
            "cells": cells,
            "verdicts": {**verdicts, **broker_verdicts(ratios)},
            "brokers": brokers,
            "broker_ratios": ratios,
            "celery_modes": modes.describe_all(settings, chosen),
            "mode_ratios": modes.mode_ratios(cells) if len(chosen) > 1 else [],
            "classifications": classifications,
        }
    )


def _pools_with_work(plan: ComparePlan) -> list[str]:
    """The plan's pools that run at least one of its workloads (no worker is started for the others)."""
    return [p for p in plan.pools if any(catalogue.refusal(p, w) is None for w in plan.workloads)]


def runnable(pools: list[str], workload: str, say: Any) -> list[str]:
    """The pools (or baselines) that run ``workload``; each one that refuses it is skipped, with the reason said."""
    for pool in pools:
        if reason := catalogue.refusal(pool, workload):
            say(f"  {workload:<9} {pool:<17} skipped: {reason}")
    return [pool for pool in pools if catalogue.refusal(pool, workload) is None]


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


def _say_run(say: Any, run: dict[str, Any], probe: float | None = None) -> None:
    flag = "" if run["check"]["agree"] else f"  [red]CHECK: {run['check']['note']}[/]"
    lost = f", {run['failed']} failed, {run['lost']} lost" if run["failed"] or run["lost"] else ""
    mode = run.get("celery") or "–"
    broker = run.get("broker") or "–"
    say(
        f"  {run['workload']:<9} {run['pool']:<17} {mode:<5} {broker:<8} #{run['repeat'] + 1}  "
        f"{run['throughput']:>9,.1f} tasks/s{lost}{flag}" + (f"  (no-op probe {probe:,.1f}/s)" if probe else "")
    )
