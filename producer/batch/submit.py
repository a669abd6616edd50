"""Submit a batch of workload tasks to one queue, stamping each with its enqueue time.

The default path is *pipelined*: each message is built from a template made by Celery's own
``amqp.as_task_v2`` and kombu's own Redis channel (``prepare_message``, base64 body encoding, delivery
tag, priority key), the message ``app.send_task`` would publish, and ``chunk`` messages go to Redis in
one multi-value ``LPUSH`` (one round trip, atomic per chunk). ``send_task`` instead costs one ``LPUSH``
round trip per task, plus a ``SUBSCRIBE`` per task for ``AsyncResult.get`` (we collect with ``MGET``,
see ``collect.py``). When ``task_send_sent_event`` is on, ``task-sent`` events go through a Celery
``EventDispatcher`` buffered by group, i.e. one ``task.multi`` event message per chunk: the form
workers use themselves, which Flower's ``EventReceiver`` reads like single events.

On RabbitMQ the messages are Celery's own (``as_task_v2``, ``send_task_message``), published a chunk at a
time with one wait for the chunk's publisher confirms (producer/batch/amqp_publish.py).

Anything the Redis fast path does not reproduce (publish signals with receivers, compression, a non-direct
exchange, priorities or expiry set on the task) falls back to the one-by-one ``send_task`` loop.

Either way each round trip goes through an :class:`~producer.batch.outage.OutageGuard`: a broker outage
while publishing is retried up to ``LAB_OUTAGE_RETRY_S`` (a chunk whose ``LPUSH`` reached Redis but
whose reply did not is sent again: at-least-once, the workers' results are keyed by task id).
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery, signals
from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from kombu.common import maybe_declare
from kombu.entity import maybe_delivery_mode
from kombu.exceptions import OperationalError
from kombu.serialization import dumps as kombu_dumps
from kombu.utils.json import dumps as json_dumps

from config import catalogue
from producer.batch.amqp_publish import send_confirmed
from producer.batch.outage import OutageGuard, OutageTooLong
from producer.errors import LabError
from worker.task_args import WorkloadArgs

#: Messages per LPUSH round trip (and per ``task.multi`` event message). A task's ``enqueued`` stamp is
#: taken when its message is built, up to one chunk's build time (~4 ms at 100) before the LPUSH.
CHUNK = 100
#: Task execution options the fast path reproduces; any other one set on a task means the slow path.
_HANDLED_EXEC_OPTIONS = frozenset({"queue", "time_limit", "soft_time_limit", "serializer"})


@dataclass
class Batch:
    """What was sent: task ids in order, the queue, and when sending started and ended."""

    batch_id: str
    args: WorkloadArgs
    queue: str
    task_ids: list[str] = field(default_factory=list)
    send_started: float = 0.0
    send_finished: float = 0.0

    @property
    def submitted(self) -> int:
        """How many tasks reached the broker."""
        return len(self.task_ids)


def submit_batch(
    app: Celery,
    args: WorkloadArgs,
    count: int,
    queue: str,
    on_sent: Callable[[int], None] | None = None,
    *,
    pipelined: bool = True,
    chunk: int = CHUNK,
    outage: OutageGuard | None = None,
) -> Batch:
    """Send ``count`` tasks of ``args`` to ``queue``; pipelined ``chunk`` at a time unless ``pipelined=False``.

    Broker outages are retried through ``outage`` (default: a guard bounded by ``LAB_OUTAGE_RETRY_S``).
    """
    guard = outage or OutageGuard()
    batch = Batch(uuid.uuid4().hex[:12], args, queue)
    task_name = catalogue.workload(args.workload).task_name
    kwargs = args.as_kwargs()
    batch.send_started = time.time()
    try:
        if app.connection_for_write().transport.driver_type == "amqp":  # confirmed; 1 a round unless pipelined
            _send_confirmed(app, batch, task_name, kwargs, count, max(1, chunk) if pipelined else 1, on_sent, guard)
        elif pipelined and guard.call(lambda: fast_path_supported(app, task_name, queue)):
            _send_pipelined(app, batch, task_name, kwargs, count, max(1, chunk), on_sent, guard)
        else:
            _send_one_by_one(app, batch, task_name, kwargs, count, on_sent, guard)
    except (OperationalError, redis.RedisError, OSError, OutageTooLong) as error:
        raise LabError(f"publishing failed after {batch.submitted} of {count} tasks: {error}") from None
    batch.send_finished = time.time()
    return batch


def send_one(
    app: Celery, producer: Any, guard: OutageGuard, task_name: str, kwargs: dict[str, Any], queue: str, task_id: str
) -> None:
    """One task through Celery's ``send_task``, stamped with its enqueue time, retried through an outage."""
    guard.call(
        functools.partial(
            app.send_task,
            task_name,
            kwargs={**kwargs, "enqueued": time.time()},
            queue=queue,
            task_id=task_id,
            producer=producer,
        )
    )


