"""Worker spawn to ready: the lab's worker command (as compare and sweep start it) vs Celery's defaults.

Ready = the worker starts a no-op task queued for it before it was spawned (its ``started`` stamp);
the time to answer ``ping`` (polled every ~20 ms) is reported too. Each variant is started and stopped (by PID)
``--repeats`` times, alternating: the lab's command (``producer/roles.py``: no mingle, no gossip, -E) for
prefork -c2, threads -c64 and solo, and the same worker with Celery's default start (mingle and
gossip on) on the stock app via ``python -m celery``; and the lab's threads worker via ``python -m celery``
instead of the lab's launcher (``worker/fast_start.py``).
"""

from __future__ import annotations

import argparse
import functools
import socket
import statistics
import time
from collections.abc import Callable

from benchmarks.common import (
    LOG_DIR,
    STOCK_APP,
    alternating,
    child_env,
    lab_environment,
    ping_until_ready,
    report,
    unique,
    worker_command,
)
from producer.processes import children as processes
from producer.processes import roles


def spawn_to_first_task(app: object, command: list[str]) -> float:
    """Seconds from spawning ``command`` to the start of a no-op task queued for it beforehand; stopped by PID."""
    from config.settings import get_settings
    from producer.batch.collect import collect_results
    from producer.batch.run import redis_clients
    from producer.batch.submit import submit_batch
    from worker.task_args import WorkloadArgs

    queue = command[command.index("-Q") + 1]
    batch = submit_batch(app, WorkloadArgs("noop", 0), 1, queue)
    _, backend = redis_clients(get_settings())
    name = command[command.index("-n") + 1].split("@", 1)[0]
    started = time.time()
    child = processes.spawn(f"spawn-{name}", command, LOG_DIR / f"spawn-{name}.log", child_env())
    try:
        collected = collect_results(backend, batch.task_ids, timeout_s=60)
        if len(collected.records) != 1:
            raise RuntimeError(f"{name}: the queued task did not run")
        return float(collected.records[0]["started"]) - started
    finally:
        processes.stop(child, grace_s=15)  # children.stop: SIGTERM, SIGKILL after 15 s, reaped


def spawn_to_ping(app: object, command: list[str]) -> float:
    """Seconds from spawning ``command`` to its first ``ping`` reply (polled every ~20 ms)."""
    name = command[command.index("-n") + 1]
    started = time.monotonic()
    base = name.split("@", 1)[0]
    child = processes.spawn(f"spawn-{base}", command, LOG_DIR / f"spawn-{base}.log", child_env())
    try:
        ping_until_ready(app, name.replace("%h", socket.gethostname()), child)
        return time.monotonic() - started
    finally:
        processes.stop(child, grace_s=15)  # children.stop: SIGTERM, SIGKILL after 15 s, reaped


def _run_made(measure: Callable[[object, list[str]], float], app: object, make: Callable[[], list[str]]) -> float:
    return measure(app, make())


def main(argv: list[str] | None = None) -> None:
    """Time every variant and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    with lab_environment():
        from worker.app import app

        def celery_cli(command: list[str]) -> list[str]:
            return [*roles.CELERY_PROGRAM, *command[len(roles.LAB_WORKER_PROGRAM) :]]

        def stock_default() -> list[str]:
            command = worker_command("prefork", 2, unique("q"), unique("stock"), app_module=STOCK_APP)
            return celery_cli([arg for arg in command if arg not in ("--without-mingle", "--without-gossip", "-E")])

        variants = {
            "lab prefork -c2": lambda: worker_command("prefork", 2, unique("q"), unique("prefork")),
            "lab threads -c64": lambda: worker_command("threads", 64, unique("q"), unique("threads")),
            "lab solo": lambda: worker_command("solo", 1, unique("q"), unique("solo")),
            "lab threads -c64 via python -m celery": lambda: celery_cli(
                worker_command("threads", 64, unique("q"), unique("threads"))
            ),
            "Celery default start, prefork -c2": stock_default,
        }
        spawn_to_first_task(app, variants["lab solo"]())  # warm the file cache
        values = alternating(
            options.repeats,
            {name: functools.partial(_run_made, spawn_to_first_task, app, make) for name, make in variants.items()},
        )
        pinged = {name: make for name, make in variants.items() if name.startswith(("lab prefork", "Celery"))}
        ping = alternating(
            options.repeats,
            {name: functools.partial(_run_made, spawn_to_ping, app, make) for name, make in pinged.items()},
        )
    med = {name: statistics.median(v) for name, v in values.items()}
    report(
        "spawn",
        f"worker spawn to ready (starts a queued task), seconds, median of {options.repeats}",
        {
            **{f"{name} s": value for name, value in med.items()},
            "all runs": values,
            **{f"{name}: answers ping, s": statistics.median(v) for name, v in ping.items()},
        },
        {
            "lab prefork -c2 spawn to ready, s": (med["lab prefork -c2"], "<= 0.5"),
            "lab threads -c64 spawn to ready, s": (med["lab threads -c64"], "<= 0.5"),
            "Celery default / lab prefork -c2": (
                med["Celery default start, prefork -c2"] / med["lab prefork -c2"],
                "reported",
            ),
        },
        [
            "mingle waits ~1 s for other workers' replies; the lab starts without it (and without gossip)",
            "ready = the worker starts a task queued before it was spawned; answering ping takes longer "
            "(the remote-control reply path), see the 'answers ping' figures",
        ],
    )


if __name__ == "__main__":
    main()
