"""Submit a batch of workload tasks to one queue, stamping each with its enqueue time.

The default path is *pipelined*: each message is built by Celery's own ``amqp.as_task_v2`` and kombu's
own Redis channel (``prepare_message``, base64 body encoding, delivery tag, priority key), exactly as
``app.send_task`` builds it, and ``chunk`` messages go to Redis in one multi-value ``LPUSH`` (one round
trip, atomic per chunk). ``send_task`` instead costs one ``LPUSH`` round trip per task, plus a
``SUBSCRIBE`` per task for ``AsyncResult.get`` (we collect with ``MGET`` instead, see ``collect.py``).
When ``task_send_sent_event`` is on, ``task-sent`` events go through a Celery ``EventDispatcher``
buffered by group, i.e. one ``task.multi`` event message per chunk: the form workers use themselves,
which Flower's ``EventReceiver`` reads like single events.

Anything the fast path does not reproduce (publish signals with receivers, compression, a non-direct
exchange, priorities or expiry set on the task) falls back to the one-by-one ``send_task`` loop.
"""

from __future__ import annotations

import functools
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

from producer.errors import LabError
from worker.task_args import WorkloadArgs

#: Messages per LPUSH round trip (and per ``task.multi`` event message).
CHUNK = 500
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


def submit_batch(app: Celery, args: WorkloadArgs, count: int, queue: str,
                 on_sent: Callable[[int], None] | None = None, *, pipelined: bool = True,
                 chunk: int = CHUNK) -> Batch:
    """Send ``count`` tasks of ``args`` to ``queue``; pipelined ``chunk`` at a time unless ``pipelined=False``."""
    batch = Batch(uuid.uuid4().hex[:12], args, queue)
    task_name = f"lab.{args.workload}"
    kwargs = args.as_kwargs()
    batch.send_started = time.time()
    try:
        if pipelined and fast_path_supported(app, task_name, queue):
            _send_pipelined(app, batch, task_name, kwargs, count, max(1, chunk), on_sent)
        else:
            _send_one_by_one(app, batch, task_name, kwargs, count, on_sent)
    except (OperationalError, redis.RedisError, OSError) as error:
        raise LabError(f"publishing failed after {batch.submitted} of {count} tasks: {error}") from None
    batch.send_finished = time.time()
    return batch


def _send_one_by_one(app: Celery, batch: Batch, task_name: str, kwargs: dict[str, object], count: int,
                     on_sent: Callable[[int], None] | None) -> None:
    """Celery's own path: one ``send_task`` (one round trip or more) per task, over one connection."""
    with app.producer_or_acquire() as producer:
        for index in range(count):
            task_id = f"{batch.batch_id}-{index}"
            app.send_task(task_name, kwargs={**kwargs, "enqueued": time.time()}, queue=batch.queue,
                          task_id=task_id, producer=producer)
            batch.task_ids.append(task_id)
            if on_sent is not None:
                on_sent(1)


def _exec_options(app: Celery, task_name: str) -> dict[str, Any]:
    task = app.tasks.get(task_name)
    options = task._get_exec_options() if task is not None else {}
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


def _send_pipelined(app: Celery, batch: Batch, task_name: str, kwargs: dict[str, object], count: int,
                    chunk: int, on_sent: Callable[[int], None] | None) -> None:
    amqp = app.amqp
    conf = app.conf
    options = _exec_options(app, task_name)
    queue = amqp.queues[batch.queue]
    delivery_mode = maybe_delivery_mode(queue.exchange.delivery_mode or conf.task_default_delivery_mode)
    reply_to, origin = app.thread_oid, anon_nodename()
    send_events = bool(conf.task_send_sent_event)
    policy = dict(conf.task_publish_retry_policy or {})
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        # Celery declares the queue (for Redis: its binding) before publishing; so do we, once.
        _retrying(lambda: maybe_declare(queue, channel), policy)
        dispatcher = app.events.Dispatcher(connection, enabled=send_events, buffer_group=["task"],
                                           buffer_limit=chunk + 1) if send_events else None
        try:
            for start in range(0, count, chunk):
                keys: dict[str, list[str]] = {}
                ids: list[str] = []
                for index in range(start, min(start + chunk, count)):
                    task_id = f"{batch.batch_id}-{index}"
                    task_kwargs = {**kwargs, "enqueued": time.time()}
                    headers, properties, body, sent_event = amqp.as_task_v2(
                        task_id, task_name, (), task_kwargs, reply_to=reply_to,
                        time_limit=options.get("time_limit"), soft_time_limit=options.get("soft_time_limit"),
                        create_sent_event=send_events, origin=origin, ignore_result=None, argsrepr="()",
                        kwargsrepr=_kwargs_repr(task_kwargs, amqp.kwargsrepr_maxsize))
                    properties["delivery_mode"] = delivery_mode
                    content_type, content_encoding, data = kombu_dumps(body, serializer="json")
                    message = channel.prepare_message(data, 0, content_type, content_encoding, headers, properties)
                    channel._inplace_augment_message(message, "", batch.queue)
                    key = channel._q_for_pri(batch.queue, channel._get_message_priority(message, reverse=False))
                    keys.setdefault(key, []).append(json_dumps(message))
                    ids.append(task_id)
                    if dispatcher is not None and sent_event is not None:
                        sent_event.update(queue=batch.queue, exchange="", routing_key=batch.queue)
                        dispatcher.send("task-sent", **sent_event)
                _retrying(functools.partial(_push, channel, keys), policy)
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


def _retrying(action: Callable[[], object], policy: dict[str, Any]) -> None:
    """Run ``action``, retrying on connection errors as ``task_publish_retry_policy`` says (at-least-once)."""
    retries = int(policy.get("max_retries") or 3)
    for attempt in range(retries + 1):
        try:
            action()
            return
        except (redis.ConnectionError, redis.TimeoutError, OperationalError):
            if attempt == retries:
                raise
            time.sleep(min(policy.get("interval_start", 0.2) + attempt * policy.get("interval_step", 0.5),
                           policy.get("interval_max", 2.0)))