def _send_one_by_one(
    app: Celery,
    batch: Batch,
    task_name: str,
    kwargs: dict[str, object],
    count: int,
    on_sent: Callable[[int], None] | None,
    guard: OutageGuard,
) -> None:
    """Celery's own path: one ``send_task`` (one round trip or more) per task, over one connection."""
    with app.producer_or_acquire() as producer:
        for index in range(count):
            task_id = f"{batch.batch_id}-{index}"
            send_one(app, producer, guard, task_name, kwargs, batch.queue, task_id)
            batch.task_ids.append(task_id)
            if on_sent is not None:
                on_sent(1)


def _send_confirmed(
    app: Celery, batch: Batch, task_name: str, kwargs: Any, count: int, chunk: int, on_sent: Any, guard: Any
) -> None:
    """RabbitMQ: Celery's messages, ``chunk`` per round of publisher confirms (producer/batch/amqp_publish.py)."""

    def sent(ids: list[str]) -> None:
        batch.task_ids.extend(ids)
        if on_sent is not None:
            on_sent(len(ids))

    ids = [f"{batch.batch_id}-{index}" for index in range(count)]
    chunks = [ids[start : start + chunk] for start in range(0, count, chunk)]
    send_confirmed(app, task_name, batch.queue, _exec_options(app, task_name), chunks, dict(kwargs), guard.call, sent)


def _exec_options(app: Celery, task_name: str) -> dict[str, Any]:
    # What send_task reads: the registry as it stands (``app.tasks`` would finalise the app and could add the
    # producer's own time limits to the message, where send_task leaves them to the worker's task).
    task = app._tasks.get(task_name)
    options = task._get_exec_options() if task is not None and hasattr(task, "_get_exec_options") else {}
    return {key: value for key, value in options.items() if value is not None}


def fast_path_supported(app: Celery, task_name: str, queue: str) -> bool:
    """True when the pipelined path produces exactly what ``send_task`` would for this task and queue."""
    conf = app.conf
    if conf.task_compression or conf.task_serializer != "json" or conf.task_protocol != 2:
        return False
    if signals.before_task_publish.receivers or signals.after_task_publish.receivers:
        return False
    options = _exec_options(app, task_name)
    if not set(options) <= _HANDLED_EXEC_OPTIONS or options.get("serializer", "json") != "json":
        return False
    if app.connection_for_write().transport.driver_type != "redis":
        return False
    known = app.amqp.queues.get(queue)
    return known is None or (known.exchange.type == "direct" and not known.expires and not known.max_priority)


def _kwargs_repr(kwargs: dict[str, object], maxsize: int) -> str:
    """``saferepr`` of the kwargs; plain ``repr`` gives the same text for small flat dicts and is 20× cheaper."""
    text = repr(kwargs)
    if len(text) < maxsize // 2 and all(isinstance(v, int | float | str) for v in kwargs.values()):
        return text
    return str(saferepr(kwargs, maxsize))


