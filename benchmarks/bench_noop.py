"""No-op tasks end to end: the lab mode vs the stock mode (same config, plain Celery and kombu), Celery's
defaults, and the cost of events.

Every side is prefork -c2 with the same worker arguments (``producer/roles.py``). ``lab`` runs
``LAB_CELERY_MODE=lab`` (the lab's transport and consumer, started by worker/fast_start.py); ``stock``
runs the same app and config with ``LAB_CELERY_MODE=stock`` (plain Celery and kombu, started with
``python -m celery``), so lab / stock is what the lab's classes buy; ``celery_defaults`` runs
``-A benchmarks.stock_app`` (Celery's default settings, results on) in stock mode. All get the same
batches, published the same way (pipelined ``submit_batch``); throughput is completed tasks ÷ (last
finish − first enqueue), every task counted (a lost or failed one fails the benchmark). The events row
runs the lab mode with and without ``-E`` (the task events Flower needs); one more side has
``LAB_TASK_LOG=1`` (Celery's per-task INFO lines back on).
"""

from __future__ import annotations

import argparse
import functools
import statistics
from typing import Any

from benchmarks.common import (
    STOCK_APP,
    alternating,
    child_env,
    lab_environment,
    report,
    run_batch_rate,
    running_worker,
    unique,
    worker_command,
)


def run_noop_batch(app: Any, queue: str, count: int) -> float:
    """Submit ``count`` no-op tasks to ``queue``, wait for all, return tasks/s; raise if any is missing."""
    return run_batch_rate(app, "noop", 0, count, queue)


def main(argv: list[str] | None = None) -> None:
    """Run both comparisons side by side and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    options = parser.parse_args(argv)
    with lab_environment():
        from worker.app import app

        c = options.concurrency
        sides = ("lab", "stock", "celery_defaults", "lab_no_events", "lab_task_log")
        queues = {side: unique(side.replace("_", "-")) for side in sides}
        commands = {
            "lab": worker_command("prefork", c, queues["lab"], unique("lab"), mode="lab"),
            "stock": worker_command("prefork", c, queues["stock"], unique("stock"), mode="stock"),
            "celery_defaults": worker_command(
                "prefork", c, queues["celery_defaults"], unique("defaults"), app_module=STOCK_APP, mode="stock"
            ),
            "lab_no_events": worker_command(
                "prefork", c, queues["lab_no_events"], unique("lab-noev"), events=False, mode="lab"
            ),
            "lab_task_log": worker_command("prefork", c, queues["lab_task_log"], unique("lab-tasklog"), mode="lab"),
        }
        lab, stock = child_env(LAB_CELERY_MODE="lab"), child_env(LAB_CELERY_MODE="stock")
        with (
            running_worker(app, commands["lab"], env=lab),
            running_worker(app, commands["stock"], env=stock),
            running_worker(app, commands["celery_defaults"], env=stock),
            running_worker(app, commands["lab_no_events"], env=lab),
            running_worker(app, commands["lab_task_log"], env=child_env(LAB_CELERY_MODE="lab", LAB_TASK_LOG="1")),
        ):
            for queue in queues.values():  # warm-up: imports, connections, first forks
                run_noop_batch(app, queue, 200)
            values = alternating(
                options.repeats,
                {side: functools.partial(run_noop_batch, app, queue, options.count) for side, queue in queues.items()},
            )
    med = {side: statistics.median(v) for side, v in values.items()}
    event_cost_us = (1 / med["lab"] - 1 / med["lab_no_events"]) * 1e6
    report(
        "noop",
        f"no-op end to end, prefork -c{c}, {options.count} tasks, median of {options.repeats}",
        {
            "lab mode tasks/s": med["lab"],
            "stock mode tasks/s": med["stock"],
            "Celery defaults (stock, results on) tasks/s": med["celery_defaults"],
            "lab mode without -E tasks/s": med["lab_no_events"],
            "lab mode with LAB_TASK_LOG=1 tasks/s": med["lab_task_log"],
            "all runs": values,
            "task events cost per task, µs": event_cost_us,
        },
        {
            "lab mode / Celery defaults": (med["lab"] / med["celery_defaults"], ">= 1.3"),
            "lab mode / stock mode": (med["lab"] / med["stock"], "reported"),
            "with events / without events": (med["lab"] / med["lab_no_events"], "reported"),
            "lab mode / same with LAB_TASK_LOG=1": (med["lab"] / med["lab_task_log"], "reported"),
        },
        [
            "same worker arguments (-E, no mingle/gossip, -l INFO) on every side; only the mode, -A or -E differ",
            "same producer (pipelined submit) for all; every task counted",
        ],
    )


if __name__ == "__main__":
    main()
