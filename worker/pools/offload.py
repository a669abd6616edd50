"""The seam for pools that run a task's work elsewhere (an event loop, a subinterpreter), then trace it.

Celery hands a pool ``apply_async(trace, args=(name, task_id, request, body, content_type,
content_encoding), callback=...)``. A pool built on this module decodes the message itself
(:func:`decode`: JSON only, as the worker accepts), asks the task what to run (:meth:`WorkloadTask.call_spec
<worker.task_base.WorkloadTask.call_spec>`: a ``module:function`` and its checked arguments, no Celery
object), runs it where it runs, :func:`store` s the outcome under the task id, and then calls Celery's
own tracer (``trace``) as any pool does. The task's run takes the stored outcome (:func:`take`) instead
of running the function again, so results, events, acks, retries and failures all go through stock Celery.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.serialization import loads, prepare_accept_content


@dataclass(frozen=True)
class Delivery:
    """One task message as a pool receives it: the task's name and id and its decoded arguments."""

    task_name: str
    task_id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class CallSpec:
    """What to run for a task, with no Celery in it: ``module:function``, its arguments, and the workload's name."""

    workload: str
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    enqueued: float | None


@dataclass(frozen=True)
class Outcome:
    """What the work gave: its result (the timed result dict) or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    def unwrap(self) -> Any:
        """The value, or raise the error (the tracer then records the failure as for any task)."""
        if self.error is not None:
            raise self.error
        return self.value


_outcomes: dict[str, Outcome] = {}
_lock = threading.Lock()


def decode(app: Celery, trace_args: tuple[Any, ...]) -> Delivery:
    """The task name, id and arguments of the message a pool was handed (the tracer's own ``args``)."""
    name, task_id, _request, body, content_type, content_encoding = trace_args[:6]
    if content_type:
        accept = prepare_accept_content(app.conf.accept_content)  # "json" → its content type, as Celery's tracer does
        args, kwargs, _embed = loads(body, content_type, content_encoding, accept=accept)
    else:
        args, kwargs, _embed = body
    return Delivery(str(name), str(task_id), tuple(args or ()), dict(kwargs or {}))


def store(task_id: str, outcome: Outcome) -> None:
    """Keep the outcome of ``task_id``'s work until the tracer runs the task."""
    with _lock:
        _outcomes[task_id] = outcome


def take(task_id: str | None) -> Outcome | None:
    """The stored outcome of ``task_id`` (removed), or None: the task runs its function itself."""
    if not task_id:
        return None
    with _lock:
        return _outcomes.pop(task_id, None)


def discard(task_id: str) -> None:
    """Forget an outcome whose tracer will not run (the pool is shutting down)."""
    with _lock:
        _outcomes.pop(task_id, None)
