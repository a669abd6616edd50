"""RabbitMQ test helpers: a private node (never the machine's on 5672), settings and an app pointed at it.

A node is Debian's ``rabbitmq-server`` started by producer/processes/rabbitmq_server.py on free ports,
with its own name, files, cookie and generated user; tests stop (and restart) it by PID. Results and
the execution log stay in Redis: each module gets its own database of the session's redis-server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kombu.pools
import psutil
import pytest
import redis

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes import children as processes
from producer.processes.children import Child
from producer.processes.rabbitmq_server import RabbitNode, ensure_rabbitmq_installed, new_node, start_node
from producer.processes.redis_server import free_port


@dataclass
class PrivateRabbit:
    """A private RabbitMQ node a test may stop (SIGTERM: clean; SIGKILL of beam.smp: crash) and start again."""

    node: RabbitNode
    child: Child | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """Its AMQP URL, with the generated user and password."""
        return self.node.url

    def start(self) -> None:
        """Start (or restart) the node: same name, ports, data (durable queues and persistent messages).

        After a restart, kombu's process-wide pools (keyed by URL, shared by every app here) still hold
        connections to the node as it was: those pools are dropped (only this node's), as a new producer
        process would have none.
        """
        if self.starts:
            _drop_pools_of(self.node.amqp_port)
        self.child = start_node(self.node)
        self.starts += 1

    def beam_pid(self) -> int:
        """The Erlang VM's PID (the child is the script's ``sh``, which stops the VM on SIGTERM)."""
        assert self.child is not None
        beams = [p for p in psutil.Process(self.child.pid).children() if p.name() == "beam.smp"]
        return beams[0].pid if beams else self.child.pid

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean stop through the script. SIGKILL: kill -9 of ``beam.smp`` itself (a crash)."""
        if self.child is None:
            return
        if sig == signal.SIGKILL and processes.is_running(self.child):
            with contextlib.suppress(psutil.Error, AssertionError, IndexError):
                os.kill(self.beam_pid(), signal.SIGKILL)
        processes.stop(self.child, grace_s=60)
        self.child = None


def skip_without_rabbitmq() -> None:
    """Skip the test, with the one-line reason, when rabbitmq-server is missing and cannot be installed."""
    try:
        ensure_rabbitmq_installed()
    except LabError as error:
        pytest.skip(str(error))


def _drop_pools_of(port: int) -> None:
    """Close and forget kombu's global connection and producer pools for the local broker on ``port``."""
    for group in (kombu.pools.producers, kombu.pools.connections):
        for key, pool in list(group.items()):
            template = getattr(pool, "connection", None) or getattr(
                getattr(pool, "connections", None), "connection", None
            )
            if template is not None and template.port == port:
                with contextlib.suppress(Exception):
                    pool.force_close_all()
                group.pop(key, None)


@contextlib.contextmanager
def private_rabbit(base: Path) -> Iterator[PrivateRabbit]:
    """A started :class:`PrivateRabbit` in ``base``, stopped by PID on exit; the test is skipped without RabbitMQ."""
    skip_without_rabbitmq()
    server = PrivateRabbit(new_node(base, free_port(), free_port()))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def results_url(db: int) -> str:
    """Database ``db`` of the session's redis-server (the tests' result backend stays Redis)."""
    base = os.environ["LAB_RESULT_BACKEND"].rsplit("/", 1)[0]
    return f"{base}/{db}"


def rabbit_settings(server: PrivateRabbit, db: int, **overrides: Any) -> LabSettings:
    """Settings for ``server`` as broker, results in Redis database ``db``, the execution log on."""
    values: dict[str, Any] = {
        "broker_url": server.url,
        "result_backend": results_url(db),
        "rabbitmq_node_dir": server.node.base,
        "execution_log": True,
        **overrides,
    }
    return LabSettings(**values)


def empty(settings: LabSettings, queues: tuple[str, ...] = ("prefork", "threads")) -> None:
    """Flush the module's result database and purge its queues on the node."""
    from producer.broker import open_broker

    redis.Redis.from_url(settings.result_backend).flushdb()
    broker = open_broker(settings)
    try:
        for queue in queues:
            broker.purge(queue)
    finally:
        broker.close()


def wait_for_counts(settings: LabSettings, queue: str, predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll the queue's counts until ``predicate(counts)``; fail with ``what`` after a generous deadline."""
    from producer.broker import open_broker

    broker = open_broker(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            counts = broker.counts(queue)
            if predicate(counts):
                return counts
            time.sleep(0.02)
    finally:
        broker.close()
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
