"""`producer advise` against an exhaustive sweep of the same space, for the same task, in one run.

For each task (default: ``io_sleep`` 100 ms, a task that waits, with the widest space; and ``cpu`` ~0.1 s,
one that holds the GIL): advise classifies the task (the probe) and searches within its budget (default
180 s, the probe included), then every configuration of the same space (the same pools, concurrency
ladder and worker-process counts, ``Space.grid``) is measured with the same trial (same batch length,
ceilings measured afresh). Goals: advise's pick gets
≥ 0.9× the throughput of the sweep's best — the two configurations re-measured side by side,
alternating, medians of ``--repeats`` — in ≤ 1/3 of the sweep's time.

    .venv/bin/python -m benchmarks.bench_advise [--tasks io_sleep,cpu] [--budget-s 180] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import nullcontext
from typing import Any

from benchmarks.common import LOG_DIR, lab_environment, report

TIME_GOAL = "<= 0.333"
THROUGHPUT_GOAL = ">= 0.9"


def _sweep(app: Any, settings: Any, request: Any, classification: Any) -> tuple[list[Any], float, list[str]]:
    """Every configuration of the space advise searches, with the same trial; (trials, seconds, notes)."""
    from config import catalogue
    from producer.advise.run import trial_setup
    from producer.advise.space import search_space
    from producer.advise.trial import run_trial
    from producer.errors import LabError
    from producer.processes import fleet

    cores = os.cpu_count() or 1
    entry = catalogue.workload(request.args.workload)
    space = search_space(classification.label, entry, settings, cores)
    setup = trial_setup(app, settings, request, classification, cores)
    setup.log_dir = LOG_DIR
    trials, notes = [], []
    started = time.monotonic()
    with fleet.latency_target(settings) if entry.takes_url else nullcontext():
        for config in space.grid():
            try:
                trial = run_trial(setup, config, "sweep").trial
            except LabError as error:
                notes.append(f"{config.label}: not measured: {error}")
                continue
            trials.append(trial)
            print(f"  sweep {config.label}: {trial.throughput or 0:,.1f} tasks/s", flush=True)
    return trials, time.monotonic() - started, notes


def _side_by_side(
    app: Any, settings: Any, request: Any, classification: Any, configs: list[Any], repeats: int
) -> list[float]:
    """Median throughput of each configuration, measured alternately ``repeats`` times."""
    from producer.advise.run import trial_setup
    from producer.advise.trial import run_trial

    setup = trial_setup(app, settings, request, classification, os.cpu_count() or 1)
    setup.log_dir = LOG_DIR
    values: list[list[float]] = [[] for _ in configs]
    for _ in range(repeats):
        for index, config in enumerate(configs):
            values[index].append(run_trial(setup, config, "side by side").trial.throughput or 0.0)
    return [statistics.median(v) for v in values]


def measure(task: str, budget_s: float, repeats: int) -> tuple[dict[str, Any], dict[str, tuple[float, str]], list[str]]:
    """Advise, then the exhaustive sweep, then the two picks side by side."""
    from config.settings import get_settings
    from producer.advise.recommend import config_of, valid
    from producer.advise.run import AdviseRequest, run_advise
    from producer.measure.advise_record import Constraints
    from producer.measure.probe import classify
    from worker.app import app
    from worker.task_args import WorkloadArgs, default_size

    settings = get_settings()
    size = default_size(task)
    url = settings.effective_target_url if task == "io_http" else ""
    request = AdviseRequest(WorkloadArgs(task, size, url), Constraints(budget_s=budget_s), "stock")
    record = run_advise(
        app,
        settings,
        request,
        lambda: classify(app, settings, request.args),
        say=lambda line: print(f"  {line}", flush=True),
    )
    classification = record.classification  # the sweep walks the space of the class advise measured
    if record.recommendation is None:
        raise RuntimeError(f"{task}: advise recommended nothing: {record.notes}")
    picked = config_of(record.recommendation.trial)
    trials, sweep_s, notes = _sweep(app, settings, request, classification)
    ranked = valid(trials)
    if not ranked:
        raise RuntimeError(f"{task}: no sweep point finished its tasks: {notes}")
    best = config_of(ranked[0])
    at_pick = next((t.throughput for t in trials if config_of(t) == picked), None)
    if picked == best:
        pick_tp = best_tp = ranked[0].throughput or 0.0
        notes.append(f"{task}: advise picked the sweep's best ({best.label})")
    else:
        pick_tp, best_tp = _side_by_side(app, settings, request, classification, [picked, best], repeats)
    lost = sum(t.failed + t.lost + t.pending for t in [*record.trials, *trials])
    rows = {
        f"{task} size": size,
        f"{task} advise pick": f"{picked.label}: {record.recommendation.trial.throughput:,.1f} tasks/s",
        f"{task} advise trials": len(record.trials),
        f"{task} advise seconds": record.elapsed_s,
        f"{task} sweep best": f"{best.label}: {ranked[0].throughput:,.1f} tasks/s",
        f"{task} sweep at advise's pick tasks/s": at_pick,
        f"{task} sweep points": len(trials),
        f"{task} sweep seconds": round(sweep_s, 1),
        f"{task} side by side (pick, best) tasks/s": [round(pick_tp, 1), round(best_tp, 1)],
        f"{task} failed+lost+unfinished": lost,
    }
    ratios = {
        f"{task}: advise pick ÷ sweep best (side by side)": (pick_tp / best_tp if best_tp else 0.0, THROUGHPUT_GOAL),
        f"{task}: advise time ÷ sweep time": (record.elapsed_s / sweep_s if sweep_s else 0.0, TIME_GOAL),
    }
    return rows, ratios, notes + [f"{task} advise: {note}" for note in record.notes]


def main(argv: list[str] | None = None) -> None:
    """Run each task's advise and sweep in a private Redis; print and write ``benchmarks/results/advise.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="io_sleep,cpu")
    parser.add_argument("--budget-s", type=float, default=180.0)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    rows: dict[str, Any] = {"budget_s": options.budget_s, "cores": os.cpu_count()}
    ratios: dict[str, tuple[float, str]] = {}
    notes: list[str] = []
    with lab_environment(LAB_CELERY_MODE="stock"):
        for task in filter(None, options.tasks.split(",")):
            print(f"\n## {task}", flush=True)
            task_rows, task_ratios, task_notes = measure(task, options.budget_s, options.repeats)
            rows.update(task_rows)
            ratios.update(task_ratios)
            notes += task_notes
    notes.append(f"load at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    report("advise", "advise vs an exhaustive sweep of the same space", rows, ratios, notes)


if __name__ == "__main__":
    main()
