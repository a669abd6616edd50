"""Reject a malformed message in a queue instead of letting it stop the worker.

Measured here (tests/test_bad_messages.py): one ``LPUSH`` of text that is not a kombu envelope
(not JSON, or JSON without ``properties``) makes kombu's Redis transport raise inside the consumer
loop (``JSONDecodeError``/``KeyError``), Celery logs "Unrecoverable error" and the worker exits.
The message was already popped, so the next worker survives, but any writer to the broker could stop
every worker one message at a time.

Here such an entry becomes a quarantine envelope with a content type no worker accepts; Celery then
takes its ordinary path for undecodable messages: it logs "Can't decode message body" and acks it.
Well-formed envelopes pass untouched (pickle, unknown tasks and bad bodies are refused by Celery
itself: ``accept_content = ["json"]``), except one more case Celery does not catch: a JSON body of
the wrong shape (``[1, 2]`` instead of ``[args, kwargs, embed]``) raises ``ValueError`` while the
request is built, again "Unrecoverable error". Any such error while a message is being turned into a
request now takes Celery's own "invalid task" path: logged with the message, rejected, never run.
"""

from __future__ import annotations

import base64
import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from celery.worker.consumer.consumer import Consumer
from kombu.transport import redis as kombu_redis

logger = logging.getLogger(__name__)
_MARK = "_lab_message_guard"
UNDECODABLE = "__lab_undecodable__"
QUARANTINE_CONTENT_TYPE = "application/x-lab-malformed"
_SHOWN = 200


def _loads_or_mark(loads: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(loads)
    def loads_or_mark(text: Any) -> Any:
        try:
            return loads(text)
        except ValueError as error:  # JSONDecodeError, and integers beyond Python's digit limit
            return {UNDECODABLE: str(text)[:_SHOWN], "error": str(error)[:_SHOWN]}

    setattr(loads_or_mark, _MARK, True)
    return loads_or_mark


def _problem(message: Any) -> str | None:
    """Why ``message`` is not a kombu envelope the channel can deliver, or None if it is one."""
    if not isinstance(message, dict):
        return f"not a JSON object: {str(message)[:_SHOWN]!r}"
    if UNDECODABLE in message:
        return f"not JSON ({message['error']}): {message[UNDECODABLE]!r}"
    properties = message.get("properties")
    if not isinstance(properties, dict) or "delivery_tag" not in properties:
        return f"no properties.delivery_tag: {str(message)[:_SHOWN]!r}"
    if not isinstance(message.get("headers", {}), dict):
        return "headers is not an object"
    return None


def _quarantine(queue: str, problem: str) -> dict[str, Any]:
    """An envelope Celery will refuse (content type not accepted) and ack: logged, never run."""
    return {"body": base64.b64encode(problem.encode()).decode(), "content-encoding": "utf-8",
            "content-type": QUARANTINE_CONTENT_TYPE, "headers": {},
            "properties": {"delivery_tag": uuid.uuid4().hex, "body_encoding": "base64", "priority": 0,
                           "delivery_info": {"exchange": "", "routing_key": queue}}}


def _deliver_or_quarantine(deliver: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(deliver)
    def deliver_checked(self: Any, message: Any, queue: str) -> Any:
        problem = _problem(message)
        if problem is not None:
            logger.error("malformed message in queue %r rejected: %s", queue, problem)
            message = _quarantine(queue, problem)
        return deliver(self, message, queue)

    setattr(deliver_checked, _MARK, True)
    return deliver_checked


def _invalid_not_fatal(create_task_handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create_task_handler)
    def create_guarded_handler(self: Any, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        on_task_received = create_task_handler(self, *args, **kwargs)

        def on_task_received_guarded(message: Any) -> Any:
            try:
                return on_task_received(message)
            except Exception as exc:
                if isinstance(exc, self.connection_errors + self.channel_errors):
                    raise  # the broker went away: Celery reconnects, the message stays unacked in Redis
                return self.on_invalid_task(None, message, exc)

        return on_task_received_guarded

    setattr(create_guarded_handler, _MARK, True)
    return create_guarded_handler


def install() -> None:
    """Guard kombu's Redis transport where it decodes and delivers queue entries, and Celery's
    consumer where it turns a message into a request (idempotent)."""
    guards: list[tuple[Any, str, Callable[[Any], Any]]] = [
        (kombu_redis, "loads", _loads_or_mark),
        (kombu_redis.Transport, "_deliver", _deliver_or_quarantine),
        (Consumer, "create_task_handler", _invalid_not_fatal),
    ]
    for owner, name, guard in guards:
        current = getattr(owner, name)
        if not getattr(current, _MARK, False):
            setattr(owner, name, guard(current))
