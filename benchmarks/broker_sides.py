"""The two sides of ``benchmarks/bench_brokers.py``: a private RabbitMQ node, one Celery app per broker, and one
measured pre-enqueued batch (throughput, the broker server's CPU and socket round trips per task).

A side is a broker with its own producer app (``worker.apps.app_for``: the lab's configuration for that
broker's settings), its :class:`~producer.broker.base.Broker` (queue counts, lost-task detection), and the
PID of its server process (``redis-server``, or the private node's script, whose tree holds ``beam.smp``).
Round trips are counted at the server's sockets: Redis' ``INFO stats`` read and write events (the whole
server: only the worker and a control message use it during a batch) and RabbitMQ's per-connection
``recv_cnt`` / ``send_cnt`` (``rabbitmqctl list_connections``) of the worker's own connections.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil
import redis
from celery import Celery
from kombu import Connection

from benchmarks.common import LOG_DIR, child_env, unique
from config.settings import LabSettings
from producer.batch.collect import RESULT_KEY_PREFIX, collect_results
from producer.batch.submit import submit_batch
from producer.broker import Broker, BrokerKind, open_broker
from producer.processes import children as processes
from producer.processes import fleet
from producer.processes.children import Child
from producer.processes.rabbitmq_server import (
    RabbitNode,
    ensure_rabbitmq_installed,
    new_node,
    rabbitmqctl,
    start_node,
)
from producer.processes.redis_server import free_port
from worker.task_args import WorkloadArgs

#: Seconds a batch may take before its unfinished tasks are counted (and the benchmark fails).
BATCH_TIMEOUT_S = 120.0
#: A gap this long between two consecutive task starts is a stall (the worker waited with tasks ready).
STALL_S = 0.2


@contextlib.contextmanager
def private_rabbitmq(base: Path) -> Iterator[tuple[RabbitNode, Child]]:
    """A private node of Debian's ``rabbitmq-server`` (free ports, files in ``base``); stopped by PID on exit."""
    ensure_rabbitmq_installed()
    node = new_node(base, free_port(), free_port())
    child = start_node(node)
    try:
        yield node, child
    finally:
        processes.stop(child, grace_s=60)


@dataclass
class Side:
    """One broker as the benchmark uses it: its settings, producer app, broker, and server process."""

    name: BrokerKind
    settings: LabSettings
    app: Celery
    broker: Broker
    server_pid: int
    node: RabbitNode | None = None

    @functools.cached_property
    def redis_client(self) -> redis.Redis:
        """A client of the Redis broker's server (for ``INFO``), opened once."""
        return redis.Redis.from_url(self.settings.broker_url)

    def worker_env(self) -> dict[str, str]:
        """A stock-Celery worker's environment on this broker (results: the shared result backend)."""
        return child_env(LAB_CELERY_MODE="stock", LAB_BROKER_URL=self.settings.broker_url)

    def server_cpu_s(self) -> float:
        """User + system CPU seconds of the server process and its children (``beam.smp`` under the script)."""
        seconds = fleet.cpu_seconds([self.server_pid])
        if seconds is None:
            raise RuntimeError(f"{self.name} server (pid {self.server_pid}) is gone")
        return seconds

    def round_trips(self, worker: Child) -> tuple[int, int]:
        """(socket reads, socket writes) so far: Redis' whole server, RabbitMQ the worker's connections only."""
        if self.node is None:
            stats = self.redis_client.info("stats")
            return int(stats["total_reads_processed"]), int(stats["total_writes_processed"])
        ports = worker_ports(worker, self.node.amqp_port)
        rows = json.loads(
            rabbitmqctl(self.node, "list_connections", "peer_port", "recv_cnt", "send_cnt", "--formatter", "json")
        )
        mine = [row for row in rows if row["peer_port"] in ports]
        return sum(int(row["recv_cnt"]) for row in mine), sum(int(row["send_cnt"]) for row in mine)

    def commands(self) -> dict[str, int]:
        """Redis: calls so far per command (``INFO commandstats``); RabbitMQ: none (AMQP methods are not counted)."""
        if self.node is not None:
            return {}
        stats = self.redis_client.info("commandstats")
        return {key.removeprefix("cmdstat_"): int(value["calls"]) for key, value in stats.items()}

    def version(self) -> str:
        """The server's product and version (RabbitMQ: from the AMQP handshake's server properties)."""
        if self.node is None:
            info = self.redis_client.info("server")
            return f"redis-server {info['redis_version']}"
        with Connection(self.settings.broker_url) as connection:
            connection.connect()
            properties = connection.connection.server_properties
        return f"{properties.get('product', 'RabbitMQ')} {properties.get('version')} ({properties.get('platform')})"


def make_side(name: BrokerKind, broker_url: str, server_pid: int, node: RabbitNode | None = None) -> Side:
    """The side of ``broker_url``: the lab's configuration (stock mode) for that broker, its app and broker."""
    from worker.apps import app_for

    settings = LabSettings(
        broker_url=broker_url, celery_mode="stock", rabbitmq_node_dir=str(node.dir) if node is not None else ""
    )
    return Side(name, settings, app_for(settings), open_broker(settings), server_pid, node)


