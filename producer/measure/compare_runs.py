"""One measured batch of a compare, as a run dict: a batch on a Celery pool's workers or an in-process baseline."""

from __future__ import annotations

from typing import Any

from celery import Celery

from config.settings import LabSettings
from producer.batch.run import broker_and_backend, run_batch
from producer.measure import batch_watch, cpu_share, inprocess
from producer.measure.cross_check import cross_check
from producer.measure.records import latency_samples, timing_summary
from producer.processes import fleet
from worker.task_args import WorkloadArgs


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


def celery_run(
    app: Celery,
    settings: LabSettings,
    workers: fleet.PoolWorkers,
    args: WorkloadArgs,
    count: int,
    timeout_s: float,
    repeat: int,
    lab_pids: list[int],
) -> dict[str, Any]:
    """One measured batch on a Celery pool's workers: figures, cross-check, mode and memory."""
    broker, backend = broker_and_backend(settings)
    fleet.purge_queue(app, workers.queue)
    with batch_watch.watched(workers.pids, workers.concurrency, lab_pids, broker) as cost:
        outcome = run_batch(app, settings, args, count, workers.queue, timeout_s=timeout_s)
    summary = outcome.summary
    figures = _run_figures(
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
        worker_cpu_s=cost.worker_cpu_s,
        others_cores=cost.others_cores,
        check=cross_check(outcome, backend),
    )
    extra = {"broker": broker.kind, "broker_cpu_s": cost.broker_cpu_s}
    broker.close()
    return {**figures, "celery": workers.mode, "memory": _dumped(cost.memory), **extra}


def _dumped(figures: Any) -> dict[str, Any] | None:
    return figures.model_dump() if figures is not None else None


def baseline_run(
    name: str,
    workers: int,
    settings: LabSettings,
    args: WorkloadArgs,
    count: int,
    repeat: int,
    lab_pids: list[int],
) -> dict[str, Any]:
    """One measured batch on an in-process executor (no queue): the same figures as a Celery run."""
    broker, _ = broker_and_backend(settings)
    shares_before = cpu_share.snapshot(lab_pids, broker)
    run = inprocess.run_baseline(name, workers, args, count)
    others = cpu_share.others_cores(shares_before, cpu_share.snapshot(lab_pids, broker))
    figures = _run_figures(
        args.workload,
        name,
        repeat,
        run.records,
        submitted=count,
        failed=len(run.failures),
        lost=count - len(run.records) - len(run.failures),
        throughput=run.throughput,
        wall_s=run.wall_s,
        processes=len({r["pid"] for r in run.records}),
        worker_cpu_s=None,
        others_cores=others,
        check={"backend_results": None, "producer_throughput": run.throughput, "agree": True, "note": "in-process"},
    )
    return {**figures, "celery": None, "memory": _dumped(run.memory)}
