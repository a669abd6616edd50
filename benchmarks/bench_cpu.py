"""Pure-Python CPU work: the lab's prefork worker with one process per core vs the solo pool.

Both workers (the lab's worker command, same app) run side by side, each on its own queue, and get
the same batches alternately: ``--count`` ``cpu`` tasks of ~0.1 s each. Throughput is completed tasks ÷
(last finish − first enqueue); every task is counted. The ideal ratio is the number of cores, less
whatever else the (shared) machine is running.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
from typing import Any

from benchmarks.common import (
    alternating,
    lab_environment,
    report,
    run_batch_rate,
    running_worker,
    unique,
    worker_command,
)


def main(argv: list[str] | None = None) -> None:
    """Run solo and prefork -c cores alternately and report the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--size", type=int, default=25_000, help="n of the product loop (~0.1 s at 25,000)")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    with lab_environment():
        from worker.app import app

        queues = {"solo": unique("solo"), "prefork": unique("prefork")}
        with (
            running_worker(app, worker_command("solo", 1, queues["solo"], unique("solo"))),
            running_worker(app, worker_command("prefork", cores, queues["prefork"], unique("prefork"))),
        ):
            for queue in queues.values():
                run_batch_rate(app, "cpu", options.size, 4, queue)
            records: dict[str, list[dict[str, Any]]] = {name: [] for name in queues}
            values = alternating(
                options.repeats,
                {
                    name: functools.partial(
                        run_batch_rate, app, "cpu", options.size, options.count, queue, records_out=records[name]
                    )
                    for name, queue in queues.items()
                },
            )
    med = {name: statistics.median(v) for name, v in values.items()}
    # CPU share: thread CPU time ÷ wall time of each task; below 1 when other processes took the core.
    share = {
        name: statistics.median(r["thread_cpu"] / (r["finished"] - r["started"]) for r in rs)
        for name, rs in records.items()
    }
    report(
        "cpu",
        f"pure-Python CPU, {options.count} tasks of n={options.size:,}, tasks/s, median of {options.repeats}",
        {
            "solo tasks/s": med["solo"],
            f"prefork -c{cores} tasks/s": med["prefork"],
            "all runs": values,
            "cores": cores,
            "CPU share of a core each solo task got": share["solo"],
            "CPU share of a core each prefork task got": share["prefork"],
        },
        {f"prefork -c{cores} / solo": (med["prefork"] / med["solo"], f">= {0.95 * cores:.1f}")},
        [
            "the machine is shared: other processes' CPU time comes out of the prefork side's ideal",
            "CPU share = a task's thread CPU time ÷ its wall time; prefork can reach cores × solo only if its "
            "tasks get whole cores",
        ],
    )


if __name__ == "__main__":
    main()
