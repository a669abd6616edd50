"""The measuring commands of the CLI: `compare` and `sweep`."""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from config import catalogue
from config.settings import LabSettings, get_settings
from producer.cli.options import (
    ArgsOption,
    BrokerOption,
    KwargsOption,
    PoolName,
    ProbeOption,
    TaskOption,
    WorkloadName,
    build_args,
    check_positive,
    list_help,
    names_of,
    parse_ints,
    parse_names,
    parse_sizes,
    size_help,
    task_args,
)
from producer.console import err, out
from producer.errors import BadInput, LabError

if TYPE_CHECKING:
    from producer.measure.record_models import CompareRecord, SweepRecord
    from worker.task_args import WorkloadArgs


@contextlib.contextmanager
def stop_cleanly_on_sigterm() -> Iterator[None]:
    """SIGTERM becomes KeyboardInterrupt, so the workers a measurement started are stopped on the way out."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


CELERY_HELP = (
    "which Celery the workers run: stock (plain Celery and kombu, as deployed), lab (the lab's transport "
    "and consumer: docs/performance.md) or both (each cell in both, with lab ÷ stock)"
)


def default_pools(settings: LabSettings) -> str:
    """The catalogue's default pools whose interpreter is built (`make pythons`); each one skipped says why."""
    from producer.processes.interpreters import missing_reason

    def available(entry: catalogue.Pool) -> bool:
        reason = missing_reason(entry, settings)
        if reason:
            err.print(f"skipping {entry.name}: {reason}", highlight=False)
        return reason is None

    return ",".join(catalogue.default_pools(available))


def compare(
    workloads: Annotated[
        str,
        typer.Option(
            help=list_help("workloads", catalogue.WORKLOADS, catalogue.default_workloads()),
            autocompletion=names_of(lambda: catalogue.WORKLOADS),
        ),
    ] = ",".join(catalogue.default_workloads()),
    pools: Annotated[
        str | None,
        typer.Option(
            help=list_help("pools", catalogue.POOLS, "the catalogue's, those whose interpreter is built"),
            autocompletion=names_of(lambda: catalogue.POOLS),
        ),
    ] = None,
    count: Annotated[int, typer.Option(help="tasks per batch")] = 100,
    repeat: Annotated[int, typer.Option(help="measured batches per cell (after one warm-up)")] = 3,
    sizes: Annotated[str, typer.Option(help=f"per-workload sizes, e.g. cpu=25000,io_http=100 ({size_help()})")] = "",
    baselines: Annotated[
        bool,
        typer.Option("--baselines/--no-baselines", help="also run ThreadPoolExecutor / ProcessPoolExecutor in-process"),
    ] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one batch")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="print the record as JSON on stdout (no table)")] = False,
    celery: Annotated[str, typer.Option(help=CELERY_HELP)] = "stock",
    task: TaskOption = None,
    call_args: ArgsOption = None,
    call_kwargs: KwargsOption = None,
    probe: ProbeOption = True,
    broker: BrokerOption = "",
) -> None:
    """Run the same batches on each pool's queue, interleaved and repeated; table, JSON record."""
    user = task_args(task, call_args, call_kwargs)
    run_compare_command(
        workloads,
        pools,
        count,
        repeat,
        sizes,
        baselines,
        timeout,
        as_json=as_json,
        user=user,
        probe=probe,
        celery=celery,
        broker=broker,
    )


def run_compare_command(
    workloads: str,
    pools: str | None,
    count: int,
    repeat: int,
    sizes: str,
    baselines: bool,
    timeout: float,
    as_json: bool = False,
    celery: str = "stock",
    user: WorkloadArgs | None = None,
    probe: bool = True,
    broker: str = "",
) -> CompareRecord:
    """Validate, run, print and record a compare (``user``: a user's task instead of the workloads); the record."""
    from producer.broker import require_broker
    from producer.broker.sides import parse_brokers
    from producer.measure.compare import ComparePlan, run_compare
    from producer.measure.compare_table import bottleneck_lines, compare_table
    from producer.measure.modes import celery_choice, parse_celery
    from producer.measure.probe import summary_line
    from producer.measure.records import write_record
    from producer.measure.user_tasks import task_info, usable_pools
    from worker.app import app as celery_app

    settings = get_settings()
    plan = ComparePlan(
        [user.workload] if user else parse_names(workloads, catalogue.WORKLOADS, "workloads"),
        parse_names(pools or default_pools(settings), catalogue.POOLS, "pools"),
        check_positive(count, "count", settings.max_count),
        check_positive(repeat, "repeat", 50),
        parse_sizes(sizes, settings),
        baselines,
        timeout,
        celery=celery_choice(parse_celery(celery)),
        task=task_info(user) if user else None,
        probe=probe,
        broker=",".join(parse_brokers(broker)),
    )
    if user:
        plan.pools = usable_pools(user, plan.pools, chosen=pools is not None)
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    require_broker(settings)
    with stop_cleanly_on_sigterm():
        record = run_compare(celery_app, settings, plan, console=err)
    path = write_record(settings, record)
    if as_json:
        print(record.to_json())
    else:
        out.print(compare_table(record))
        for line in bottleneck_lines(record):
            out.print(f"  {line}", highlight=False)
        for name, found in record.classifications.items():
            out.print(f"  {summary_line(name, found)}", highlight=False)
    err.print(f"record: {path}")
    _complain(record)
    return record


def _complain(record: CompareRecord) -> None:
    cells = [c for c in record["cells"] if c["kind"] == "celery"]
    for cell in cells:
        if not cell["checks_agree"]:
            err.print(f"[red]CHECK DISAGREES[/] {cell['workload']} / {cell['pool']}: " + "; ".join(cell["check_notes"]))
    failed = sum(c["failed"] for c in cells)
    lost = sum(c["lost"] for c in cells)
    if failed or lost:
        raise LabError(f"{failed} task(s) failed and {lost} were lost (see the table)")


def sweep(
    workload: Annotated[WorkloadName, typer.Option(help="the workload")] = WorkloadName("io_http"),
    pool: Annotated[PoolName, typer.Option(help="pool of the dedicated workers")] = PoolName("threads"),
    concurrency: Annotated[str, typer.Option(help="slots per worker, e.g. 1,2,4,8,16,32,64,128")] = "1,2,4,8,16,32,64",
    workers: Annotated[str, typer.Option(help="worker processes, e.g. 1,2,4 (scale out)")] = "1",
    count: Annotated[int | None, typer.Option(help="tasks per point (default: enough for several waves)")] = None,
    size: Annotated[int | None, typer.Option(help=f"default: the workload's own. {size_help()}")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one point")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="print the record as JSON on stdout (no table)")] = False,
    celery: Annotated[str, typer.Option(help=CELERY_HELP)] = "stock",
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


def register(app: typer.Typer) -> None:
    """Add the measuring commands to the main CLI."""
    app.command()(compare)
    app.command()(sweep)
