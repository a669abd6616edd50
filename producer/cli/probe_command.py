"""`producer probe`: classify one task by measurement (holds the GIL, releases it while computing, or waits)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from config import catalogue
from config.settings import get_settings
from producer.cli.options import (
    ArgsOption,
    KwargsOption,
    TaskOption,
    WorkloadName,
    build_args,
    check_positive,
    task_args,
)
from producer.console import out
from producer.errors import BadInput


def probe(
    workload: Annotated[WorkloadName | None, typer.Option(help="a catalogue workload")] = None,
    task: TaskOption = None,
    call_args: ArgsOption = None,
    call_kwargs: KwargsOption = None,
    size: Annotated[int | None, typer.Option(help="the workload's size (default: its own)")] = None,
    tasks: Annotated[int, typer.Option(help="measured tasks per probe worker")] = 6,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one probe batch")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="print the classification as JSON")] = False,
) -> None:
    """A short probe on workers of its own: solo thread CPU ÷ wall, then threads ÷ solo; the label and figures."""
    from producer.broker import require_broker
    from producer.measure.probe import classify, summary_line
    from worker.app import app as celery_app

    if (workload is None) == (task is None):
        raise BadInput(f"give --workload ({', '.join(catalogue.WORKLOADS)}) or --task, one of the two")
    user = task_args(task, call_args, call_kwargs)
    args = user or build_args(workload.value if workload else "", size, None)
    settings = get_settings()
    require_broker(settings)
    found = classify(celery_app, settings, args, tasks=check_positive(tasks, "tasks", 1000), timeout_s=timeout)
    if as_json:
        print(json.dumps(found.model_dump(mode="json"), indent=2))
    else:
        out.print(summary_line(args.workload, found), highlight=False, soft_wrap=True)