@contextlib.contextmanager
def running_workers(sides: dict[str, Side], commands: dict[str, list[str]]) -> Iterator[dict[str, tuple[Child, str]]]:
    """Start one worker per side at once (``commands``: ``-n name@%h``), each answering ``ping`` through its own
    broker; stopped together by PID on exit. Yields (child, node name) per side."""
    launches = {}
    for name, command in commands.items():
        node = command[command.index("-n") + 1]
        base = node.split("@", 1)[0]
        log, host = LOG_DIR / f"{base}.log", node.replace("%h", socket.gethostname())
        launches[name] = fleet.WorkerLaunch(f"bench-{base}", command, sides[name].worker_env(), log, host)
    started: dict[str, Child] = {}
    try:
        for name, launch in launches.items():
            started[name] = launch.start()
        for name, launch in launches.items():
            fleet.wait_ready(sides[name].app, [launch.node], [started[name]], 60.0)
        yield {name: (started[name], launch.node) for name, launch in launches.items()}
    finally:
        fleet.stop_all(list(started.values()))


def worker_ports(worker: Child, server_port: int) -> set[int]:
    """Local ports of the worker's (and its children's) TCP connections to ``server_port``."""
    process = psutil.Process(worker.pid)
    return {
        conn.laddr.port
        for member in [process, *process.children(recursive=True)]
        for conn in member.net_connections("tcp")
        if conn.raddr and conn.raddr.port == server_port
    }


def measure_batch(
    side: Side, backend: redis.Redis, worker: Child, node: str, args: WorkloadArgs, count: int
) -> dict[str, float]:
    """Pre-enqueue ``count`` tasks on a fresh queue, then let the worker at them (``add_consumer``) and measure.

    Throughput = tasks ÷ (last finish − first start); the broker's CPU and round trips and the worker's CPU
    are read around the consuming (publishing is measured apart); stalls = gaps of at least :data:`STALL_S`
    between consecutive task starts. A failed, lost or missing task raises.
    """
    queue = unique(f"brk-{side.name}")
    cpu_before_publish = side.server_cpu_s()
    batch = submit_batch(side.app, args, count, queue)
    publish_cpu = side.server_cpu_s() - cpu_before_publish
    reads, writes = side.round_trips(worker)
    commands = side.commands()
    server_cpu, worker_cpu = side.server_cpu_s(), fleet.cpu_seconds([worker.pid]) or 0.0
    try:
        replies = side.app.control.add_consumer(queue, destination=[node], reply=True, timeout=5) or []
        if not replies:
            raise RuntimeError(f"{node} did not acknowledge add_consumer({queue})")
        collected = collect_results(backend, batch.task_ids, timeout_s=BATCH_TIMEOUT_S, broker=side.broker, queue=queue)
        server_cpu = side.server_cpu_s() - server_cpu
        worker_cpu = (fleet.cpu_seconds([worker.pid]) or 0.0) - worker_cpu
        reads_after, writes_after = side.round_trips(worker)
        commands = {name: calls - commands.get(name, 0) for name, calls in side.commands().items()}
    finally:
        side.app.control.cancel_consumer(queue, destination=[node], reply=True, timeout=5)
        side.broker.drop_queue(queue)
    if len(collected.records) != count or collected.failures or collected.unfinished:
        raise RuntimeError(
            f"{side.name} {args.workload}: {len(collected.records)} of {count} done, failures "
            f"{len(collected.failures)}, lost {len(collected.lost)}, unfinished {len(collected.unfinished)}: "
            f"{list(collected.failures.values())[:1]}"
        )
    backend.delete(*[RESULT_KEY_PREFIX + task_id for task_id in batch.task_ids])
    starts = sorted(record["started"] for record in collected.records)
    span = max(record["finished"] for record in collected.records) - starts[0]
    stalls = [later - earlier for earlier, later in itertools.pairwise(starts) if later - earlier >= STALL_S]
    return {
        "tasks_per_s": count / span,
        "stalls": len(stalls),
        "stalled_s": sum(stalls),
        "tasks_per_s_between_stalls": count / max(span - sum(stalls), 1e-9),
        "broker_cpu_ms_per_task": server_cpu * 1000 / count,
        "worker_cpu_ms_per_task": worker_cpu * 1000 / count,
        "reads_per_task": (reads_after - reads) / count,
        "writes_per_task": (writes_after - writes) / count,
        "publish_tasks_per_s": count / max(batch.send_finished - batch.send_started, 1e-9),
        "broker_publish_cpu_ms_per_task": publish_cpu * 1000 / count,
        # Redis commands per task (those called at least once per 20 tasks), e.g. ``cmd_brpop``.
        **{f"cmd_{name}": calls / count for name, calls in commands.items() if calls >= count / 20},
    }


def idle_cpu_ms_per_s(sides: list[Side], seconds: float = 1.0) -> dict[str, float]:
    """Each server's CPU milliseconds per second while its workers wait (a baseline for the per-task figures)."""
    before = {side.name: side.server_cpu_s() for side in sides}
    time.sleep(seconds)
    return {side.name: (side.server_cpu_s() - before[side.name]) * 1000 / seconds for side in sides}


def versions(sides: list[Side]) -> dict[str, str]:
    """Celery, kombu, py-amqp and redis-py (this venv's), and each broker server's."""
    packages = {"celery": "celery", "kombu": "kombu", "py_amqp": "amqp", "redis_py": "redis"}
    found = {label: metadata.version(name) for label, name in packages.items()}
    return {**found, **{f"{side.name}_server": side.version() for side in sides}}
