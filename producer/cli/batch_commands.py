"""The batch commands of the CLI: `submit`, `demo`, `watch`."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from config.settings import get_settings
from producer.batch.tables import pending_text, summary_table
from producer.cli.options import PoolName, WorkloadName, build_args, check_count, queue_for, size_help
from producer.console import err, out
from producer.errors import BadInput, LabError

console = err


def submit(
    workload: Annotated[WorkloadName, typer.Option(help="the workload (config/catalogue.py)")] = WorkloadName("cpu"),
    count: Annotated[int, typer.Option(help="number of tasks")] = 100,
    size: Annotated[int | None, typer.Option(help=f"default: the workload's own. {size_help()}")] = None,
    pool: Annotated[PoolName | None, typer.Option(help="queue of this pool (default: the workload's)")] = None,
    url: Annotated[str | None, typer.Option(help="URL for a workload that takes one (allow-listed hosts)")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for results and summarise")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for results, then report the unfinished")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON on stdout")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="show live throughput (producer watch) meanwhile")] = False,
) -> None:
    """Enqueue a batch of one workload and (by default) wait for it and print its summary."""
    from producer.batch.outage import OutageGuard
    from producer.batch.run import run_batch
    from producer.batch.submit import submit_batch
    from producer.broker import require_broker
    from worker.app import app as celery_app

    settings = get_settings()
    args = build_args(workload.value, size, url)
    check_count(count)
    queue = queue_for(pool.value if pool else None, workload.value)
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    if watch and not wait:
        raise BadInput("--watch needs --wait (it shows the batch being processed)")
    if not wait:
        require_broker(settings)
        batch = submit_batch(celery_app, args, count, queue, outage=OutageGuard(settings.outage_retry_s))
        report = {"batch_id": batch.batch_id, "queue": queue, "submitted": batch.submitted}
        print(
            json.dumps(report) if as_json else f"submitted {batch.submitted} tasks to {queue} (batch {batch.batch_id})"
        )
        return
    from producer.watch.view import live_watch

    with live_watch(celery_app, settings, enabled=watch, final=None if as_json else out):
        outcome = run_batch(
            celery_app, settings, args, count, queue, timeout_s=timeout, console=None if as_json or watch else console
        )
    summary = outcome.summary
    if as_json:
        print(json.dumps({"batch_id": outcome.batch.batch_id, **summary.as_dict()}, indent=2))
    else:
        out.print(summary_table(summary))
    # Exit 1 unless every task finished: failed and lost tasks are failures; pending ones (still queued or
    # held unacknowledged) are not lost, and the line says where they are and whether they will run.
    pending = pending_text(summary)
    if summary.failed or summary.lost:
        raise LabError(
            f"{summary.failed} task(s) failed and {summary.lost} were lost of {summary.submitted} "
            f"submitted" + (f"; pending: {pending}" if pending else "")
        )
    if pending:
        raise LabError(
            f"{summary.pending} of {summary.submitted} task(s) unfinished after {timeout:g} s, none lost: {pending}"
        )


def demo(
    count: Annotated[int, typer.Option(help="tasks per batch")] = 16,
    repeat: Annotated[int, typer.Option(help="measured batches per pool (after one warm-up)")] = 2,
    workloads: Annotated[str, typer.Option(help="comma-separated workloads")] = "cpu,io_http",
) -> None:
    """The compare table, quick: cpu and io_http on every pool, in-process baselines (the stack must be up)."""
    from producer.cli.measure_commands import run_compare_command

    run_compare_command(workloads, None, count, repeat, "", True, 600)


def watch(
    window: Annotated[float, typer.Option(help="sliding window for tasks/s, seconds")] = 10.0,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")] = None,
    once: Annotated[bool, typer.Option("--once", help="no live view: collect (one window) and print once")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the final snapshot as JSON on stdout")] = False,
    refresh: Annotated[float, typer.Option(help="live view redraws per second")] = 2.0,
) -> None:
    """Live tasks/s per worker and per pool, in flight, succeeded, failed, from Celery's task events."""
    from producer.watch.view import run_watch
    from worker.app import app as celery_app

    run_watch(
        celery_app, get_settings(), window_s=window, duration_s=duration, once=once, as_json=as_json, refresh_hz=refresh
    )


def register(app: typer.Typer) -> None:
    """Add the batch commands to the main CLI."""
    app.command()(submit)
    app.command()(demo)
    app.command()(watch)
