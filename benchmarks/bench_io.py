"""I/O: the lab's threads worker (-c 64) vs an in-process ThreadPoolExecutor(64), same workload code.

Both run ``workloads.io_http`` against the lab's latency target (aiohttp, large backlog) answering after
``--ms`` ms: the worker through Celery + Redis (throughput = tasks ÷ (last finish − first enqueue), every
task counted), the executor directly (calls ÷ wall time). Alternating, side by side, in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.common import (
    alternating,
    lab_environment,
    report,
    run_batch_rate,
    running_target,
    running_worker,
    unique,
    worker_command,
)


def executor_rate(url: str, ms: int, count: int, threads: int, timeout_s: float) -> float:
    """``count`` calls of the workload in a fresh ThreadPoolExecutor(``threads``): calls/s."""
    from worker import workloads

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(lambda _: workloads.io_http(url, ms, timeout_s), range(count)))
    elapsed = time.perf_counter() - started
    if len(results) != count or any(r["status"] != 200 for r in results):
        raise RuntimeError("executor run lost calls")
    return count / elapsed


def main(argv: list[str] | None = None) -> None:
    """Run both alternately and report the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=640)
    parser.add_argument("--ms", type=int, default=100)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    with lab_environment():
        from config.settings import get_settings
        from worker.app import app

        settings = get_settings()
        url = settings.effective_target_url
        queue = unique("threads")
        with running_target(settings.target_port), \
                running_worker(app, worker_command("threads", options.threads, queue, unique("threads"))):
            run_batch_rate(app, "io_http", options.ms, options.threads, queue, url)
            executor_rate(url, options.ms, options.threads, options.threads, settings.http_timeout_s)
            values = alternating(options.repeats, {
                "celery": lambda: run_batch_rate(app, "io_http", options.ms, options.count, queue, url),
                "executor": lambda: executor_rate(url, options.ms, options.count, options.threads,
                                                  settings.http_timeout_s)})
    med = {name: statistics.median(v) for name, v in values.items()}
    ideal = options.threads * 1000 / options.ms
    report("io", f"I/O {options.ms} ms, {options.count} tasks, {options.threads} threads, tasks/s, median of "
                 f"{options.repeats}",
           {f"threads -c{options.threads} worker tasks/s": med["celery"],
            f"ThreadPoolExecutor({options.threads}) calls/s": med["executor"], "ideal": ideal, "all runs": values},
           {f"threads -c{options.threads} / ThreadPoolExecutor({options.threads})":
                (med["celery"] / med["executor"], ">= 0.8")},
           ["the worker's figure includes publishing, Redis, the result write and collection"])


if __name__ == "__main__":
    main()
