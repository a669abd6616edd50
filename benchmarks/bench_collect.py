"""Collecting 10,000 results: ``collect_results`` (pipelined MGETs) vs an ``AsyncResult.get`` loop.

The results are stored by the lab app's own result backend (``backend.store_result``, what a worker
calls), so the keys and JSON are exactly a worker's. The ``get`` loop is timed on the first
``--get-sample`` ids (it is slow) and compared as a rate. Every result is checked to be there.
"""

from __future__ import annotations

import argparse
import time
import uuid

from benchmarks.common import lab_environment, median_of, report


def main(argv: list[str] | None = None) -> None:
    """Store results, time both ways of reading them back, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--get-sample", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    with lab_environment():
        from config.settings import get_settings
        from producer.batch.collect import collect_results
        from producer.batch.run import redis_clients
        from worker.app import app
        from worker.runtime import timed_run

        _, backend = redis_clients(get_settings())
        prefix = uuid.uuid4().hex[:8]
        task_ids = [f"{prefix}-{index}" for index in range(options.count)]
        for task_id in task_ids:
            record = timed_run(dict, workload="noop", hostname="bench@host", enqueued=time.time())
            app.backend.store_result(task_id, record, "SUCCESS")

        def collect_seconds() -> float:
            started = time.perf_counter()
            collected = collect_results(backend, task_ids, timeout_s=60)
            elapsed = time.perf_counter() - started
            if len(collected.records) != options.count or collected.failures or collected.lost:
                raise RuntimeError(f"collected {len(collected.records)} of {options.count}")
            return elapsed

        def get_loop_rate() -> float:
            sample = task_ids[: options.get_sample]
            started = time.perf_counter()
            results = [app.AsyncResult(task_id).get(timeout=10) for task_id in sample]
            elapsed = time.perf_counter() - started
            if len(results) != len(sample) or not all(isinstance(r, dict) for r in results):
                raise RuntimeError("AsyncResult.get loop missed results")
            return len(sample) / elapsed

        collect_s, collect_runs = median_of(options.repeats, collect_seconds)
        get_rate, get_runs = median_of(options.repeats, get_loop_rate)
    collect_rate = options.count / collect_s
    report(
        "collect",
        f"collecting {options.count:,} results, median of {options.repeats}",
        {
            "collect_results seconds": collect_s,
            "collect_results results/s": collect_rate,
            "AsyncResult.get loop results/s": get_rate,
            "collect runs (s)": collect_runs,
            "get loop runs (results/s)": get_runs,
            f"AsyncResult.get loop for {options.count:,}, extrapolated (s)": options.count / get_rate,
        },
        {
            f"collect_results seconds for {options.count:,}": (collect_s, "<= 0.5"),
            "collect_results / AsyncResult.get loop (rate)": (collect_rate / get_rate, ">= 10"),
        },
        [f"the get loop is timed on the first {options.get_sample} ids and compared as a rate"],
    )


if __name__ == "__main__":
    main()
