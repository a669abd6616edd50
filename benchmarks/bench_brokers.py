"""Redis vs RabbitMQ per pool: stock Celery's no-op and I/O throughput, with the broker's CPU and round trips.

Both brokers run in this one run, private to it: the ``redis-server`` of :func:`~benchmarks.common.lab_environment`
and a node of Debian's ``rabbitmq-server`` on free ports with its files in a temp dir (started once, stopped
by PID). Results go to a third server, a second private Redis, on both sides: so the broker's server
does broker work only, and its CPU is the broker's. Workers are stock Celery (``LAB_CELERY_MODE=stock``)
with the lab's configuration (acks_late, prefetch 4 × slots, JSON, durable queues, persistent messages
on AMQP) and the lab's worker arguments (``-E``, no mingle or gossip); only ``LAB_BROKER_URL`` differs.

Per cell (workload × pool × slots) one worker per broker, started together, each idle on a gate queue.
A batch is pre-enqueued on a fresh queue (``submit_batch``: pipelined ``LPUSH`` on Redis, Celery's
messages confirmed 100 at a time on RabbitMQ), then released to the worker (``add_consumer``); after
an unrecorded warm-up batch the two brokers alternate, ``--repeats`` rounds. Per batch: throughput =
tasks ÷ (last finish − first start), every task counted (a failed or lost one fails the benchmark); the
broker server's CPU seconds (its process tree: ``redis-server``; ``beam.smp`` under the node's script)
and the worker's around the consuming, ÷ tasks; and round trips at the server's sockets ÷ tasks: Redis'
read and write events (``INFO stats``), RabbitMQ's packets received from and sent to the worker's own
connections (``rabbitmqctl list_connections recv_cnt send_cnt``). Publishing is measured apart (its
rate and the broker's CPU per task for it). Medians over the repeats; rabbitmq ÷ redis per cell. Stalls
(≥ 0.2 s between consecutive task starts) are counted: stock Celery's solo worker has them on AMQP
(docs/brokers.md), hence its smaller batches (``--solo-count``).

    .venv/bin/python -m benchmarks.bench_brokers [--count 1000] [--solo-count 200] [--io-count 400] [--ms 20]
        [--repeats 3] [--pools solo,prefork,threads] [--io-pools threads]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import alternating, lab_environment, report, unique, worker_command

BROKERS = ("redis", "rabbitmq")
#: Slots per pool: noop on the pools' usual sizes, io_sleep on enough threads that the consumer is the bound.
NOOP_SLOTS = {"solo": 1, "prefork": 2, "threads": 16}
IO_SLOTS = {"solo": 1, "prefork": 2, "threads": 32}


def cells_of(options: argparse.Namespace) -> list[tuple[str, str, int, int, int]]:
    """(workload, pool, slots, size, count) of every cell, no-op first."""
    noop = [
        ("noop", pool, NOOP_SLOTS[pool], 0, options.solo_count if pool == "solo" else options.count)
        for pool in _names(options.pools)
    ]
    io = [("io_sleep", pool, IO_SLOTS[pool], options.ms, options.io_count) for pool in _names(options.io_pools)]
    return noop + io


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in NOOP_SLOTS]
    if unknown:
        raise SystemExit(f"bench_brokers: error: unknown pool {unknown[0]} (one of {', '.join(NOOP_SLOTS)})")
    return names


def run_cell(sides: dict[str, Any], backend: Any, cell: tuple[str, str, int, int, int], repeats: int) -> dict:
    """One worker per broker for this cell; a warm-up batch each, the idle baseline, then alternating repeats."""
    from benchmarks.broker_sides import idle_cpu_ms_per_s, measure_batch, running_workers
    from worker.task_args import WorkloadArgs

    workload, pool, slots, size, count = cell
    args = WorkloadArgs(workload, size)
    commands = {
        name: worker_command(pool, slots, unique(f"gate-{name}"), unique(f"brk-{name}-{pool}"), mode="stock")
        for name in BROKERS
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in BROKERS}
    with running_workers(sides, commands) as workers:
        for name in BROKERS:  # warm-up: imports, connections, the pool's first threads or forks
            measure_batch(sides[name], backend, *workers[name], args, min(count, max(100, 4 * slots)))
        idle = idle_cpu_ms_per_s([sides[name] for name in BROKERS])

        def batch(name: str) -> float:
            figures = measure_batch(sides[name], backend, *workers[name], args, count)
            runs[name].append(figures)
            print(f"  {workload} {pool} -c{slots} {name:8}: {_side_text(figures)}", flush=True)
            return figures["tasks_per_s"]

        alternating(repeats, {name: functools.partial(batch, name) for name in BROKERS})
    medians: dict[str, dict[str, Any]] = {
        name: {key: statistics.median(run.get(key, 0.0) for run in runs[name]) for key in runs[name][0]}
        for name in BROKERS
    }
    for name in BROKERS:
        medians[name]["idle_broker_cpu_ms_per_s"] = idle[name]
        medians[name]["runs_tasks_per_s"] = [round(run["tasks_per_s"], 1) for run in runs[name]]
        medians[name]["stalls_total"] = sum(run["stalls"] for run in runs[name])
    redis, amqp = medians["redis"], medians["rabbitmq"]
    return {
        "workload": workload,
        "pool": pool,
        "slots": slots,
        "size": size,
        "count": count,
        "repeats": repeats,
        **medians,
        "rabbitmq_over_redis": amqp["tasks_per_s"] / redis["tasks_per_s"],
        "broker_cpu_rabbitmq_over_redis": _ratio(amqp["broker_cpu_ms_per_task"], redis["broker_cpu_ms_per_task"]),
        "worker_cpu_rabbitmq_over_redis": _ratio(amqp["worker_cpu_ms_per_task"], redis["worker_cpu_ms_per_task"]),
        "runs": runs,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _side_text(f: dict[str, Any]) -> str:
    """One side's figures; stalls: a batch's, or a cell's over all its runs (``stalls_total``)."""
    count = f.get("stalls_total", f["stalls"])
    stalls = f" ({f['tasks_per_s_between_stalls']:,.0f}/s between stalls, {count:g} stalls)" if count else ""
    return (
        f"{f['tasks_per_s']:,.0f}/s{stalls}, broker {f['broker_cpu_ms_per_task']:.3f} ms CPU/task, "
        f"worker {f['worker_cpu_ms_per_task']:.2f} ms, round trips {f['reads_per_task']:.2f} in "
        f"/ {f['writes_per_task']:.2f} out per task"
    )


