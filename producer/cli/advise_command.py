"""`producer advise`: which pool, concurrency and worker processes for a task, found by an adaptive search."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, cast

import typer

from config import catalogue
from config.settings import CeleryMode, get_settings
from producer.cli.options import (
    ArgsOption,
    BrokerOption,
    KwargsOption,
    RecordJsonOption,
    TaskOption,
    build_args,
    size_help,
    task_args,
)
from producer.console import err, out
from producer.errors import BadInput, LabError

if TYPE_CHECKING:
    from producer.measure.advise_record import AdviseRecord

#: The budget when none is given: ~3 minutes on 2 cores for a ~100 ms task.
DEFAULT_BUDGET_S = 180.0
MODES = ("stock", "lab")


def _positive(value: float | None, option: str) -> float | None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise BadInput(f"{option} must be a positive number, got {value:g}")
    return value


def advise(
    workload: Annotated[
        str | None, typer.Option(help=f"a workload of the catalogue ({', '.join(catalogue.WORKLOADS)})")
    ] = None,
    task: TaskOption = None,
    call_args: ArgsOption = None,
    call_kwargs: KwargsOption = None,
    size: Annotated[int | None, typer.Option(help=f"--workload's size (default: its own). {size_help()}")] = None,
    max_p95_ms: Annotated[
        float | None, typer.Option("--max-p95-ms", help="rule out configurations whose p95 run time is above this")
    ] = None,
    max_memory_mb: Annotated[
        float | None,
        typer.Option("--max-memory-mb", help="rule out configurations whose workers' peak PSS (MiB) is above this"),
    ] = None,
    budget_s: Annotated[
        float, typer.Option("--budget-s", help="seconds the search may take (trials that would not fit are skipped)")
    ] = DEFAULT_BUDGET_S,
    celery: Annotated[str, typer.Option(help="which Celery the workers run: stock or lab")] = "stock",
    broker: BrokerOption = "",
    as_json: RecordJsonOption = False,
) -> None:
    """Search pools, concurrency and worker processes (and with --broker, the broker) for a task within a budget;
    print the worker command to run.

    Exit 0 with a recommendation; 1 when no configuration met the constraints (the table, the nearest
    configurations and the record still come out); 2 for bad input.
    """
    from producer.advise.render import summary_lines, trials_table
    from producer.advise.run import AdviseRequest, run_advise
    from producer.broker import require_broker
    from producer.broker.sides import parse_brokers
    from producer.cli.measure_commands import stop_cleanly_on_sigterm
    from producer.measure.advise_record import Constraints
    from producer.measure.probe import classify
    from producer.measure.records import write_record
    from producer.measure.user_tasks import task_info
    from worker.app import app as celery_app

    settings = get_settings()
    if (workload is None) == (task is None):
        raise BadInput("give --workload NAME or --task package.module:function, one of the two")
    if task is not None and size is not None:
        raise BadInput("--size goes with --workload (a task takes --args and --kwargs)")
    if celery not in MODES:
        raise BadInput(f"--celery must be one of {', '.join(MODES)}, got {celery!r}")
    mode = cast(CeleryMode, celery)
    brokers = tuple(parse_brokers(broker))
    if mode == "lab":
        from config.celery_mode import check_tested_versions

        check_tested_versions(settings)
    user = task_args(task, call_args, call_kwargs)
    args = user or build_args(workload or "", size, None)
    constraints = Constraints(
        max_p95_ms=_positive(max_p95_ms, "--max-p95-ms"),
        max_memory_mb=_positive(max_memory_mb, "--max-memory-mb"),
        budget_s=_positive(budget_s, "--budget-s") or DEFAULT_BUDGET_S,
    )
    require_broker(settings)
    # A user's task: its workers need the allow-list, and so does the command to paste.
    task_env = {"LAB_TASK_MODULES": settings.task_modules} if user else {}
    request = AdviseRequest(args, constraints, mode, task_info(args), task_env, brokers)
    with stop_cleanly_on_sigterm():
        record = run_advise(
            celery_app,
            settings,
            request,
            lambda: classify(celery_app, settings, args),
            say=lambda line: err.print(line, highlight=False, markup=False),
        )
    path = write_record(settings, record)
    if as_json:
        print(record.to_json())
    else:
        out.print(trials_table(record))
        for line in summary_lines(record):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    err.print(f"record: {path}", highlight=False)
    if record.recommendation is None:
        raise LabError(no_pick_line(record))


def no_pick_line(record: AdviseRecord) -> str:
    """The one-line error when no configuration met the constraints, naming the nearest."""
    from producer.advise.recommend import config_of, nearest

    closest = nearest(record.trials, 1)
    if not closest:
        return "no configuration could be measured (see the notes above)"
    trial = closest[0]
    return f"no configuration met the constraints; nearest: {config_of(trial).label} ({'; '.join(trial.ruled_out)})"


def register(app: typer.Typer) -> None:
    """Add `advise` to the main CLI."""
    app.command()(advise)
