"""What the producer asks of a broker, whichever it is: the :class:`Broker` protocol and its answers.

Two implementations: :class:`~producer.broker.redis_broker.RedisBroker` (kombu's Redis transport: lists,
an ``unacked`` hash; ids can be read) and :class:`~producer.broker.amqp_broker.AmqpBroker` (RabbitMQ:
counts only, from a passive ``queue.declare`` and, for unacknowledged messages, ``rabbitmqctl`` or the
management API). :func:`producer.broker.open_broker` picks one from ``LAB_BROKER_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

#: The brokers the lab speaks.
BrokerKind = Literal["redis", "rabbitmq"]


@dataclass
class Whereabouts:
    """Unfinished task ids by where the broker has them; ``lost`` = in no queue and held by no worker."""

    queued: list[str] = field(default_factory=list)
    unacked: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    #: When the earliest unacknowledged one goes back to its queue (epoch seconds), if any (Redis only:
    #: RabbitMQ requeues a consumer's unacknowledged messages when its connection closes, not on a timer).
    unacked_back_at: float | None = None


@dataclass(frozen=True)
class QueueCounts:
    """One queue as the broker counts it; None where this broker cannot say."""

    ready: int
    unacked: int | None
    consumers: int | None


class Broker(Protocol):
    """The one place that knows the broker: queue depth, unacknowledged counts, purge, lost tasks, its CPU."""

    #: ``redis`` or ``rabbitmq``.
    kind: BrokerKind
    #: Whether the producer re-publishes tasks this broker provably lost (producer/batch/recovery.py).
    republishes_lost: bool

    def ping(self) -> None:
        """Return if the broker answers; raise a connection error (an outage) if not."""

    def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (one cheap round trip)."""
        ...

    def counts(self, queue: str) -> QueueCounts:
        """Messages ready in ``queue``, delivered but unacknowledged, and its consumers."""
        ...

    def idle(self, queue: str, task_ids: set[str] | None = None) -> bool:
        """True when ``queue`` is empty and nothing (of ``task_ids``, where the broker can tell) is unacknowledged."""
        ...

    def locate(self, queue: str, task_ids: list[str], visibility_timeout_s: float) -> Whereabouts:
        """Split unfinished ``task_ids`` (batch order) into queued, unacknowledged and lost."""
        ...

    def purge(self, queue: str) -> int:
        """Drop what waits in ``queue`` (that queue only); how many messages went. A missing queue is empty."""
        ...

    def drop_queue(self, queue: str) -> None:
        """Purge ``queue`` and, where queues outlive their messages (RabbitMQ), delete it: a per-run queue."""

    def server_cpu_seconds(self) -> float | None:
        """CPU seconds the broker server has used so far; None when it cannot be read from here."""
        ...

    def probe_rate(self, items: int, pipeline: int) -> float:
        """Messages a second the broker moves in and out, pipelined ``pipeline`` at a time (its ceiling)."""
        ...

    def close(self) -> None:
        """Release the connection."""
