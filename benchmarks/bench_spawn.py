"""Worker spawn to ready: the lab's worker command (as compare and sweep start it) vs Celery's defaults.

Ready = the worker answers ``ping`` (polled every ~20 ms). Each variant is started and stopped (by PID)
``--repeats`` times, alternating: the lab's command (``producer/roles.py``: no mingle, no gossip, -E) for
prefork -c2, threads -c64 and solo, and the same worker with Celery's default start (mingle and
gossip on) on the stock app.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

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
from producer import processes


def spawn_to_ready(app: object, command: list[str]) -> float:
    """Seconds from spawning ``command`` to its first ping reply; the worker is then stopped by PID."""
    name = command[command.index("-n") + 1]
    hostname = name.replace("%h", socket.gethostname())
    started = time.monotonic()
    child = processes.spawn(f"spawn-{name}", command, LOG_DIR / "spawn.log", child_env())
    try:
        ping_until_ready(app, hostname, child)
        return time.monotonic() - started
    finally:
        processes.stop(child, grace_s=15)


def main(argv: list[str] | None = None) -> None:
    """Time every variant and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    with lab_environment():
        from worker.app import app

        def stock_default() -> list[str]:
            command = worker_command("prefork", 2, unique("q"), unique("stock"), app_module=STOCK_APP)
            return [arg for arg in command if arg not in ("--without-mingle", "--without-gossip", "-E")]

        variants = {
            "lab prefork -c2": lambda: worker_command("prefork", 2, unique("q"), unique("prefork")),
            "lab threads -c64": lambda: worker_command("threads", 64, unique("q"), unique("threads")),
            "lab solo": lambda: worker_command("solo", 1, unique("q"), unique("solo")),
            "Celery default start, prefork -c2": stock_default,
        }
        spawn_to_ready(app, variants["lab solo"]())  # warm the file cache
        values = alternating(options.repeats, {name: (lambda make=make: spawn_to_ready(app, make()))
                                               for name, make in variants.items()})
    med = {name: statistics.median(v) for name, v in values.items()}
    report("spawn", f"worker spawn to ready (answers ping), seconds, median of {options.repeats}",
           {**{f"{name} s": value for name, value in med.items()}, "all runs": values},
           {"lab prefork -c2 spawn to ready, s": (med["lab prefork -c2"], "<= 0.5"),
            "lab threads -c64 spawn to ready, s": (med["lab threads -c64"], "<= 0.5"),
            "Celery default / lab prefork -c2": (med["Celery default start, prefork -c2"] / med["lab prefork -c2"],
                                                 "reported")},
           ["mingle waits ~1 s for other workers' replies; the lab starts without it (and without gossip)"])


if __name__ == "__main__":
    main()
