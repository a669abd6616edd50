"""The measuring commands of the CLI: `compare`, `sweep`, `report` (registered on the main app by cli.py)."""

from __future__ import annotations

import contextlib
import json
import math
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from config.settings import POOLS, WORKLOADS, LabSettings, get_settings
from producer.cli.options import build_args, check_positive, parse_ints, parse_names, parse_sizes
from producer.console import err, out
from producer.errors import BadInput, LabError

DEFAULT_WORKLOADS = "cpu,cpu_nogil,io_http,io_sleep"
DEFAULT_POOLS = "prefork,threads,solo,gevent"


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
    """The four stock pools, plus threads_nogil when a free-threaded interpreter is present."""
    from producer.processes.fleet import freethreaded_python

    return DEFAULT_POOLS + (",threads_nogil" if freethreaded_python(settings) else "")


def compare(
    workloads: Annotated[str, typer.Option(help="comma-separated workloads")] = DEFAULT_WORKLOADS,
    pools: Annotated[str | None, typer.Option(help="comma-separated pools (default: "
                                              "prefork,threads,solo,gevent, + threads_nogil if built)")] = None,
    count: Annotated[int, typer.Option(help="tasks per batch")] = 100,
    repeat: Annotated[int, typer.Option(help="measured batches per cell (after one warm-up)")] = 3,
    sizes: Annotated[str, typer.Option(help="per-workload sizes, e.g. cpu=25000,io_http=100")] = "",
    baselines: Annotated[bool, typer.Option(
        "--baselines/--no-baselines", help="also run ThreadPoolExecutor / ProcessPoolExecutor in-process")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one batch")] = 600,
) -> None:
    """Run the same batches on each pool's queue, interleaved and repeated; table, JSON record."""
    run_compare_command(workloads, pools, count, repeat, sizes, baselines, timeout)


def run_compare_command(workloads: str, pools: str | None, count: int, repeat: int, sizes: str,
                        baselines: bool, timeout: float) -> dict[str, Any]:
    """Validate, run, print and record a compare; returns the record."""
    from producer.measure.compare import ComparePlan, run_compare
    from producer.measure.compare_table import bottleneck_lines, compare_table
    from producer.measure.records import write_record
    from producer.processes.redis_server import require_redis
    from worker.app import app as celery_app

    settings = get_settings()
    plan = ComparePlan(parse_names(workloads, WORKLOADS, "workloads"),
                       parse_names(pools or default_pools(settings), POOLS, "pools"),
                       check_positive(count, "count", settings.max_count), check_positive(repeat, "repeat", 50),
                       parse_sizes(sizes, settings), baselines, timeout)
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    require_redis(settings.broker_url, settings.broker_connect_timeout_s)
    with stop_cleanly_on_sigterm():
        record = run_compare(celery_app, settings, plan, console=err)
    path = write_record(settings, "compare", record)
    out.print(compare_table(record))
    for line in bottleneck_lines(record):
        out.print(f"  {line}", highlight=False)
    err.print(f"record: {path}")
    _complain(record)
    return record


def _complain(record: dict[str, Any]) -> None:
    cells = [c for c in record["cells"] if c["kind"] == "celery"]
    for cell in cells:
        if not cell["checks_agree"]:
            err.print(f"[red]CHECK DISAGREES[/] {cell['workload']} / {cell['pool']}: "
                      + "; ".join(cell["check_notes"]))
    failed = sum(c["failed"] for c in cells)
    lost = sum(c["lost"] for c in cells)
    if failed or lost:
        raise LabError(f"{failed} task(s) failed and {lost} were lost (see the table)")


def sweep(
    workload: Annotated[str, typer.Option(help=f"one of {', '.join(WORKLOADS)}")] = "io_http",
    pool: Annotated[str, typer.Option(help="pool of the dedicated workers")] = "threads",
    concurrency: Annotated[str, typer.Option(help="slots per worker, e.g. 1,2,4,8,16,32,64,128")] = "1,2,4,8,16,32,64",
    workers: Annotated[str, typer.Option(help="worker processes, e.g. 1,2,4 (scale out)")] = "1",
    count: Annotated[int | None, typer.Option(help="tasks per point (default: enough for several waves)")] = None,
    size: Annotated[int | None, typer.Option(help="cpu: n; cpu_nogil: KiB; io_*: ms")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one point")] = 600,
) -> None:
    """Throughput against concurrency (one worker per point) or against worker processes; ideal line; record."""
    run_sweep_command(workload, pool, concurrency, workers, count, size, timeout)


def run_sweep_command(workload: str, pool: str, concurrency: str, workers: str, count: int | None,
                      size: int | None, timeout: float) -> dict[str, Any]:
    """Validate, run, print and record a sweep; returns the record."""
    from producer.measure.records import write_record
    from producer.measure.sweep import SweepPlan, run_sweep
    from producer.processes.redis_server import require_redis
    from worker.app import app as celery_app

    settings = get_settings()
    args = build_args(workload, size, None)
    pool = parse_names(pool, POOLS, "pool")[0]
    concurrencies = parse_ints(concurrency, "concurrency", high=1024)
    worker_counts = parse_ints(workers, "workers", high=64)
    if len(concurrencies) > 1 and len(worker_counts) > 1:
        raise BadInput("sweep either --concurrency or --workers (give the other a single value)")
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    slots = max(concurrencies) * max(worker_counts)
    chosen = count if count is not None else (3000 if workload == "noop" else min(5000, max(100, 4 * slots)))
    plan = SweepPlan(workload, pool, args, check_positive(chosen, "count", settings.max_count),
                     concurrencies, worker_counts, timeout)
    require_redis(settings.broker_url, settings.broker_connect_timeout_s)

    def show(point: dict[str, Any]) -> None:
        err.print(f"  {point['label']:<22} {point['throughput']:>9,.1f} tasks/s  (failed {point['failed']}, "
                  f"lost {point['lost']}, machine CPU {point['machine_cpu_percent']:.0f}%)", highlight=False)

    with stop_cleanly_on_sigterm():
        record = run_sweep(celery_app, settings, plan, on_point=show)
    path = write_record(settings, "sweep", record)
    out.print(sweep_table(record))
    err.print(f"record: {path}")
    failed = sum(p["failed"] for p in record["points"])
    lost = sum(p["lost"] for p in record["points"])
    if failed or lost:
        raise LabError(f"{failed} task(s) failed and {lost} were lost (see the table)")
    return record


def sweep_table(record: dict[str, Any]) -> Any:
    """The rich table of a sweep record."""
    from rich.table import Table

    table = Table(title=record["title"], caption="\n".join(record.get("notes", [])) or None)
    for header in ("workers × slots", "tasks/s", "ideal", "vs ideal", "producer clock", "worker CPU/task",
                   "cores: workers+Redis / Redis", "machine CPU", "saturated", "failed/lost"):
        table.add_column(header, justify="left" if header in ("workers × slots", "saturated") else "right")
    for p in record["points"]:
        ideal = p.get("ideal")
        ok = ideal is not None and isinstance(ideal, float) and math.isfinite(ideal) and ideal > 0
        table.add_row(f"{p['workers']} × {p['concurrency']}", f"{p['throughput']:,.1f}",
                      f"{ideal:,.1f}" if ok else "–", f"{p['throughput'] / ideal:.0%}" if ok else "–",
                      f"{p['producer_throughput']:,.1f}" + ("" if p.get("check_agree", True) else " DISAGREE"),
                      f"{p['worker_cpu_s'] / p['completed'] * 1000:,.2f} ms" if p.get("worker_cpu_s")
                      and p["completed"] else "–",
                      f"{p.get('lab_cores_used', 0.0):.2f} / {p.get('redis_cores_used', 0.0):.2f}",
                      f"{p['machine_cpu_percent']:.0f}%", p["saturated"],
                      f"{p['failed']}/{p['lost']}")
    if record.get("redis_limit_tps"):
        table.caption = (table.caption or "") + f"\nRedis probe: {record['redis_limit_tps']:,.0f} pipelined " \
                                                "LPUSH+RPOP pairs/s"
    return table


def report(
    results_dir: Annotated[Path | None, typer.Option(help="where the records are (default LAB_RESULTS_DIR)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="output directory (default RESULTS_DIR/report)")] = None,
    record: Annotated[Path | None, typer.Option(help="the compare record to show (default: the newest)")] = None,
) -> None:
    """HTML + Markdown report with PNG charts from the newest compare record and the sweep records."""
    from producer.measure.compare_table import compare_table
    from producer.measure.records import load_records
    from producer.measure.report import render

    source = results_dir or get_settings().results_dir
    rendered = render(source, out_dir or source / "report", record)
    compares = [(record, json.loads(record.read_text()))] if record else load_records(source, "compare")
    if compares:
        out.print(compare_table(compares[-1][1]))
    err.print(f"report: {rendered.html_path} and {rendered.markdown_path} ({len(rendered.images)} charts)")


def register(app: typer.Typer) -> None:
    """Add the measuring commands to the main CLI."""
    app.command()(compare)
    app.command()(sweep)
    app.command()(report)