def _line(cell: dict[str, Any]) -> str:
    """``redis 900/s, broker … | rabbitmq 1,900/s, broker … | ×2.11``."""
    redis, amqp = _side_text(cell["redis"]), _side_text(cell["rabbitmq"])
    return f"redis {redis} | rabbitmq {amqp} | ×{cell['rabbitmq_over_redis']:.2f}"


def main(argv: list[str] | None = None) -> None:
    """Start both brokers and the result backend, run every cell, report ``benchmarks/results/brokers.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="solo,prefork,threads", help="pools of the no-op cells")
    parser.add_argument("--io-pools", default="threads", help="pools of the io_sleep cells")
    parser.add_argument("--count", type=int, default=1000, help="no-op tasks per batch")
    parser.add_argument("--solo-count", type=int, default=200, help="no-op tasks per batch on solo (it stalls)")
    parser.add_argument("--io-count", type=int, default=400, help="io_sleep tasks per batch")
    parser.add_argument("--ms", type=int, default=20, help="io_sleep milliseconds")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args(argv)
    if min(options.count, options.solo_count, options.io_count, options.repeats) < 1 or options.ms < 0:
        raise SystemExit("bench_brokers: error: the counts and --repeats must be ≥ 1, --ms ≥ 0")
    cells = cells_of(options)
    if not cells:
        raise SystemExit("bench_brokers: error: no cells (--pools and --io-pools are both empty)")
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-brokers-"))
    try:
        with lab_environment(LAB_CELERY_MODE="stock") as broker_redis:
            results, versions = _run(cells, options.repeats, broker_redis.child.pid, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _report(results, versions, options, load_before)


def _run(cells: list[Any], repeats: int, redis_pid: int, tmp: Path) -> tuple[list[dict], dict[str, str]]:
    """The result backend's Redis and the RabbitMQ node around every cell (both stopped by PID)."""
    from benchmarks.broker_sides import make_side, private_rabbitmq, versions
    from producer.processes import children as processes
    from producer.processes.redis_server import free_port, start_redis_server

    results_server = start_redis_server(free_port(), tmp / "results")
    os.environ["LAB_RESULT_BACKEND"] = results_server.url.rsplit("/", 1)[0] + "/1"
    try:
        from config.settings import get_settings
        from producer.batch.run import result_backend

        backend = result_backend(get_settings())
        with private_rabbitmq(tmp / "rabbitmq") as (node, node_child):
            sides = {
                "redis": make_side("redis", os.environ["LAB_BROKER_URL"], redis_pid),
                "rabbitmq": make_side("rabbitmq", node.url, node_child.pid, node),
            }
            found = versions(list(sides.values()))
            print(f"-- {', '.join(f'{k} {v}' for k, v in found.items())}", flush=True)
            results = []
            for cell in cells:
                print(f"-- {cell[0]} on {cell[1]} -c{cell[2]}, {cell[4]} tasks per batch", flush=True)
                results.append(run_cell(sides, backend, cell, repeats))
            for side in sides.values():
                side.broker.close()
    finally:
        processes.stop(results_server.child)
    return results, found


