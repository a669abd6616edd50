"""No-op tasks end to end: the lab's Celery config vs stock Celery (results on), same pool; and the cost of events.

Both workers run the lab's own worker command (``producer/roles.py``), prefork -c2, differing only in
``-A`` (``worker.app`` vs ``benchmarks.stock_app``) — so the ratio is the configuration's doing. Both
get the same batches, published the same way (pipelined ``submit_batch``); throughput is completed
tasks ÷ (last finish − first enqueue), every task counted (a lost or failed one fails the benchmark).
The events row runs the lab's worker with and without ``-E`` (the task events Flower needs); one more
side runs the lab's worker with ``LAB_FAST_REDIS=0`` (stock kombu channel and Celery consumer), one with
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
        sides = ("lab", "stock", "lab_no_events", "lab_stock_kombu", "lab_task_log")
        queues = {side: unique(side.replace("_", "-")) for side in sides}
        commands = {
            "lab": worker_command("prefork", c, queues["lab"], unique("lab")),
            "stock": worker_command("prefork", c, queues["stock"], unique("stock"), app_module=STOCK_APP),
            "lab_no_events": worker_command("prefork", c, queues["lab_no_events"], unique("lab-noev"), events=False),
            "lab_stock_kombu": worker_command("prefork", c, queues["lab_stock_kombu"], unique("lab-nofast")),
            "lab_task_log": worker_command("prefork", c, queues["lab_task_log"], unique("lab-tasklog")),
        }
        with running_worker(app, commands["lab"]), running_worker(app, commands["stock"]), \
                running_worker(app, commands["lab_no_events"]), \
                running_worker(app, commands["lab_stock_kombu"], env=child_env(LAB_FAST_REDIS="0")), \
                running_worker(app, commands["lab_task_log"], env=child_env(LAB_TASK_LOG="1")):
            for queue in queues.values():  # warm-up: imports, connections, first forks
                run_noop_batch(app, queue, 200)
            values = alternating(options.repeats, {side: functools.partial(run_noop_batch, app, queue, options.count)
                                                   for side, queue in queues.items()})
    med = {side: statistics.median(v) for side, v in values.items()}
    event_cost_us = (1 / med["lab"] - 1 / med["lab_no_events"]) * 1e6
    report("noop", f"no-op end to end, prefork -c{c}, {options.count} tasks, median of {options.repeats}",
           {"lab config tasks/s": med["lab"], "stock Celery (results on) tasks/s": med["stock"],
            "lab config without -E tasks/s": med["lab_no_events"],
            "lab config with LAB_FAST_REDIS=0 tasks/s": med["lab_stock_kombu"],
            "lab config with LAB_TASK_LOG=1 tasks/s": med["lab_task_log"], "all runs": values,
            "task events cost per task, µs": event_cost_us},
           {"lab config / stock Celery": (med["lab"] / med["stock"], ">= 1.3"),
            "with events / without events": (med["lab"] / med["lab_no_events"], "reported"),
            "lab config / same with LAB_FAST_REDIS=0": (med["lab"] / med["lab_stock_kombu"], "reported"),
            "lab config / same with LAB_TASK_LOG=1": (med["lab"] / med["lab_task_log"], "reported")},
           ["same worker command line (-E, no mingle/gossip, -l INFO), only -A differs",
            "same producer (pipelined submit) for both; every task counted"])


if __name__ == "__main__":
    main()
