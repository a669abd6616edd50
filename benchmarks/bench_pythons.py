"""The GIL's two newer answers on pure-Python CPU work: subinterpreters and free-threading, each against solo.

Four workers run side by side, each on its own queue, and get the same ``cpu`` batches in turn:
solo and ``interpreters -c 2`` on the default-build CPython 3.13.5, solo and ``threads_nogil -c 2``
on the free-threaded 3.13.5t (``PYTHON_GIL=0``), each worker one process. Ratios: each pool ÷ solo
on its own interpreter, back to back per round, over the rounds in which other processes left the
cores free (the machine is shared) and over all; the free-threaded build's single-thread time per
task ÷ the GIL build's (the price of free-threading when nothing runs in parallel). Then idle memory
per slot: USS of a worker at ``-c 4`` minus at ``-c 2``, halved. Needs `make pythons`; reported as
skipped without it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.common import LOG_DIR, child_env, lab_environment, report, run_batch_rate, unique
from producer.measure.cpu_share import BUSY_OTHERS_CORES


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


#: The pairs measured: each pool against solo on the same interpreter.
PAIRS = {"interpreters -c2": "solo 3.13", "threads_nogil -c2": "solo 3.13t"}


def _measured(app: Any, running: dict[str, Any], side: str, options: Any, records: list[dict[str, Any]]) -> Any:
    """One batch on ``side``: (tasks/s, cores other processes kept busy meanwhile)."""
    from config.settings import get_settings
    from producer.batch.run import redis_clients
    from producer.measure import cpu_share

    queue, child = running[side]
    broker, _ = redis_clients(get_settings())
    before = cpu_share.snapshot([child.pid], broker)
    rate = run_batch_rate(app, "cpu", options.size, options.count, queue, records_out=records)
    return rate, cpu_share.others_cores(before, cpu_share.snapshot([child.pid], broker))


def _rounds(app: Any, running: dict[str, Any], options: Any, records: dict[str, list[dict[str, Any]]]) -> list[dict]:
    """Rounds of solo-then-pool per pair, until ``repeats`` quiet rounds of each (or ``max_rounds``)."""
    rounds: list[dict[str, Any]] = []
    quiet = dict.fromkeys(PAIRS, 0)
    while len(rounds) < options.max_rounds and min(quiet.values()) < options.repeats:
        entry: dict[str, Any] = {}
        for pool, solo in PAIRS.items():
            solo_rate, solo_others = _measured(app, running, solo, options, records[solo])
            pool_rate, pool_others = _measured(app, running, pool, options, records[pool])
            others = max(solo_others, pool_others)
            entry[pool] = {"solo": solo_rate, "pool": pool_rate, "ratio": pool_rate / solo_rate, "others": others}
            quiet[pool] += others < BUSY_OTHERS_CORES
        rounds.append(entry)
        print(f"  round {len(rounds)}: " + "; ".join(f"{p} {v['ratio']:.2f}× (others {v['others']:.2f} cores)"
                                                    for p, v in entry.items()), flush=True)  # fmt: skip
    return rounds


def main(argv: list[str] | None = None) -> None:
    """Run the pairs' batches in rounds and report the ratios and memory per slot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--size", type=int, default=25_000, help="n of the product loop (~0.1 s at 25,000)")
    parser.add_argument("--repeats", type=int, default=3, help="quiet rounds wanted per pair")
    parser.add_argument("--max-rounds", type=int, default=16)
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
            rounds = _rounds(app, running, options, records)
        per_slot = {
            "interpreters": _per_slot_mib(app, "interpreters", None, {}),
            "threads_nogil": _per_slot_mib(app, "threads_nogil", None, {}),
        }
    _report(options, rounds, records, per_slot)


def _report(options: Any, rounds: list[dict], records: dict[str, list[dict[str, Any]]], per_slot: dict) -> None:
    def ratio(pool: str, only_quiet: bool) -> float | None:
        values = [r[pool]["ratio"] for r in rounds if not only_quiet or r[pool]["others"] < BUSY_OTHERS_CORES]
        return statistics.median(values) if values else None

    wall = {side: statistics.median(r["finished"] - r["started"] for r in rs) for side, rs in records.items()}
    cpu = {side: statistics.median(r["thread_cpu"] for r in rs) for side, rs in records.items()}
    # A task's thread CPU ÷ its wall time: below 1 when other processes (or a GIL) took its core.
    share = {side: statistics.median(r["thread_cpu"] / (r["finished"] - r["started"]) for r in rs)
             for side, rs in records.items()}  # fmt: skip
    processes = {side: len({r["pid"] for r in rs}) for side, rs in records.items()}
    ratios: dict[str, tuple[float, str]] = {}
    for pool, solo in PAIRS.items():
        quiet, every = ratio(pool, True), ratio(pool, False)
        if quiet is not None:
            ratios[f"{pool} / {solo}, quiet rounds"] = (quiet, ">= 1.8")
        ratios[f"{pool} / {solo}, every round"] = (every or 0.0, "reported" if quiet is not None else ">= 1.8")
        ratios[f"{pool} / {solo}, best round"] = (max(r[pool]["ratio"] for r in rounds), "reported")
    ratios["3.13t / 3.13 single-thread time per task (solo)"] = (wall["solo 3.13t"] / wall["solo 3.13"], "reported")
    ratios["3.13t / 3.13 single-thread CPU per task (solo)"] = (cpu["solo 3.13t"] / cpu["solo 3.13"], "reported")
    report(
        "pythons",
        f"subinterpreters and free-threading, {options.count} cpu tasks of n={options.size:,} per batch, "
        f"{len(rounds)} rounds",
        {
            **{f"{side} wall s per task": wall[side] for side in records},
            **{f"{side} thread CPU s per task": cpu[side] for side in records},
            "CPU share of a core each task got": share,
            "worker processes that ran each side's tasks": processes,
            "idle USS MiB per slot (-c4 minus -c2, halved)": per_slot,
            "rounds (tasks/s, ratio, cores other processes used)": rounds,
        },
        ratios,
        [
            "each round runs solo then the pool on the same interpreter, back to back; a round is quiet when "
            f"other processes used under {BUSY_OTHERS_CORES} cores during both batches (else its cores were shared)",
            "the goals are judged on the quiet rounds' median when there are any, else on every round's",
            f"interpreters ran in {processes['interpreters -c2']} worker process(es); threads_nogil in "
            f"{processes['threads_nogil -c2']}",
        ],
    )


if __name__ == "__main__":
    main()