def _report(results: list[dict], found: dict[str, str], options: argparse.Namespace, load_before: float) -> None:
    from benchmarks.broker_sides import STALL_S

    def key(c: dict[str, Any]) -> str:
        return f"{c['workload']}{' ' + str(c['size']) + ' ms' if c['size'] else ''} {c['pool']} -c{c['slots']}"

    ratios: dict[str, tuple[float, str]] = {}
    for c in results:
        ratios[f"{key(c)}: rabbitmq ÷ redis tasks/s"] = (c["rabbitmq_over_redis"], "reported")
        if c["broker_cpu_rabbitmq_over_redis"] is not None:
            ratios[f"{key(c)}: rabbitmq ÷ redis broker CPU/task"] = (c["broker_cpu_rabbitmq_over_redis"], "reported")
        if c["worker_cpu_rabbitmq_over_redis"] is not None:
            ratios[f"{key(c)}: rabbitmq ÷ redis worker CPU/task"] = (c["worker_cpu_rabbitmq_over_redis"], "reported")
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    report(
        "brokers",
        f"redis vs rabbitmq, stock Celery, per pool: no-op and io_sleep {options.ms} ms, median of {options.repeats}",
        {
            **{key(c): _line(c) for c in results},
            "idle broker CPU ms/s, redis / rabbitmq": ", ".join(
                f"{key(c)} " + " / ".join(f"{c[name]['idle_broker_cpu_ms_per_s']:.0f}" for name in BROKERS)
                for c in results
            ),
            **{
                f"{key(c)} redis commands per task": ", ".join(
                    f"{k.removeprefix('cmd_')} {v:.2f}" for k, v in c["redis"].items() if k.startswith("cmd_")
                )
                for c in results
            },
            "versions": ", ".join(f"{k} {v}" for k, v in found.items()),
        },
        ratios,
        [
            "stock Celery on both brokers, the lab's config (acks_late, prefetch 4 × slots, JSON, -E); results in a "
            "separate private Redis, so each broker server's CPU is broker work only; every task counted",
            "pre-enqueued batch released with add_consumer; tasks/s = tasks ÷ (last finish − first start); broker and "
            "worker CPU = their process trees' CPU seconds around the consuming ÷ tasks",
            "round trips: Redis read / write events of the whole server (INFO stats); RabbitMQ packets received from / "
            "sent to the worker's own connections (rabbitmqctl list_connections recv_cnt, send_cnt)",
            f"CPU times tick every {tick_ms:.0f} ms per process: ±{tick_ms / options.count:.3f} ms per no-op task "
            f"(±{tick_ms / options.solo_count:.3f} on solo), ±{tick_ms / options.io_count:.3f} ms per io task; idle "
            "broker CPU ms/s: the servers' CPU with workers waiting, measured once per cell",
            f"a stall = ≥ {STALL_S} s between consecutive task starts with tasks ready; stock Celery's solo worker "
            "stalls on AMQP (its event loop sleeps until the next timer, ≤ 2 s, while a read is pending; "
            "docs/brokers.md); tasks/s between stalls = tasks ÷ (span − stalled time)",
            f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} shared cores",
        ],
        extra={"cells": results, "versions": found},
    )


if __name__ == "__main__":
    main()
