"""`producer sweep`: throughput against concurrency (one worker per point) or worker processes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from config import catalogue
from config.settings import get_settings
from producer.cli.measure_commands import stop_cleanly_on_sigterm
from producer.cli.options import (
    ArgsOption,
    BrokerOption,
    CeleryOption,
    KwargsOption,
    PoolName,
    ProbeOption,
    RecordJsonOption,
    TaskOption,
    WorkloadName,
    build_args,
    check_positive,
    parse_ints,
    parse_names,
    size_help,
    task_args,
)
from producer.console import err, out
from producer.errors import BadInput, LabError

if TYPE_CHECKING:
    from producer.measure.sweep_record import SweepRecord
    from worker.task_args import WorkloadArgs


def sweep(
    workload: Annotated[WorkloadName, typer.Option(help="the workload")] = WorkloadName("io_http"),
    pool: Annotated[PoolName, typer.Option(help="pool of the dedicated workers")] = PoolName("threads"),
    concurrency: Annotated[str, typer.Option(help="slots per worker, e.g. 1,2,4,8,16,32,64,128")] = "1,2,4,8,16,32,64",
    workers: Annotated[str, typer.Option(help="worker processes, e.g. 1,2,4 (scale out)")] = "1",
    count: Annotated[int | None, typer.Option(help="tasks per point (default: enough for several waves)")] = None,
    size: Annotated[int | None, typer.Option(help=f"default: the workload's own. {size_help()}")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one point")] = 600,
    as_json: RecordJsonOption = False,
    celery: CeleryOption = "stock",
    task: TaskOption = None,
    call_args: ArgsOption = None,
    call_kwargs: KwargsOption = None,
    probe: ProbeOption = True,
    broker: BrokerOption = "",
) -> None:
    """Throughput against concurrency (one worker per point) or against worker processes; ideal line; record."""
    user = task_args(task, call_args, call_kwargs)
    run_sweep_command(
        workload.value,
        pool.value,
        concurrency,
        workers,
        count,
        size,
        timeout,
        as_json=as_json,
        user=user,
        probe=probe,
        celery=celery,
        broker=broker,
    )


def run_sweep_command(
    workload: str,
    pool: str,
    concurrency: str,
    workers: str,
    count: int | None,
    size: int | None,
    timeout: float,
    as_json: bool = False,
    user: WorkloadArgs | None = None,
    probe: bool = True,
    celery: str = "stock",
    broker: str = "",
) -> SweepRecord:
    """Validate, run, print and record a sweep (``user``: a user's task instead of the workload); the record."""
    from producer.broker import require_broker
    from producer.broker.sides import parse_brokers
    from producer.measure.modes import celery_choice, parse_celery
    from producer.measure.probe import summary_line
    from producer.measure.records import write_record
    from producer.measure.sweep import SweepPlan, run_sweep
    from producer.measure.sweep_table import sweep_table
    from producer.processes.interpreters import missing_reason
    from worker.app import app as celery_app

    settings = get_settings()
    args = user or build_args(workload, size, None)
    workload = args.workload
    pool = parse_names(pool, catalogue.POOLS, "pool")[0]
    refused = catalogue.pool(pool).refuses(catalogue.workload(workload))
    if refused:
        raise BadInput(f"--task: {refused}" if user else refused)
    missing = missing_reason(catalogue.pool(pool), settings)
    if missing:
        raise BadInput(missing)
    concurrencies = parse_ints(concurrency, "concurrency", high=1024)
    worker_counts = parse_ints(workers, "workers", high=64)
    if len(concurrencies) > 1 and len(worker_counts) > 1:
        raise BadInput("sweep either --concurrency or --workers (give the other a single value)")
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    slots = max(concurrencies) * max(worker_counts)
    busy = catalogue.workload(workload).has_ideal
    chosen = count if count is not None else (min(5000, max(100, 4 * slots)) if busy else 3000)
    chosen = check_positive(chosen, "count", settings.max_count)
    plan = SweepPlan(
        workload,
        pool,
        args,
        chosen,
        concurrencies,
        worker_counts,
        timeout,
        probe,
        celery_choice(parse_celery(celery)),
        ",".join(parse_brokers(broker)),
    )
    require_broker(settings)

    def show(point: dict[str, Any]) -> None:
        err.print(
            f"  {point['label']:<28} {point['throughput']:>9,.1f} tasks/s  (failed {point['failed']}, "
            f"lost {point['lost']}, machine CPU {point['machine_cpu_percent']:.0f}%)",
            highlight=False,
        )

    with stop_cleanly_on_sigterm():
        record = run_sweep(celery_app, settings, plan, on_point=show)
    path = write_record(settings, record)
    if as_json:
        print(record.to_json())
    else:
        out.print(sweep_table(record))
        if record.classification is not None:
            out.print(f"  {summary_line(record.workload, record.classification)}", highlight=False)
    err.print(f"record: {path}")
    failed = sum(p["failed"] for p in record["points"])
    lost = sum(p["lost"] for p in record["points"])
    if failed or lost:
        raise LabError(f"{failed} task(s) failed and {lost} were lost (see the table)")
    return record
