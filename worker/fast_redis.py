"""Lighter per-task paths on Redis for the lab's workers and producer: the same Redis commands, less Python.

Found with py-spy on a prefork consumer running no-op tasks (see ``benchmarks/``):

1. kombu's Redis channel builds a new ``redis.Redis`` object for every command batch it sends outside
   the poll loop (``conn_or_acquire`` → ``_create_client``): each ack, each unacked-index write, each
   event publish. With redis-py 8 that copies ~170 response callbacks: ~14 % of the consumer's CPU.
   :class:`Channel` builds it once per channel and reuses it. A ``redis.Redis`` over a connection pool
   is safe to share (every command checks a connection out of the pool), and the commands are identical.
2. Celery flushes buffered task events on the next event-loop turn: about one ``PUBLISH`` per task.
   :class:`Consumer` flushes at most every :data:`EVENT_FLUSH_S` (and, as Celery does, whenever 24 events
   are buffered) and before it stops: the same ``task.multi`` event messages, fewer of them; Flower sees
   each event at most :data:`EVENT_FLUSH_S` later.

Neither touches acknowledgement semantics: acks_late, reject_on_worker_lost and the visibility timeout
work exactly as in stock Celery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.transport import redis as kombu_redis

#: Longest delay of a buffered task event (seconds).
EVENT_FLUSH_S = 0.02


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, reusing one client object for the commands it sends outside the poll loop."""

    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """The given client, else this channel's one shared ``redis.Redis`` (stock kombu builds one per call)."""
        if client:
            yield client
            return
        if self._shared_client is None:
            self._shared_client = self._create_client()
        yield self._shared_client


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`; selected by ``broker_transport`` in the lab's config."""

    Channel = Channel


class Consumer(CeleryConsumer):
    """Celery's consumer, flushing buffered task events on a short timer instead of every loop turn."""

    _flush_timer: Any = None

    def on_send_event_buffered(self) -> None:
        """Schedule one flush within :data:`EVENT_FLUSH_S` unless one is already scheduled."""
        if self.hub is not None and self._flush_timer is None:
            self._flush_timer = self.hub.call_later(EVENT_FLUSH_S, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_timer = None
        self._flush_events()

    def stop(self) -> None:
        """Flush buffered events, then stop as Celery does."""
        self._flush_events()
        super().stop()

    def shutdown(self) -> None:
        """Flush buffered events, then shut down as Celery does."""
        self._flush_events()
        super().shutdown()
