"""RabbitMQ as the lab's broker (AMQP 0-9-1 through kombu and py-amqp): counts, not ids.

What AMQP lets a client see of a queue without taking messages: a passive ``queue.declare`` answers
its *ready* messages and its consumers. Unacknowledged messages are counted by rabbitmqctl or the
management API (producer/broker/amqp_unacked.py). Task ids inside the queue cannot be read without
consuming, so unfinished tasks are split into queued / unacknowledged / lost by those counts.

Unlike Redis, RabbitMQ puts a consumer's unacknowledged messages back in the queue as soon as that
consumer's channel or connection closes (a killed worker, a lost connection): there is no visibility
timeout, and no message a worker "popped but never received". So the producer does not re-publish
on RabbitMQ (``republishes_lost = False``): what it cannot find is counted lost, never sent twice.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import amqp
import psutil
from amqp.exceptions import NotFound
from kombu import Connection
from kombu.exceptions import OperationalError

from producer.broker.amqp_confirms import Confirms
from producer.broker.amqp_unacked import LOCAL_HOSTS, UnackedSource
from producer.broker.base import BrokerKind, QueueCounts, Whereabouts

T = TypeVar("T")
#: Seconds to wait for confirms or deliveries while probing.
PROBE_WAIT_S = 30.0


class AmqpBroker:
    """The :class:`~producer.broker.base.Broker` of a RabbitMQ broker, over one short-lived-channel connection."""

    kind: BrokerKind = "rabbitmq"
    republishes_lost = False

    def __init__(self, url: str, connect_timeout_s: float, unacked: UnackedSource | None = None) -> None:
        self.url, self.connect_timeout_s, self.unacked_source = url, connect_timeout_s, unacked
        self._connection: Connection | None = None
        self._server: psutil.Process | None = None
        self._errors: tuple[type[BaseException], ...] = (*Connection(url).connection_errors, OSError)

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = Connection(self.url, connect_timeout=self.connect_timeout_s, heartbeat=0)
            connection.connect()  # kombu raises OperationalError when it cannot
            self._connection = connection
        return self._connection

    def _reset(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.collect()
        self._connection = None

    def _on_channel(self, action: Callable[[Any], T]) -> T:
        """``action(channel)`` on a fresh channel; a connection failure is an outage (``OperationalError``)."""
        try:
            connection = self._connect()
            channel = connection.channel()
        except OperationalError:
            self._reset()
            raise
        except self._errors as error:
            self._reset()
            raise OperationalError(str(error) or type(error).__name__) from error
        try:
            return action(channel)
        except self._errors as error:
            self._reset()
            raise OperationalError(str(error) or type(error).__name__) from error
        finally:
            with contextlib.suppress(Exception):
                channel.close()

    def ping(self) -> None:
        """Open and close a channel."""
        self._on_channel(lambda channel: None)

    def _ready_and_consumers(self, queue: str) -> tuple[int, int]:
        def declare(channel: Any) -> tuple[int, int]:
            try:
                _, ready, consumers = channel.queue_declare(queue, passive=True)
            except NotFound:
                return 0, 0  # never declared (or deleted): nothing in it, nobody on it
            return int(ready), int(consumers)

        return self._on_channel(declare)

    def _unacked(self, queue: str, consumers: int) -> int | None:
        if not consumers:
            return 0  # unacknowledged deliveries belong to a consumer's channel
        return self.unacked_source.unacked(queue) if self.unacked_source is not None else None

    def depth(self, queue: str) -> int:
        """Ready messages (passive ``queue.declare``)."""
        return self._ready_and_consumers(queue)[0]

    def counts(self, queue: str) -> QueueCounts:
        """Ready and consumers from AMQP; unacknowledged from the unacked source (None without one)."""
        ready, consumers = self._ready_and_consumers(queue)
        return QueueCounts(ready, self._unacked(queue, consumers), consumers)

    def idle(self, queue: str, task_ids: set[str] | None = None) -> bool:
        """Nothing ready and nothing unacknowledged; without an unacked count, nothing ready and no consumer."""
        ready, consumers = self._ready_and_consumers(queue)
        if ready:
            return False
        unacked = self._unacked(queue, consumers)
        return unacked == 0 if unacked is not None else not consumers

    def locate(self, queue: str, task_ids: list[str], visibility_timeout_s: float) -> Whereabouts:
        """By counts: the newest unfinished are the ready ones, the oldest the unacknowledged, the rest lost.

        Without an unacknowledged count, every unfinished task not ready is taken as held while the
        queue has a consumer (RabbitMQ gives them back when it goes), and as lost when it has none.
        """
        ready, consumers = self._ready_and_consumers(queue)
        unacked = self._unacked(queue, consumers)
        total = len(task_ids)
        queued = min(ready, total)
        held = min(total - queued, unacked if unacked is not None else total)
        return Whereabouts(
            queued=task_ids[total - queued :],
            unacked=task_ids[:held],
            lost=task_ids[held : total - queued],
        )

    def purge(self, queue: str) -> int:
        """``queue.purge``; a queue that does not exist holds nothing."""

        def purge(channel: Any) -> int:
            try:
                return int(channel.queue_purge(queue) or 0)
            except NotFound:
                return 0

        return self._on_channel(purge)

    def drop_queue(self, queue: str) -> None:
        """``queue.delete``: RabbitMQ keeps an empty durable queue for ever, a per-run queue must go."""

        def delete(channel: Any) -> None:
            with contextlib.suppress(NotFound):
                channel.queue_delete(queue)

        self._on_channel(delete)

    def _server_process(self) -> psutil.Process | None:
        """The local process listening on the broker's port (found once), or None (remote, or not visible)."""
        if self._server is not None and self._server.is_running():
            return self._server
        parts = Connection(self.url)
        if parts.hostname not in LOCAL_HOSTS:
            return None
        port = parts.port or 5672
        with contextlib.suppress(psutil.Error):
            for conn in psutil.net_connections("tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                    self._server = psutil.Process(conn.pid)
                    return self._server
        return None

    def server_cpu_seconds(self) -> float | None:
        """User + system seconds of the local ``beam.smp`` serving the URL (RabbitMQ runs on every core)."""
        server = self._server_process()
        if server is None:
            return None
        try:
            return sum(sum(p.cpu_times()[:2]) for p in [server, *server.children(recursive=True)])
        except psutil.Error:
            return None

    def probe_rate(self, items: int, pipeline: int) -> float:
        """Publish ``items`` small messages (confirmed ``pipeline`` at a time), then consume and ack them."""
        return self._on_channel(lambda channel: _probe(self._connect(), channel, items, pipeline))

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.release()
        self._connection = None


def _probe(connection: Connection, channel: Any, items: int, pipeline: int) -> float:
    queue = f"lab-probe-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(queue, exclusive=True, auto_delete=True)
    confirms = Confirms(channel)
    payload = b"x" * 200
    started = time.perf_counter()
    for start in range(0, items, pipeline):
        for _ in range(min(pipeline, items - start)):
            channel.basic_publish(amqp.Message(payload), exchange="", routing_key=queue)
            confirms.sent()
        confirms.wait(connection, PROBE_WAIT_S)
    received = [0]

    def on_message(message: Any) -> None:
        received[0] += 1
        if received[0] % max(1, pipeline // 2) == 0 or received[0] == items:
            channel.basic_ack(message.delivery_tag, multiple=True)

    channel.basic_qos(0, pipeline, False)
    channel.basic_consume(queue, callback=on_message)
    deadline = time.monotonic() + PROBE_WAIT_S
    while received[0] < items and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=1.0)
    return received[0] / (time.perf_counter() - started)
