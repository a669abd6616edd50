"""Publish a batch to RabbitMQ a chunk at a time, each chunk confirmed by the broker (publisher confirms).

Each message is Celery's own: ``amqp.as_task_v2`` builds it and ``amqp.send_task_message`` publishes it
(routing, persistent delivery mode, JSON, the publish signals), exactly what ``app.send_task`` would.
What differs is the waiting: the lab's Celery configuration sets ``confirm_publish`` (every
``send_task`` waits for its confirm, one round trip per task), while this publisher opens its channel
in confirm mode itself, publishes a chunk without waiting, and then waits once for the chunk's
confirms (producer/broker/amqp_confirms.py). ``task-sent`` events go out as the Redis path sends them:
buffered, one ``task.multi`` message per chunk, on their own channel (so the confirm channel carries
exactly one publish per task).

A connection lost or a confirm missing (or a ``basic.nack``) mid-chunk means the chunk is sent again
on a new connection, through the :class:`~producer.batch.outage.OutageGuard`: at-least-once, as on Redis
(results are keyed by task id; a task sent twice runs twice and is counted as a duplicate).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.app.amqp import task_message
from celery.utils.nodenames import anon_nodename
from kombu.common import maybe_declare
from kombu.exceptions import OperationalError

from producer.broker.amqp_confirms import Confirms

#: How long to wait for one chunk's confirms before publishing it again on a new connection.
CONFIRM_TIMEOUT_S = 30.0


class ConfirmedPublisher:
    """One connection, one confirm-mode channel for tasks, one for their events; reopened after a failure."""

    def __init__(self, app: Celery, task_name: str, queue: str, limits: dict[str, Any], chunk: int) -> None:
        self.app, self.task_name, self.queue_name = app, task_name, queue
        self.limits, self.chunk = limits, chunk
        self.send_events = bool(app.conf.task_send_sent_event)
        self._open: tuple[Any, Any, Confirms, Any] | None = None

    def _connect(self) -> tuple[Any, Any, Confirms, Any]:
        if self._open is None:
            options = {**self.app.conf.broker_transport_options, "confirm_publish": False}
            connection = self.app.connection_for_write(transport_options=options)
            try:
                channel = connection.channel()
                maybe_declare(self.app.amqp.queues[self.queue_name], channel)
                producer = self.app.amqp.Producer(channel, auto_declare=False)
                confirms = Confirms(channel)
                dispatcher = (
                    self.app.events.Dispatcher(
                        connection.clone(), enabled=True, buffer_group=["task"], buffer_limit=self.chunk + 1
                    )
                    if self.send_events
                    else None
                )
            except Exception:
                with contextlib.suppress(Exception):
                    connection.collect()
                raise
            self._open = (connection, producer, confirms, dispatcher)
        return self._open

    def close(self) -> None:
        """Close the connection (and the event dispatcher's)."""
        if self._open is None:
            return
        connection, _, _, dispatcher = self._open
        self._open = None
        with contextlib.suppress(Exception):
            if dispatcher is not None:
                dispatcher.close()
                dispatcher.connection.collect()
        with contextlib.suppress(Exception):
            connection.release()

    def _message(self, task_id: str, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """(Celery's protocol-v2 message without its sent event, that event) for one task."""
        headers, properties, body, sent_event = self.app.amqp.as_task_v2(
            task_id,
            self.task_name,
            (),
            kwargs,
            reply_to=self.app.thread_oid,
            time_limit=self.limits.get("time_limit"),
            soft_time_limit=self.limits.get("soft_time_limit"),
            create_sent_event=self.send_events,
            origin=anon_nodename(),
            ignore_result=None,
        )
        return task_message(headers, properties, body, None), sent_event

    def send_chunk(self, task_ids: list[str], kwargs: dict[str, Any]) -> None:
        """Publish one task per id (``kwargs`` plus a fresh ``enqueued`` stamp) and wait for every confirm."""
        try:
            connection, producer, confirms, dispatcher = self._connect()
            for task_id in task_ids:
                message, sent_event = self._message(task_id, {**kwargs, "enqueued": time.time()})
                self.app.amqp.send_task_message(producer, self.task_name, message, queue=self.queue_name, retry=False)
                confirms.sent()
                if dispatcher is not None and sent_event is not None:
                    fields = {**sent_event, "queue": self.queue_name, "exchange": "", "routing_key": self.queue_name}
                    dispatcher.send("task-sent", **fields)
            confirms.wait(connection, CONFIRM_TIMEOUT_S)
            if dispatcher is not None:
                dispatcher.flush()
        except OperationalError:
            self.close()
            raise
        except (*self.app.connection_for_write().connection_errors, OSError) as error:
            self.close()
            raise OperationalError(str(error) or type(error).__name__) from error


def send_confirmed(
    app: Celery,
    task_name: str,
    queue: str,
    limits: dict[str, Any],
    chunks: list[list[str]],
    kwargs: dict[str, Any],
    guard_call: Callable[[Callable[[], None]], None],
    on_chunk: Callable[[list[str]], None],
) -> None:
    """Every chunk of task ids through one :class:`ConfirmedPublisher`, each retried by ``guard_call``."""
    publisher = ConfirmedPublisher(app, task_name, queue, limits, max(len(ids) for ids in chunks) if chunks else 1)
    try:
        for ids in chunks:
            guard_call(lambda ids=ids: publisher.send_chunk(ids, kwargs))  # type: ignore[misc]
            on_chunk(ids)
    finally:
        publisher.close()
