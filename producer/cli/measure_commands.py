"""The measuring commands of the CLI: `compare` here, `sweep` in producer/cli/sweep_command.py."""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from config import catalogue
from config.settings import LabSettings, get_settings
from producer.cli.options import (
    ArgsOption,
    BrokerOption,
    CeleryOption,
    KwargsOption,
    ProbeOption,
    RecordJsonOption,
    TaskOption,
    check_positive,
    list_help,
    names_of,
    parse_names,
    parse_sizes,
    size_help,
    task_args,
)
from producer.console import err, out
from producer.errors import BadInput, LabError

if TYPE_CHECKING:
    from producer.measure.record_models import CompareRecord
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
    as_json: RecordJsonOption = False,
    celery: CeleryOption = "stock",
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


def register(app: typer.Typer) -> None:
    """Add the measuring commands to the main CLI."""
    from producer.cli.sweep_command import sweep

    app.command()(compare)
    app.command()(sweep)
