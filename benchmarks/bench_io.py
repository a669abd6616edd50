"""I/O: the lab's threads worker (-c 64) vs an in-process ThreadPoolExecutor(64), same workload code.

Both run ``workloads.io_http`` against the lab's latency target (aiohttp, large backlog) answering after
``--ms`` ms: the worker through Celery + Redis (throughput = tasks ÷ (last finish − first enqueue), every
task counted), the executor directly (calls ÷ wall time). Alternating, side by side, in one run. Also
reported: the same threads split over two worker processes, and the CPU time per task of each side.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import psutil

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


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def main(argv: list[str] | None = None) -> None:
    """Run the three sides alternately and report the ratios and CPU per task."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1280)
    parser.add_argument("--ms", type=int, default=100)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    threads, half = options.threads, options.threads // 2
    cpu_ms: dict[str, list[float]] = {"celery": [], "executor": []}
    with lab_environment():
        from config.settings import get_settings
        from worker.app import app

        settings = get_settings()
        url = settings.effective_target_url
        one, two = unique("threads"), unique("threads2")
        with (
            running_target(settings.target_port),
            running_worker(app, worker_command("threads", threads, one, unique("threads"))) as (worker, _),
            running_worker(app, worker_command("threads", half, two, unique("threads2a"))),
            running_worker(app, worker_command("threads", half, two, unique("threads2b"))),
        ):

            def celery_side() -> float:
                before = _cpu_seconds([worker.pid])
                rate = run_batch_rate(app, "io_http", options.ms, options.count, one, url)
                cpu_ms["celery"].append((_cpu_seconds([worker.pid]) - before) * 1000 / options.count)
                return rate

            def executor_side() -> float:
                before = time.process_time()
                rate = executor_rate(url, options.ms, options.count, threads, settings.http_timeout_s)
                cpu_ms["executor"].append((time.process_time() - before) * 1000 / options.count)
                return rate

            run_batch_rate(app, "io_http", options.ms, threads, one, url)
            run_batch_rate(app, "io_http", options.ms, threads, two, url)
            executor_rate(url, options.ms, threads, threads, settings.http_timeout_s)
            values = alternating(
                options.repeats,
                {
                    "celery": celery_side,
                    "executor": executor_side,
                    "celery_2x": lambda: run_batch_rate(app, "io_http", options.ms, options.count, two, url),
                },
            )
    med = {name: statistics.median(v) for name, v in values.items()}
    ideal = threads * 1000 / options.ms
    report(
        "io",
        f"I/O {options.ms} ms, {options.count} tasks, {threads} threads, tasks/s, median of {options.repeats}",
        {
            f"threads -c{threads} worker tasks/s": med["celery"],
            f"ThreadPoolExecutor({threads}) calls/s": med["executor"],
            f"2 workers x threads -c{half} tasks/s": med["celery_2x"],
            "ideal": ideal,
            "all runs": values,
            "worker CPU per task, ms": statistics.median(cpu_ms["celery"]),
            "executor CPU per call, ms": statistics.median(cpu_ms["executor"]),
        },
        {
            f"threads -c{threads} / ThreadPoolExecutor({threads})": (med["celery"] / med["executor"], ">= 0.8"),
            f"2 x threads -c{half} / ThreadPoolExecutor({threads})": (med["celery_2x"] / med["executor"], "reported"),
        },
        [
            "the worker's figure includes publishing, Redis, the result write and collection",
            "one threads worker is one process: its CPU per task × rate cannot exceed one core (the GIL)",
        ],
    )


if __name__ == "__main__":
    main()
