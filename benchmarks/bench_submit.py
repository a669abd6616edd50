"""Enqueue rate: ``producer submit``'s pipelined publishing vs a plain ``apply_async`` loop, and vs Redis itself.

Side by side in one run, alternating, into a private Redis with no worker: the stock app's
``apply_async`` loop (results ignored, the faster stock variant, and results on), the lab's own
one-by-one ``send_task`` loop, the lab's pipelined ``submit_batch`` (with its task-sent events), and the
ceiling: the same message bytes LPUSHed in the same chunks with nothing else. Every run checks that
exactly ``count`` messages are in the queue.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

from benchmarks.common import alternating, lab_environment, report, unique

# The stock app registers the lab's task names on purpose (same messages, other configuration).
warnings.filterwarnings("ignore", message=r"Task name 'lab\.\w+' is already registered")


def _check_and_clear(broker: Any, queue: str, count: int) -> None:
    queued = broker.llen(queue)
    broker.delete(queue)
    if queued != count:
        raise RuntimeError(f"{queue}: {queued} messages queued, {count} sent")


def main(argv: list[str] | None = None) -> None:
    """Measure every enqueue path and report the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    count = options.count
    with lab_environment():
        import redis

        from benchmarks import stock_app
        from config.settings import get_settings
        from producer.batch.submit import CHUNK, submit_batch
        from worker.app import app
        from worker.task_args import WorkloadArgs

        broker = redis.Redis.from_url(get_settings().broker_url)
        args = WorkloadArgs("noop", 0)

        def timed(run: Any) -> float:
            queue = unique("enqueue")
            started = time.perf_counter()
            run(queue)
            rate = count / (time.perf_counter() - started)
            _check_and_clear(broker, queue, count)
            return rate

        def stock_loop(queue: str, ignore_result: bool) -> None:
            for _ in range(count):
                stock_app.noop.apply_async(
                    kwargs={"size": 0, "enqueued": time.time()}, queue=queue, ignore_result=ignore_result
                )

        submit_batch(app, args, 10, unique("warm"))  # imports, connection, registry
        stock_loop(unique("warm"), True)
        sample = unique("sample")
        submit_batch(app, args, count, sample)
        payloads = broker.lrange(sample, 0, -1)
        broker.delete(sample)

        def redis_ceiling(queue: str) -> None:
            for start in range(0, count, CHUNK):
                broker.lpush(queue, *payloads[start : start + CHUNK])

        values = alternating(
            options.repeats,
            {
                "stock apply_async loop (results ignored)": lambda: timed(lambda q: stock_loop(q, True)),
                "stock apply_async loop (results on)": lambda: timed(lambda q: stock_loop(q, False)),
                "lab send_task loop": lambda: timed(lambda q: submit_batch(app, args, count, q, pipelined=False)),
                "producer submit (pipelined)": lambda: timed(lambda q: submit_batch(app, args, count, q)),
                "Redis ceiling: LPUSH of the same bytes": lambda: timed(redis_ceiling),
            },
        )
    med = {name: statistics.median(v) for name, v in values.items()}
    stock = med["stock apply_async loop (results ignored)"]
    fast = med["producer submit (pipelined)"]
    report(
        "submit",
        f"enqueue rate, {count} no-op tasks, tasks/s, median of {options.repeats}",
        {
            **{f"{name} tasks/s": value for name, value in med.items()},
            "all runs": values,
            "message bytes": len(payloads[0]),
        },
        {
            "producer submit / stock apply_async loop": (fast / stock, ">= 7"),
            "producer submit / Redis ceiling": (fast / med["Redis ceiling: LPUSH of the same bytes"], "reported"),
        },
        [
            "pipelined submit includes building every message and its task-sent event (task.multi per chunk)",
            f"chunk = {CHUNK} messages per LPUSH round trip; every run counts the queued messages",
        ],
    )


if __name__ == "__main__":
    main()
