"""Pure-Python CPU work: the lab's prefork worker with one process per core vs the solo pool.

Both workers (the lab's worker command, same app) run side by side, each on its own queue, and get
the same batches alternately: ``--count`` ``cpu`` tasks of ~0.1 s each. Throughput is completed tasks ÷
(last finish − first enqueue); every task is counted. The ideal ratio is the number of cores, less
whatever else the (shared) machine is running.
"""

from __future__ import annotations

import argparse
import os
import statistics

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
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--size", type=int, default=25_000, help="n of the product loop (~0.1 s at 25,000)")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    with lab_environment():
        from worker.app import app

        queues = {"solo": unique("solo"), "prefork": unique("prefork")}
        with running_worker(app, worker_command("solo", 1, queues["solo"], unique("solo"))), \
                running_worker(app, worker_command("prefork", cores, queues["prefork"], unique("prefork"))):
            for queue in queues.values():
                run_batch_rate(app, "cpu", options.size, 4, queue)
            values = alternating(options.repeats, {
                name: (lambda q=queue: run_batch_rate(app, "cpu", options.size, options.count, q))
                for name, queue in queues.items()})
    med = {name: statistics.median(v) for name, v in values.items()}
    report("cpu", f"pure-Python CPU, {options.count} tasks of n={options.size:,}, tasks/s, median of "
                  f"{options.repeats}",
           {"solo tasks/s": med["solo"], f"prefork -c{cores} tasks/s": med["prefork"], "all runs": values,
            "cores": cores},
           {f"prefork -c{cores} / solo": (med["prefork"] / med["solo"], f">= {0.95 * cores:.1f}")},
           ["the machine is shared: other processes' CPU time comes out of the prefork side's ideal"])


if __name__ == "__main__":
    main()
