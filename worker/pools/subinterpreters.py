"""One subinterpreter with its own GIL, called with JSON text: 3.14's ``concurrent.interpreters`` shape on 3.13.

CPython 3.13 ships the PEP 684/734 machinery only as private modules: ``_interpreters`` (create, exec,
destroy) and ``_interpqueues`` (cross-interpreter queues of shareable objects). 3.14 wraps them as
``concurrent.interpreters`` (``create()``, ``Interpreter.exec/call/close``, ``create_queue()``) and
``InterpreterPoolExecutor``. :class:`Interpreter` is that shape, reduced to what the ``interpreters``
pool needs: :meth:`Interpreter.call` sends a JSON request, runs it in the interpreter on the calling
OS thread (other interpreters run in parallel on theirs, each under its own GIL) and returns the
answer or raises the error rebuilt from it. Only ``str`` crosses (no pickle).

Why not a library: the PyPI backport ``interpreters-pep-734`` 0.5.0's ``InterpreterPoolExecutor`` never
returned ``submit(sum, [1, 2, 3])`` here, on the default or the free-threaded build.
"""

from __future__ import annotations

import builtins
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from worker.pools import in_subinterpreter


class SubinterpreterError(Exception):
    """A failure inside a subinterpreter whose exception class the worker cannot rebuild (its name is in the text)."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_interpreters = _module("_interpreters")
_interpqueues = _module("_interpqueues")


def unavailable_reason() -> str | None:
    """Why subinterpreters cannot be used on this Python (one line), or None."""
    if sys.version_info[:2] != (3, 13) or _interpreters is None or _interpqueues is None:
        return (
            f"the interpreters pool needs CPython 3.13's _interpreters and _interpqueues (this is "
            f"{sys.version.split()[0]} at {sys.executable}): start it on `make pythons`' 3.13 (LAB_PY313_PYTHON)"
        )
    if getattr(sys, "_is_gil_enabled", lambda: True)() is False:
        return "the interpreters pool runs on the default (GIL) build of CPython 3.13, not the free-threaded one"
    return None


def _rebuilt(error: dict[str, Any], function: str) -> Exception:
    """The exception a subinterpreter reported, as the worker can raise it: same class when it can be found."""
    kind, module, message = str(error["type"]), str(error["module"]), str(error["message"])
    rebuilt: Exception
    if error["stage"] == "import":
        rebuilt = ImportError(f"cannot import {function} in a subinterpreter: {kind}: {message}")
    else:
        found = getattr(builtins if module == "builtins" else sys.modules.get(module), kind, None)
        try:
            if not (isinstance(found, type) and issubclass(found, Exception)):
                raise TypeError(kind)
            rebuilt = found(message)
        except Exception:  # a class not loaded here, or one that wants other arguments
            rebuilt = SubinterpreterError(f"{module}.{kind}: {message}")
    rebuilt.add_note(f"raised in a subinterpreter:\n{error['traceback']}")
    return rebuilt


class Interpreter:
    """An isolated subinterpreter (own GIL, own modules) and the queue its answers come back on.

    Not thread-safe: one OS thread drives it at a time. :meth:`close` destroys it; a running
    interpreter cannot be stopped or destroyed from outside (the thread running it must return first).
    """

    def __init__(self, pool_name: str, sys_path: list[str], preload: Sequence[str] = ()) -> None:
        problem = unavailable_reason()
        if problem:
            raise SubinterpreterError(problem)
        self.id: int = _interpreters.create("isolated")
        try:
            self._queue: int = _interpqueues.create(0, in_subinterpreter.SHARED_ONLY, in_subinterpreter.UNBOUND_REMOVE)
        except BaseException:
            _interpreters.destroy(self.id)
            raise
        try:
            self._exec(
                "import sys\n"
                f"sys.path[:] = {json.dumps(sys_path)}\n"
                "from worker.pools import in_subinterpreter as _lab\n"
                f"_lab.prepare({json.dumps(pool_name)}, {json.dumps(list(preload))})\n"
            )
        except BaseException as error:
            self.close()
            if isinstance(error, SubinterpreterError | SystemExit | KeyboardInterrupt):
                raise
            raise SubinterpreterError(f"cannot start a subinterpreter: {type(error).__name__}: {error}") from error

    def _exec(self, code: str, shared: dict[str, Any] | None = None) -> None:
        failed = _interpreters.exec(self.id, code, shared or {})
        if failed is not None:
            raise SubinterpreterError(f"subinterpreter {self.id}: {failed.formatted}")

    def call(self, function: str, request: dict[str, Any]) -> Any:
        """Run ``function`` (``module:function``) with the JSON ``request`` here; its value, or its error raised."""
        text = json.dumps({**request, "function": function})
        self._exec(f"_lab.answer(_lab_request, {self._queue})", {"_lab_request": text})
        answer_text, _format, _unbound = _interpqueues.get(self._queue)
        answer = json.loads(answer_text)
        if "error" in answer:
            raise _rebuilt(answer["error"], function)
        return answer["value"]

    def close(self) -> None:
        """Destroy the interpreter and its queue (only when no thread runs it)."""
        try:
            _interpreters.destroy(self.id)
        finally:
            _interpqueues.destroy(self._queue)