class _MessageFactory:
    """The exact ``send_task`` message per task id: a template from ``as_task_v2`` and kombu, per-task fields."""

    def __init__(self, app: Celery, channel: Any, task_name: str, queue_name: str, kwargs: dict[str, object]) -> None:
        amqp, conf = app.amqp, app.conf
        options = _exec_options(app, task_name)
        queue = amqp.queues[queue_name]
        self.queue_name, self.channel = queue_name, channel
        self.send_events = bool(conf.task_send_sent_event)
        self.kwargsrepr_maxsize = amqp.kwargsrepr_maxsize
        headers, properties, body, sent_event = amqp.as_task_v2(
            "template",
            task_name,
            (),
            kwargs,
            reply_to=app.thread_oid,
            time_limit=options.get("time_limit"),
            soft_time_limit=options.get("soft_time_limit"),
            create_sent_event=self.send_events,
            origin=anon_nodename(),
            ignore_result=None,
            argsrepr="()",
        )
        properties["delivery_mode"] = maybe_delivery_mode(
            queue.exchange.delivery_mode or conf.task_default_delivery_mode
        )
        self.content_type, self.content_encoding, _ = kombu_dumps(body, serializer="json")
        template = channel.prepare_message("", 0, self.content_type, self.content_encoding, headers, properties)
        #: Redis list of this priority (kombu's ``_put``): the queue name itself for priority 0.
        self.key = channel._q_for_pri(queue_name, channel._get_message_priority(template, reverse=False))
        self.headers, self.properties, self.embed = template["headers"], template["properties"], body[2]
        self.sent_event = {**(sent_event or {}), "queue": queue_name, "exchange": "", "routing_key": queue_name}

    def delivery_tags(self, count: int) -> list[str]:
        """kombu's delivery tags are random UUID4 strings; one ``urandom`` call for the whole chunk."""
        raw = os.urandom(16 * count)
        return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * count, 16)]

    def build(self, task_id: str, task_kwargs: dict[str, object], delivery_tag: str) -> tuple[str, dict[str, Any]]:
        """(serialised message, its task-sent event fields): what ``send_task`` + kombu's ``basic_publish`` write."""
        kwargsrepr = _kwargs_repr(task_kwargs, self.kwargsrepr_maxsize)
        body, encoding = self.channel.encode_body(json_dumps([[], task_kwargs, self.embed]), self.channel.body_encoding)
        message = {
            "body": body,
            "content-encoding": self.content_encoding,
            "content-type": self.content_type,
            "headers": {**self.headers, "id": task_id, "root_id": task_id, "kwargsrepr": kwargsrepr},
            "properties": {
                **self.properties,
                "correlation_id": task_id,
                "body_encoding": encoding,
                "delivery_tag": delivery_tag,
                "delivery_info": {"exchange": "", "routing_key": self.queue_name},
            },
        }
        event = {**self.sent_event, "uuid": task_id, "root_id": task_id, "kwargs": kwargsrepr}
        return json_dumps(message), event


def _send_pipelined(
    app: Celery,
    batch: Batch,
    task_name: str,
    kwargs: dict[str, object],
    count: int,
    chunk: int,
    on_sent: Callable[[int], None] | None,
    guard: OutageGuard,
) -> None:
    with app.connection_for_write() as connection:
        channel = guard.call(lambda: connection.default_channel)
        factory = _MessageFactory(app, channel, task_name, batch.queue, {**kwargs, "enqueued": 0.0})
        # Celery declares the queue (for Redis: its binding) before publishing; so do we, once.
        guard.call(lambda: maybe_declare(app.amqp.queues[batch.queue], channel))
        dispatcher = (
            app.events.Dispatcher(connection, enabled=True, buffer_group=["task"], buffer_limit=chunk + 1)
            if factory.send_events
            else None
        )
        try:
            for start in range(0, count, chunk):
                stop = min(start + chunk, count)
                ids = [f"{batch.batch_id}-{index}" for index in range(start, stop)]
                payloads: list[str] = []
                for task_id, tag in zip(ids, factory.delivery_tags(len(ids)), strict=True):
                    payload, event = factory.build(task_id, {**kwargs, "enqueued": time.time()}, tag)
                    payloads.append(payload)
                    if dispatcher is not None:
                        dispatcher.send("task-sent", **event)
                guard.call(functools.partial(_push, channel, {factory.key: payloads}))
                if dispatcher is not None:
                    dispatcher.flush()
                batch.task_ids.extend(ids)
                if on_sent is not None:
                    on_sent(len(ids))
        finally:
            if dispatcher is not None:
                dispatcher.close()


def _push(channel: Any, keys: dict[str, list[str]]) -> None:
    """One ``LPUSH key m1 m2 …`` per key and round trip: atomic, and FIFO for ``BRPOP`` consumers."""
    with channel.conn_or_acquire() as client:
        pipe = client.pipeline(transaction=False)
        for key, payloads in keys.items():
            pipe.lpush(key, *payloads)
        pipe.execute()
