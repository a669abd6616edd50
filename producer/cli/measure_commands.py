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
    PoolName,
    WorkloadName,
    build_args,
    check_positive,
    list_help,
    names_of,
    parse_ints,
    parse_names,
    parse_sizes,
    size_help,
)
from producer.console import err, out
from producer.errors import BadInput, LabError

if TYPE_CHECKING:
    from producer.measure.record_models import CompareRecord, SweepRecord


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


def default_pools(settings: LabSettings) -> str:
    """The catalogue's default pools whose interpreter is present (threads_nogil needs `make freethreaded`)."""
    from producer.processes.interpreters import interpreter_for

    return ",".join(catalogue.default_pools(lambda entry: interpreter_for(entry, settings) is not None))


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
) -> None:
    """Run the same batches on each pool's queue, interleaved and repeated; table, JSON record."""
    run_compare_command(workloads, pools, count, repeat, sizes, baselines, timeout, as_json=as_json)


def run_compare_command(
    workloads: str,
    pools: str | None,
    count: int,
    repeat: int,
    sizes: str,
    baselines: bool,
    timeout: float,
    *,
    as_json: bool = False,
) -> CompareRecord:
    """Validate, run, print and record a compare; returns the record."""
    from producer.broker import require_broker
    from producer.measure.compare import ComparePlan, run_compare
    from producer.measure.compare_table import bottleneck_lines, compare_table
    from producer.measure.records import write_record
    from worker.app import app as celery_app

    settings = get_settings()
    plan = ComparePlan(
        parse_names(workloads, catalogue.WORKLOADS, "workloads"),
        parse_names(pools or default_pools(settings), catalogue.POOLS, "pools"),
        check_positive(count, "count", settings.max_count),
        check_positive(repeat, "repeat", 50),
        parse_sizes(sizes, settings),
        baselines,
        timeout,
    )
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
) -> None:
    """Throughput against concurrency (one worker per point) or against worker processes; ideal line; record."""
    run_sweep_command(workload.value, pool.value, concurrency, workers, count, size, timeout, as_json=as_json)


def run_sweep_command(
    workload: str,
    pool: str,
    concurrency: str,
    workers: str,
    count: int | None,
    size: int | None,
    timeout: float,
    *,
    as_json: bool = False,
) -> SweepRecord:
    """Validate, run, print and record a sweep; returns the record."""
    from producer.broker import require_broker
    from producer.measure.records import write_record
    from producer.measure.sweep import SweepPlan, run_sweep
    from worker.app import app as celery_app

    settings = get_settings()
    args = build_args(workload, size, None)
    pool = parse_names(pool, catalogue.POOLS, "pool")[0]
    concurrencies = parse_ints(concurrency, "concurrency", high=1024)
    worker_counts = parse_ints(workers, "workers", high=64)
    if len(concurrencies) > 1 and len(worker_counts) > 1:
        raise BadInput("sweep either --concurrency or --workers (give the other a single value)")
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    slots = max(concurrencies) * max(worker_counts)
    busy = catalogue.workload(workload).has_ideal
    chosen = count if count is not None else (min(5000, max(100, 4 * slots)) if busy else 3000)
    plan = SweepPlan(
        workload, pool, args, check_positive(chosen, "count", settings.max_count), concurrencies, worker_counts, timeout
    )
    require_broker(settings)

    def show(point: dict[str, Any]) -> None:
        err.print(
            f"  {point['label']:<22} {point['throughput']:>9,.1f} tasks/s  (failed {point['failed']}, "
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
    err.print(f"record: {path}")
    failed = sum(p["failed"] for p in record["points"])
    lost = sum(p["lost"] for p in record["points"])
    if failed or lost:
        raise LabError(f"{failed} task(s) failed and {lost} were lost (see the table)")
    return record


def sweep_table(record: SweepRecord) -> Any:
    """The rich table of a sweep record."""
    from rich.table import Table

    mode = record.environment.celery_mode
    table = Table(
        title=record.title + (f"\n{mode.headline()}" if mode else ""), caption="\n".join(record.notes) or None
    )
    for header in (
        "workers × slots",
        "tasks/s",
        "ideal",
        "vs ideal",
        "producer clock",
        "worker CPU/task",
        "cores: workers+Redis / Redis",
        "machine CPU",
        "saturated",
        "failed/lost",
    ):
        table.add_column(header, justify="left" if header in ("workers × slots", "saturated") else "right")
    for p in record["points"]:
        ideal = p.get("ideal")
        ok = ideal is not None and isinstance(ideal, float) and math.isfinite(ideal) and ideal > 0
        table.add_row(
            f"{p['workers']} × {p['concurrency']}",
            f"{p['throughput']:,.1f}",
            f"{ideal:,.1f}" if ok else "–",
            f"{p['throughput'] / ideal:.0%}" if ok else "–",
            f"{p['producer_throughput']:,.1f}" + ("" if p.get("check_agree", True) else " DISAGREE"),
            f"{p['worker_cpu_s'] / p['completed'] * 1000:,.2f} ms" if p.get("worker_cpu_s") and p["completed"] else "–",
            f"{p.get('lab_cores_used', 0.0):.2f} / {p.get('redis_cores_used', 0.0):.2f}",
            f"{p['machine_cpu_percent']:.0f}%",
            p["saturated"],
            f"{p['failed']}/{p['lost']}",
        )
    if record.get("redis_limit_tps"):
        table.caption = (
            table.caption or ""
        ) + f"\nRedis probe: {record['redis_limit_tps']:,.0f} pipelined LPUSH+RPOP pairs/s"
    return table


def register(app: typer.Typer) -> None:
    """Add the measuring commands to the main CLI."""
    app.command()(compare)
    app.command()(sweep)
