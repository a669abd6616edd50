"""A user's own task (``--task package.module:function``): which modules may run, lazy loading, JSON bounds.

No Celery here: the generic task (``worker/user_task.py``), the in-process baselines and the producer's
checks share it. ``LAB_TASK_MODULES`` is checked on the *name* before anything is imported, and the
function found must be defined in an allowed module too (``from os import system`` in an allowed module
does not make ``system`` runnable), so the queue never becomes a way to run arbitrary code. Modules
are imported on first use, never at worker start, and kept (``sys.modules`` and a cache per name).
Arguments and results are JSON, strictly (no NaN, no fallback encoder) and within their size caps.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from config import catalogue
from config.settings import LabSettings
from worker.task_args import USER_TASK, BadTaskArgs, short

#: The longest ``package.module:function`` accepted (a name, not a payload).
MAX_SPEC_CHARS = 300


class UserTaskRefused(BadTaskArgs):
    """A user task the lab will not run: not allowed, not found, not callable, or oversized arguments."""


class UnusableResult(ValueError):
    """A user task's result that JSON cannot carry, or over ``LAB_MAX_RESULT_BYTES``."""


@dataclass(frozen=True)
class TaskRef:
    """``package.module:function``, split and checked for shape (nothing imported)."""

    module: str
    attribute: str

    @property
    def spec(self) -> str:
        """The name as the user writes it."""
        return f"{self.module}:{self.attribute}"


def parse(spec: object) -> TaskRef:
    """The task's module and function name; :class:`UserTaskRefused` unless it reads ``package.module:function``."""
    if not isinstance(spec, str) or len(spec) > MAX_SPEC_CHARS:
        raise UserTaskRefused(f"a task is named package.module:function, got {short(spec)}")
    module, colon, attribute = spec.partition(":")
    if not colon or not all(part.isidentifier() for part in module.split(".")) or not attribute.isidentifier():
        raise UserTaskRefused(f"a task is named package.module:function, got {short(spec)}")
    return TaskRef(module, attribute)


def allowed(module: str, modules: Sequence[str]) -> bool:
    """True when ``module`` is one of ``modules`` or lies under one (``pkg`` allows ``pkg.sub``)."""
    return any(module == name or module.startswith(name + ".") for name in modules)


def check_allowed(ref: TaskRef, settings: LabSettings) -> None:
    """Refuse a module that ``LAB_TASK_MODULES`` does not name (by name alone: nothing is imported)."""
    if not allowed(ref.module, settings.task_module_list):
        listed = ", ".join(settings.task_module_list) or "empty: no user task may run"
        raise UserTaskRefused(f"module {ref.module!r} is not allowed by LAB_TASK_MODULES ({listed})")


@functools.lru_cache(maxsize=256)
def _load(spec: str) -> Callable[..., Any]:
    """Import the module (once) and find the callable; failures are not cached (a fixed module loads next time)."""
    ref = parse(spec)
    try:
        module = importlib.import_module(ref.module)
    except ImportError as error:
        raise UserTaskRefused(f"cannot import {ref.module!r}: {error}") from None
    except Exception as error:  # the module's own code failed while importing
        raise UserTaskRefused(f"importing {ref.module!r} failed: {type(error).__name__}: {short(error)}") from None
    if not hasattr(module, ref.attribute):
        raise UserTaskRefused(f"module {ref.module!r} has no attribute {ref.attribute!r}")
    target = getattr(module, ref.attribute)
    if not callable(target):
        raise UserTaskRefused(f"{spec} is a {type(target).__name__}, not a function")
    return target


def resolve(spec: object, settings: LabSettings) -> Callable[..., Any]:
    """The user's function: shape, then the allow-list (before any import), then import, then where it is defined."""
    ref = parse(spec)
    check_allowed(ref, settings)
    target = _load(ref.spec)
    home = getattr(target, "__module__", None)
    if not isinstance(home, str) or not allowed(home, settings.task_module_list):
        raise UserTaskRefused(f"{ref.spec} is defined in {home!r}, which LAB_TASK_MODULES does not allow")
    return target


def is_coroutine(target: Callable[..., Any]) -> bool:
    """True for an ``async def`` function (or an object whose ``__call__`` is one)."""
    method = None if inspect.isroutine(target) or inspect.isclass(target) else type(target).__call__
    return inspect.iscoroutinefunction(target) or (method is not None and inspect.iscoroutinefunction(method))


def workload_for(
    spec: str, target: Callable[..., Any], *, kind: catalogue.Kind = "cpu", releases_gil: bool = False
) -> catalogue.Workload:
    """The catalogue entry a user task runs as: named by its function, run through :data:`USER_TASK`."""
    return catalogue.Workload(
        name=spec,
        function=spec,
        summary=f"user task {spec}",
        size_meaning="unused (0): the task takes --args / --kwargs",
        default_size=0,
        cap_setting=None,
        kind=kind,
        releases_gil=releases_gil,
        default_pool="prefork",
        arguments=(),
        time_limited=True,
        in_default_compare=False,
        coroutine=is_coroutine(target),
        task=USER_TASK,
    )


def check_result(spec: str, value: Any, settings: LabSettings) -> None:
    """Raise :class:`UnusableResult` when ``value`` is not strict JSON or is over ``LAB_MAX_RESULT_BYTES``."""
    try:
        size = len(json.dumps(value, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError) as error:
        raise UnusableResult(
            f"{spec} returned a {type(value).__name__} that JSON cannot encode ({short(error)})"
        ) from None
    if size > settings.max_result_bytes:
        raise UnusableResult(
            f"{spec} returned {size} bytes of JSON, above the cap {settings.max_result_bytes} (LAB_MAX_RESULT_BYTES)"
        )
