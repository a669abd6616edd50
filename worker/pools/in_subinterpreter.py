"""What runs inside each subinterpreter of the ``interpreters`` pool: import, call, time; JSON text in and out.

Imported by the subinterpreter itself (``worker/pools/subinterpreters.py`` boots it), so it imports
only the standard library and :mod:`worker.runtime`, never Celery, pydantic (pydantic-core cannot load
in a subinterpreter) or the settings. A request is ``{"function": "module:function", "args": [...],
"kwargs": {...}, "workload", "hostname", "enqueued"}``; the answer is ``{"value": <timed_run's dict>}``
or ``{"error": {"stage": "import" | "call" | "encode", "type", "module", "message", "traceback"}}``.
The answer travels back through a cross-interpreter queue as a ``str`` (shareable, no pickle).
"""

from __future__ import annotations

import importlib
import json
import traceback
from typing import Any

from worker import runtime

#: 3.13's ``_interpqueues`` formats and unbound-item rules (the values its test.support wrapper uses).
SHARED_ONLY = 0
UNBOUND_REMOVE = 1


def prepare(pool_name: str, preload: list[str]) -> None:
    """Label this interpreter's results with the worker's pool name; import the workload modules that load here.

    A module that cannot load in a subinterpreter is skipped here: its tasks fail with the reason.
    """
    runtime.set_pool_name(pool_name)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:
            continue


def _failure(stage: str, error: BaseException) -> str:
    kind = type(error)
    return json.dumps(
        {
            "error": {
                "stage": stage,
                "type": kind.__qualname__,
                "module": kind.__module__,
                "message": str(error),
                "traceback": "".join(traceback.format_exception(error)),
            }
        }
    )


def run(request_text: str) -> str:
    """Run one request: import its function, call it under :func:`worker.runtime.timed_run`, answer in JSON."""
    request: dict[str, Any] = json.loads(request_text)
    module_name, _, attribute = str(request["function"]).partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except BaseException as error:  # e.g. a C extension without multi-interpreter support: ImportError
        return _failure("import", error)
    try:
        value = runtime.timed_run(
            lambda: function(*request["args"], **request["kwargs"]),
            workload=str(request["workload"]),
            hostname=str(request["hostname"]),
            enqueued=request["enqueued"],
        )
    except BaseException as error:  # the task's own failure, reported to Celery as the task's error
        return _failure("call", error)
    try:
        return json.dumps({"value": value})
    except (TypeError, ValueError) as error:
        return _failure("encode", error)


def answer(request_text: str, queue_id: int) -> None:
    """Run ``request_text`` and put the answer on the pool's queue ``queue_id`` for the driving thread."""
    import _interpqueues

    _interpqueues.put(queue_id, run(request_text), SHARED_ONLY, UNBOUND_REMOVE)
