"""Keep workers consuming, and tasks safe, when Redis restarts under them (the Celery #10205 family).

Measured here with Celery 5.7.0 / kombu 5.7.0 / redis-py 8.1 (tests/test_reliability_broker.py),
two windows in kombu's Redis transport:

1. **A detached channel.** On a broker connection loss the consumer ``collect()``s the connection,
   which detaches the transport from its channels (``transport.client = None``), and reconnects with
   new ones. Work still tied to an old channel then builds a Redis client from the detached
   transport and raises ``AttributeError: 'NoneType' object has no attribute 'client'`` (or
   ``'hostname'``): the requeue of delivered messages when the channel closes, and the ack of every
   task that was running during the outage. ``AttributeError`` is not a connection error, so Celery
   logs "Unrecoverable error" and the prefork worker exits: it stops consuming for good. Fix: a
   channel remembers its connection parameters, and uses them once its transport is detached.
2. **Popped but not recorded.** kombu takes a message with ``BRPOP`` and only then records it as
   unacked (``ZADD`` + ``HSET``). When Redis goes away between the two, the message exists only in
   the worker's memory and stock kombu drops it: one lost task per consuming worker and restart.
   Fix: keep such a message and push it back onto its queue as soon as the broker answers again
   (at-least-once: if the record did reach Redis after all, the task may run twice, never zero times).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)
_MARK = "_lab_restore_guard"

#: Messages popped from a queue whose unacked record never reached Redis: (payload, exchange, routing key).
_popped_not_recorded: list[tuple[dict[str, Any], str, str]] = []


def _remember_connparams(connparams: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(connparams)
    def connparams_or_last(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        remembered: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_lab_connparams", {})
        transport = self.connection
        if (transport is None or transport.client is None) and asynchronous in remembered:
            return dict(remembered[asynchronous])
        params = connparams(self, asynchronous)
        remembered[asynchronous] = dict(params)
        return params

    setattr(connparams_or_last, _MARK, True)
    return connparams_or_last


def _keep_unrecorded(append: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(append)
    def append_or_keep(self: Any, message: Any, delivery_tag: Any) -> Any:
        try:
            return append(self, message, delivery_tag)
        except self.channel.connection_errors:
            info = message.delivery_info
            _popped_not_recorded.append((message._raw, info["exchange"], info["routing_key"]))
            logger.warning("broker connection lost after task %s was taken off its queue: kept, requeued on "
                           "reconnect", message.headers.get("id"))
            raise

    setattr(append_or_keep, _MARK, True)
    return append_or_keep


def _requeue_unrecorded(qos: Any) -> None:
    """Push kept messages back onto their queues (consumed next); keep them if Redis is still away."""
    while _popped_not_recorded:
        payload, exchange, routing_key = _popped_not_recorded[0]
        try:
            with qos.channel.conn_or_acquire() as client:
                pipe = client.pipeline()
                qos.channel._do_restore_message(payload, exchange, routing_key, pipe)
                pipe.execute()
        except qos.channel.connection_errors:
            return
        _popped_not_recorded.pop(0)
        logger.warning("requeued task %s after the broker came back", payload.get("headers", {}).get("id"))


def _requeue_first(restore_visible: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(restore_visible)
    def requeue_then_restore(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _popped_not_recorded:
            _requeue_unrecorded(self)
        return restore_visible(self, *args, **kwargs)

    setattr(requeue_then_restore, _MARK, True)
    return requeue_then_restore


def install() -> None:
    """Patch kombu's Redis channel and QoS at both windows (idempotent).

    kombu calls ``restore_visible`` on every new connection and periodically, so that is where kept
    messages go back.
    """
    for owner, name, guard in ((kombu_redis.Channel, "_connparams", _remember_connparams),
                               (kombu_redis.QoS, "append", _keep_unrecorded),
                               (kombu_redis.QoS, "restore_visible", _requeue_first)):
        current = getattr(owner, name)
        if not getattr(current, _MARK, False):
            setattr(owner, name, guard(current))
