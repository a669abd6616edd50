"""The lab mode's Celery consumer: an invalid task message is refused, not fatal; task events flushed on a timer.

Selected by ``worker_consumer = "worker.lab_consumer:Consumer"`` (config/celery_mode.py) in lab mode only.

1. **Invalid messages.** Measured here (tests/test_bad_messages.py): a well-formed envelope whose JSON
   body has the wrong shape (``[1, 2]`` instead of ``[args, kwargs, embed]``) raises ``ValueError``
   while Celery builds the request; Celery does not catch it, logs "Unrecoverable error" and the worker
   exits. Any error while a message is being turned into a request now takes Celery's own "invalid
   task" path (``on_invalid_task``: logged with the message, rejected, never run); a broker connection
   error still propagates, so Celery reconnects and the message stays unacked in Redis.
2. **Event flushes.** Found with py-spy on a prefork consumer running no-op tasks (``benchmarks/``):
   Celery flushes buffered task events on the next event-loop turn, about one ``PUBLISH`` per task.
   :class:`Consumer` flushes at most every :data:`EVENT_FLUSH_S` (and, as Celery does, whenever 24
   events are buffered) and before it stops: the same ``task.multi`` event messages, fewer of them;
   Flower sees each event at most :data:`EVENT_FLUSH_S` later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

#: Longest delay of a buffered task event (seconds).
EVENT_FLUSH_S = 0.02


class Consumer(CeleryConsumer):
    """Celery's consumer, refusing invalid task messages and flushing task events on a short timer."""

    _flush_timer: Any = None

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """Celery's task handler, with any error building the request sent to ``on_invalid_task``."""
        on_task_received = super().create_task_handler(*args, **kwargs)

        def on_task_received_or_invalid(message: Any) -> Any:
            try:
                return on_task_received(message)
            except Exception as exc:
                if isinstance(exc, self.connection_errors + self.channel_errors):
                    raise  # the broker went away: Celery reconnects, the message stays unacked in Redis
                return self.on_invalid_task(None, message, exc)

        return on_task_received_or_invalid

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
