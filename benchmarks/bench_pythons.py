"""The GIL's two newer answers on pure-Python CPU work: subinterpreters and free-threading, each against solo.

Four workers run side by side, each on its own queue, and get the same ``cpu`` batches in turn:
solo and ``interpreters -c 2`` on the default-build CPython 3.13.5, solo and ``threads_nogil -c 2``
on the free-threaded 3.13.5t (``PYTHON_GIL=0``), each worker one process. Ratios: each pool ÷ solo on
its own interpreter; the free-threaded build's single-thread time per task ÷ the GIL build's (the
price of free-threading when nothing runs in parallel). Then idle memory per slot: USS of a worker at
``-c 4`` minus at ``-c 2``, halved. Needs `make pythons`; skipped (reported, not run) without it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.common import LOG_DIR, alternating, child_env, lab_environment, report, run_batch_rate, unique


@contextlib.contextmanager
def _workers(app: Any, sides: dict[str, tuple[str, int, str | None, dict[str, str]]]) -> Iterator[dict[str, Any]]:
    """Start one worker per side (pool, slots, python, extra env) on its own queue; yields side → (queue, child)."""
    from config.settings import get_settings
    from producer.processes import fleet

    launches, queues = [], {}
    for side, (pool, slots, python, env) in sides.items():
        queues[side] = unique(side.replace(" ", "-"))
        launch = fleet.worker_launch(
            get_settings(),
            pool,
            slots,
            queues[side],
            unique(pool),
            python=python,
            env=child_env(**env),
            log_dir=LOG_DIR,
        )
        launches.append(launch)
    children = fleet.start_launches(app, launches, 120.0)
    try:
        yield {side: (queues[side], child) for side, child in zip(sides, children, strict=True)}
    finally:
        fleet.stop_all(children)


def _uss_mib(pid: int) -> float:
    from producer.measure.memory import tree_memory

    reading = tree_memory([pid])
    return reading[1] if reading else float("nan")


def _per_slot_mib(app: Any, pool: str, python: str | None, env: dict[str, str]) -> float:
    """Idle USS per slot of ``pool``: a -c 4 worker minus a -c 2 worker, halved, after a few noop tasks each."""
    sides = {f"{pool} -c{slots}": (pool, slots, python, env) for slots in (2, 4)}
    with _workers(app, sides) as running:
        for queue, _ in running.values():
            run_batch_rate(app, "noop", 0, 8, queue)
        time.sleep(1.0)
        uss = {side: _uss_mib(child.pid) for side, (_, child) in running.items()}
    return (uss[f"{pool} -c4"] - uss[f"{pool} -c2"]) / 2


def main(argv: list[str] | None = None) -> None:
    """Run the four workers' batches in turn and report the ratios and memory per slot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--size", type=int, default=25_000, help="n of the product loop (~0.1 s at 25,000)")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    with lab_environment():
        from config import catalogue
        from config.settings import get_settings
        from producer.processes.interpreters import freethreaded_python, missing_reason, py313_python
        from worker.app import app

        settings = get_settings()
        missing = [
            r for r in (missing_reason(catalogue.pool(p), settings) for p in ("interpreters", "threads_nogil")) if r
        ]
        if missing:
            report("pythons", "subinterpreters and free-threading: not run", {"skipped": "; ".join(missing)}, {})
            return
        gil, ft, nogil = py313_python(settings), freethreaded_python(settings), {"PYTHON_GIL": "0"}
        sides = {
            "solo 3.13": ("solo", 1, gil, {}),
            "interpreters -c2": ("interpreters", 2, None, {}),
            "solo 3.13t": ("solo", 1, ft, nogil),
            "threads_nogil -c2": ("threads_nogil", 2, None, {}),
        }
        records: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        with _workers(app, sides) as running:
            for queue, _ in running.values():
                run_batch_rate(app, "cpu", options.size, 4, queue)
            values = alternating(
                options.repeats,
                {
                    side: functools.partial(
                        run_batch_rate, app, "cpu", options.size, options.count, queue, records_out=records[side]
                    )
                    for side, (queue, _) in running.items()
                },
            )
        per_slot = {
            "interpreters": _per_slot_mib(app, "interpreters", None, {}),
            "threads_nogil": _per_slot_mib(app, "threads_nogil", None, {}),
        }
    med = {side: statistics.median(v) for side, v in values.items()}
    wall = {side: statistics.median(r["finished"] - r["started"] for r in rs) for side, rs in records.items()}
    cpu = {side: statistics.median(r["thread_cpu"] for r in rs) for side, rs in records.items()}
    processes = {side: len({r["pid"] for r in rs}) for side, rs in records.items()}
    # A task's thread CPU ÷ its wall time: below 1 when other processes (or the GIL) took its core.
    share = {
        side: statistics.median(r["thread_cpu"] / (r["finished"] - r["started"]) for r in rs)
        for side, rs in records.items()
    }
    report(
        "pythons",
        f"subinterpreters and free-threading, {options.count} cpu tasks of n={options.size:,}, "
        f"median of {options.repeats}",
        {
            **{f"{side} tasks/s": med[side] for side in sides},
            **{f"{side} wall s per task": wall[side] for side in sides},
            **{f"{side} thread CPU s per task": cpu[side] for side in sides},
            "CPU share of a core each task got": share,
            "worker processes that ran each side's tasks": processes,
            "idle USS MiB per slot (-c4 minus -c2, halved)": per_slot,
            "all runs": values,
        },
        {
            "interpreters -c2 / solo (3.13)": (med["interpreters -c2"] / med["solo 3.13"], ">= 1.8"),
            "threads_nogil -c2 / solo (3.13t)": (med["threads_nogil -c2"] / med["solo 3.13t"], ">= 1.8"),
            "3.13t / 3.13 single-thread time per task (solo)": (wall["solo 3.13t"] / wall["solo 3.13"], "reported"),
        },
        [
            "each ratio compares a pool with solo on the same interpreter, measured alternately in this run",
            "the machine is shared (2 cores, other helpers' tests): a parallel ratio's ideal is 2.0 less their share",
            f"interpreters ran in {processes['interpreters -c2']} worker process(es); threads_nogil in "
            f"{processes['threads_nogil -c2']}",
        ],
    )


if __name__ == "__main__":
    main()
