"""The `producer` command line: submit batches, run the local stack, show the demo comparison."""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated

import click
import typer
from kombu.exceptions import OperationalError
from pydantic import ValidationError
from redis.exceptions import RedisError

from config.settings import WORKLOADS, get_settings
from producer.batch.tables import summary_table
from producer.cli.measure_commands import register as register_measure_commands
from producer.cli.options import build_args, check_count, queue_for
from producer.console import err, out
from producer.errors import BadInput, LabError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Concurrency lab: Celery pools measured side by side.")
stack_app = typer.Typer(no_args_is_help=True, help="The local stack without Docker.")
app.add_typer(stack_app, name="stack")
register_measure_commands(app)  # compare, sweep, report (producer/cli_measure.py)
console = err


@app.command()
def submit(
    workload: Annotated[str, typer.Option(help=f"one of {', '.join(WORKLOADS)}")] = "cpu",
    count: Annotated[int, typer.Option(help="number of tasks")] = 100,
    size: Annotated[int | None, typer.Option(help="cpu: n; cpu_nogil: KiB; io_*: ms")] = None,
    pool: Annotated[str | None, typer.Option(help="queue of this pool (default: route by workload)")] = None,
    url: Annotated[str | None, typer.Option(help="io_http target URL (allow-listed hosts only)")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait for results and summarise")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for results before counting tasks lost")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON on stdout")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="show live throughput (producer watch) meanwhile")] = False,
) -> None:
    """Enqueue a batch of one workload and (by default) wait for it and print its summary."""
    from producer.batch.run import run_batch
    from producer.batch.submit import submit_batch
    from producer.processes.redis_server import require_redis
    from worker.app import app as celery_app

    settings = get_settings()
    args = build_args(workload, size, url)
    check_count(count)
    queue = queue_for(pool, workload)
    if not math.isfinite(timeout) or timeout <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {timeout}")
    if watch and not wait:
        raise BadInput("--watch needs --wait (it shows the batch being processed)")
    if not wait:
        require_redis(settings.broker_url, settings.broker_connect_timeout_s)
        batch = submit_batch(celery_app, args, count, queue)
        report = {"batch_id": batch.batch_id, "queue": queue, "submitted": batch.submitted}
        print(json.dumps(report) if as_json else f"submitted {batch.submitted} tasks to {queue} "
              f"(batch {batch.batch_id})")
        return
    from producer.watch.view import live_watch

    with live_watch(celery_app, settings, enabled=watch, final=None if as_json else out):
        outcome = run_batch(celery_app, settings, args, count, queue, timeout_s=timeout,
                            console=None if as_json or watch else console)
    summary = outcome.summary
    if as_json:
        print(json.dumps({"batch_id": outcome.batch.batch_id, **summary.as_dict()}, indent=2))
    else:
        out.print(summary_table(summary))
    if summary.failed or summary.lost:
        raise LabError(f"{summary.failed} task(s) failed and {summary.lost} were lost "
                       f"of {summary.submitted} submitted")


@app.command()
def demo(
    count: Annotated[int, typer.Option(help="tasks per batch")] = 16,
    repeat: Annotated[int, typer.Option(help="measured batches per pool (after one warm-up)")] = 2,
    workloads: Annotated[str, typer.Option(help="comma-separated workloads")] = "cpu,io_http",
) -> None:
    """The compare table, quick: cpu and io_http on every pool, in-process baselines (the stack must be up)."""
    from producer.cli.measure_commands import run_compare_command

    run_compare_command(workloads, None, count, repeat, "", True, 600)


@app.command()
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

    run_watch(celery_app, get_settings(), window_s=window, duration_s=duration, once=once, as_json=as_json,
              refresh_hz=refresh)


@stack_app.command("up")
def stack_up(
    detach: Annotated[bool, typer.Option("--detach", help="leave the stack running and return")] = False,
) -> None:
    """Start Redis (if needed), the CPU and I/O workers, Flower and the latency target."""
    import os
    import signal
    import time

    from producer.processes import children as processes
    from producer.processes import stack
    from worker.app import app as celery_app

    settings = get_settings()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        console.print("note: running as root; Celery warns about that in the worker logs. "
                      "Containers run the workers as a normal user.")
    state, password, generated = stack.stack_up(celery_app, settings)
    console.print(f"[bold green]stack up[/]: {', '.join(c.role for c in state.children)}")
    console.print(f"  broker  {state.broker_url}\n  target  {state.target_url}")
    console.print(f"  flower  {state.flower_url}  (user {settings.flower_user}; password "
                  f"{'generated: ' + password if generated else 'in LAB_FLOWER_PASSWORD or .lab/flower-password'})")
    console.print(f"  logs    {settings.state_dir / 'logs'}/")
    if detach:
        console.print("stop it with `producer stack down`")
        return
    console.print("Ctrl-C stops everything")
    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while any(processes.is_running(c) for c in state.children):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stopped = stack.stack_down(settings)
    console.print(f"stopped: {', '.join(stopped) or 'nothing'}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every process the stack started, by PID."""
    from producer.processes import stack

    stopped = stack.stack_down(get_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


@stack_app.command("status")
def stack_status() -> None:
    """Show the stack's processes; exit 1 unless all of them run."""
    from producer.processes import children as processes
    from producer.processes import stack

    state = stack.StackState.load(stack.state_path(get_settings()))
    if state is None:
        console.print("no stack recorded")
        raise typer.Exit(1)
    running = [processes.is_running(child) for child in state.children]
    for child, alive in zip(state.children, running, strict=True):
        console.print(f"{child.role:<11} pid {child.pid:<8} {'running' if alive else 'stopped'}")
    if not all(running):
        raise typer.Exit(1)


# Typer ≥ 0.29 carries its own copy of click; catch both copies' exceptions.
_EXIT_ERRORS = (click.exceptions.Exit, typer.Exit)
_ABORT_ERRORS = (click.exceptions.Abort, typer.Abort)
_USAGE_ERRORS = (click.ClickException, getattr(typer, "TyperException", click.ClickException))


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error becomes one line on stderr and a non-zero exit status."""
    try:
        status = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(status, int) and status:
            sys.exit(status)
    except _EXIT_ERRORS as done:
        sys.exit(getattr(done, "exit_code", 0))
    except _ABORT_ERRORS:
        sys.exit(130)
    except _USAGE_ERRORS as error:
        print(f"producer: error: {error.format_message()}", file=sys.stderr)
        sys.exit(2)
    except LabError as error:
        print(f"producer: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("producer: interrupted", file=sys.stderr)
        sys.exit(130)
    except ValidationError as error:
        first = error.errors()[0]
        where = "LAB_" + "_".join(str(p) for p in first["loc"]).upper()
        print(f"producer: error: bad setting {where}: {first['msg']}", file=sys.stderr)
        sys.exit(2)
    except (OperationalError, RedisError) as error:
        print(f"producer: error: broker: {error}", file=sys.stderr)
        sys.exit(1)
