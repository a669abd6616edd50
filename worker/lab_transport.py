"""The lab mode's Redis transport: kombu's, subclassed, with three guards and one speed-up.

Selected by ``broker_transport = "worker.lab_transport:Transport"`` (config/celery_mode.py) in lab mode
only; nothing here replaces a kombu attribute. Channel methods overridden from kombu 5.7 follow its code
line for line except where marked, which is why the lab mode is pinned to the tested minors.

Measured here with Celery 5.7.0 / kombu 5.7.0 / redis-py 8.1 (tests/test_reliability_broker.py and
tests/test_bad_messages.py run both modes), stock kombu's Redis transport has these windows:

1. **A detached channel.** On a broker connection loss the consumer ``collect()``s the connection,
   which detaches the transport from its channels (``transport.client = None``), and reconnects with
   new ones. Work still tied to an old channel then builds a Redis client from the detached transport
   and raises ``AttributeError: 'NoneType' object has no attribute 'client'`` (or ``'hostname'``): the
   requeue of delivered messages when the channel closes, and the ack of every task that was running
   during the outage. ``AttributeError`` is not a connection error, so Celery logs "Unrecoverable
   error" and the prefork worker exits: it stops consuming for good. :class:`Channel` remembers its
   connection parameters and uses them once its transport is detached.
2. **Popped but not recorded.** kombu takes a message with ``BRPOP`` and only then records it as
   unacked (``ZADD`` + ``HSET``). When Redis goes away between the two, the message exists only in the
   worker's memory and stock kombu drops it: one lost task per consuming worker and restart.
   :class:`QoS` keeps such a message and pushes it back onto its queue as soon as the broker answers
   again (at-least-once: if the record did reach Redis after all, the task may run twice, never zero).
3. **A malformed queue entry.** One ``LPUSH`` of text that is not a kombu envelope (not JSON, or JSON
   without ``properties``) raises inside the consumer loop (``JSONDecodeError``/``KeyError``), Celery logs
   "Unrecoverable error" and the worker exits; any writer to the broker could stop every worker one
   message at a time. :class:`Channel` turns such an entry into a quarantine envelope with a content
   type no worker accepts: Celery logs "Can't decode message body" and acks it, never runs it.

And one speed-up, found with py-spy on a prefork consumer running no-op tasks (``benchmarks/``): kombu
builds a new ``redis.Redis`` for every command batch it sends outside the poll loop (``conn_or_acquire``
→ ``_create_client``): each ack, unacked-index write and event publish. With redis-py 8 that copies ~170
response callbacks: ~14 % of the consumer's CPU. :class:`Channel` builds it once and reuses it (a
``redis.Redis`` over a connection pool is safe to share; the commands are identical). Acknowledgement
semantics are untouched: acks_late, reject_on_worker_lost and the visibility timeout work as in stock.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from config.celery_mode import check_tested_versions
from config.settings import get_settings

logger = logging.getLogger(__name__)

#: Content type of a quarantined entry: in no worker's ``accept_content``, so Celery refuses and acks it.
QUARANTINE_CONTENT_TYPE = "application/x-lab-malformed"
#: Characters of a bad entry quoted in the log line.
_SHOWN = 200

#: Messages popped from a queue whose unacked record never reached Redis: (payload, exchange, routing key).
#: Process-wide: the channel that popped them is gone by the time the broker answers again.
_popped_not_recorded: list[tuple[dict[str, Any], str, str]] = []


def entry_problem(message: Any) -> str | None:
    """Why a decoded queue entry is not a kombu envelope the channel can deliver, or None if it is one."""
    if not isinstance(message, dict):
        return f"not a JSON object: {str(message)[:_SHOWN]!r}"
    properties = message.get("properties")
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return f"no properties.delivery_tag: {str(message)[:_SHOWN]!r}"
    if not isinstance(message.get("headers", {}), dict):
        return "headers is not an object"
    return None


def quarantine_envelope(queue: str, problem: str) -> dict[str, Any]:
    """An envelope Celery will refuse (content type not accepted) and ack: logged, never run."""
    return {
        "body": base64.b64encode(problem.encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": QUARANTINE_CONTENT_TYPE,
        "headers": {},
        "properties": {
            "delivery_tag": uuid.uuid4().hex,
            "body_encoding": "base64",
            "priority": 0,
            "delivery_info": {"exchange": "", "routing_key": queue},
        },
    }


def decode_entry(item: Any, queue: str) -> dict[str, Any]:
    """A raw queue entry as kombu's envelope, or a quarantine envelope if it is not one (logged)."""
    text = bytes_to_str(item)
    try:
        message = loads(text)
    except ValueError as error:  # JSONDecodeError, and integers beyond Python's digit limit
        problem: str | None = f"not JSON ({str(error)[:_SHOWN]}): {text[:_SHOWN]!r}"
    else:
        problem = entry_problem(message)
    if problem is None:
        return message
    logger.error("malformed message in queue %r rejected: %s", queue, problem)
    return quarantine_envelope(queue, problem)


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS, keeping a message it popped but could not record, and requeueing it on reconnect."""

    def append(self, message: Any, delivery_tag: Any) -> None:
        """Record ``message`` as unacked; if the broker went away first, keep it for :meth:`restore_visible`."""
        try:
            super().append(message, delivery_tag)
        except self.channel.connection_errors:
            info = message.delivery_info
            _popped_not_recorded.append((message._raw, info["exchange"], info["routing_key"]))
            logger.warning(
                "broker connection lost after task %s was taken off its queue: kept, requeued on reconnect",
                message.headers.get("id"),
            )
            raise

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        """Requeue kept messages first (kombu calls this on every new connection and periodically)."""
        if _popped_not_recorded:
            self._requeue_unrecorded()
        super().restore_visible(*args, **kwargs)

    def _requeue_unrecorded(self) -> None:
        """Push kept messages back onto their queues (consumed next); keep them if Redis is still away."""
        while _popped_not_recorded:
            payload, exchange, routing_key = _popped_not_recorded[0]
            try:
                with self.channel.conn_or_acquire() as client:
                    pipe = client.pipeline()
                    self.channel._do_restore_message(payload, exchange, routing_key, pipe)
                    pipe.execute()
            except self.channel.connection_errors:
                return
            _popped_not_recorded.pop(0)
            logger.warning("requeued task %s after the broker came back", payload.get("headers", {}).get("id"))


class Channel(kombu_redis.Channel):
    """kombu's Redis channel: one shared client, remembered connection parameters, malformed entries quarantined."""

    QoS = QoS
    _shared_client: Any = None
    _remembered_connparams: dict[bool, dict[str, Any]] | None = None

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        """kombu's parameters; the last ones seen once the transport is detached (window 1 above)."""
        if self._remembered_connparams is None:
            self._remembered_connparams = {}
        transport = self.connection
        if (transport is None or transport.client is None) and asynchronous in self._remembered_connparams:
            return dict(self._remembered_connparams[asynchronous])
        params: dict[str, Any] = super()._connparams(asynchronous)
        self._remembered_connparams[asynchronous] = dict(params)
        return params

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """The given client, else this channel's one shared ``redis.Redis`` (stock kombu builds one per call)."""
        if client:
            yield client
            return
        if self._shared_client is None:
            self._shared_client = self._create_client()
        yield self._shared_client

    def _brpop_read(self, **options: Any) -> bool:
        """kombu 5.7's ``_brpop_read``, decoding the entry with :func:`decode_entry` (window 3)."""
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # if there's a ConnectionError, disconnect so the next iteration will reconnect automatically.
                self.client.connection.disconnect()
                raise
            if dest__item:
                dest, item = dest__item
                dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
                self._queue_cycle.rotate(dest)
                self.connection._deliver(decode_entry(item, dest), dest)  # kombu: loads(bytes_to_str(item))
                return True
            raise Empty()
        finally:
            self._in_poll = None  # type: ignore[assignment]  # as kombu does; its class default is False
            self._flush_brpop_reauth()

    def _get(self, queue: str, timeout: Any = None) -> dict[str, Any]:
        """kombu 5.7's ``_get`` (basic_get, polling), decoding the entry with :func:`decode_entry`."""
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.rpop(self._q_for_pri(queue, pri))
                if item:
                    self._maybe_update_queues_expire(client, queue)
                    return decode_entry(item, queue)  # kombu: loads(bytes_to_str(item))
            self._maybe_update_queues_expire(client, queue)
            raise Empty()


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`; refuses to run on untested Celery/kombu minors."""

    Channel = Channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_tested_versions(get_settings())  # one line (UntestedCeleryVersions) instead of untested overrides
        super().__init__(*args, **kwargs)
