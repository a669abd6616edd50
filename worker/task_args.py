"""Bounds on workload arguments, checked by the producer before sending and by the task before running."""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config import catalogue
from config.settings import LabSettings
from worker.url_policy import UrlNotAllowed, check_url

#: The one Celery task that runs every user task (``--task``); its kwargs: function, args, kwargs, enqueued.
USER_TASK = catalogue.TASK_PREFIX + "user"


class BadTaskArgs(ValueError):
    """A workload argument is unknown, out of range or oversized."""


class WorkloadRefused(RuntimeError):
    """The worker's pool does not run this kind of workload (``async def`` vs synchronous: ``Pool.refuses``)."""


#: Error messages quote a bad value at most this long: a refused 1 MB argument must not come back
#: as a 1 MB failure reason in the result backend.
_QUOTE_CHARS = 60


def short(value: object) -> str:
    text = reprlib.repr(value)
    return text if len(text) <= _QUOTE_CHARS else f"{text[:_QUOTE_CHARS]}... ({len(text)} chars)"


@dataclass(frozen=True)
class WorkloadArgs:
    """What one task of a batch runs: the workload, its size and (for ``io_http``) the URL.

    A user task (``--task``) carries its call instead: ``function`` (``package.module:function``) and
    the JSON ``call_args`` / ``call_kwargs`` it is called with.
    """

    workload: str
    size: int
    url: str = ""
    function: str = ""
    call_args: tuple[Any, ...] = ()
    call_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def as_kwargs(self) -> dict[str, object]:
        """The task's keyword arguments (JSON-serialisable)."""
        if self.function:
            return {"function": self.function, "args": list(self.call_args), "kwargs": dict(self.call_kwargs)}
        kwargs: dict[str, object] = {"size": self.size}
        if catalogue.workload(self.workload).takes_url:
            kwargs["url"] = self.url
        return kwargs


def default_size(workload: str) -> int:
    """The catalogue's default size: one task takes roughly 0.1 s on a 2-core machine (noop: 0)."""
    return catalogue.workload(workload).default_size


def check_args(args: WorkloadArgs, settings: LabSettings) -> WorkloadArgs:
    """Return ``args`` if every bound holds; raise :class:`BadTaskArgs` with a one-line reason otherwise."""
    if not isinstance(args.workload, str) or args.workload not in catalogue.WORKLOADS:
        known = ", ".join(catalogue.WORKLOADS)
        raise BadTaskArgs(f"unknown workload {short(args.workload)} (choose from {known})")
    entry = catalogue.workload(args.workload)
    if args.function or entry.task == USER_TASK:
        if args.function != entry.function or args.size or args.url:
            raise BadTaskArgs(f"{entry.name} is called with its own args and kwargs (no size, no url)")
        check_call(list(args.call_args), dict(args.call_kwargs), settings)
        return args
    cap = entry.cap(settings)
    if not isinstance(args.size, int) or isinstance(args.size, bool) or args.size < 0:
        raise BadTaskArgs(f"size must be a non-negative integer, got {short(args.size)}")
    if args.size > cap:
        setting = f"LAB_{entry.cap_setting.upper()}" if entry.cap_setting else "fixed"
        raise BadTaskArgs(f"size {short(args.size)} for {args.workload} is above the cap {cap} ({setting})")
    if not entry.takes_url and args.url:
        raise BadTaskArgs(f"{entry.name} takes no url")
    if entry.takes_url:
        if not isinstance(args.url, str):
            raise BadTaskArgs(f"url must be a string, got {short(args.url)}")
        if len(args.url.encode()) > settings.max_arg_bytes:
            raise BadTaskArgs(f"url is {len(args.url.encode())} bytes, above the cap {settings.max_arg_bytes}")
        try:
            check_url(args.url, settings.allowed_host_set)
        except UrlNotAllowed as error:
            raise BadTaskArgs(str(error)) from None
    return args


def check_call(args: object, kwargs: object, settings: LabSettings) -> tuple[list[Any], dict[str, Any]]:
    """A user task's arguments if they are a JSON list and object within ``LAB_MAX_TASK_ARGS_BYTES``."""
    if not isinstance(args, list | tuple):
        raise BadTaskArgs(f"args must be a JSON list, got {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise BadTaskArgs(f"kwargs must be a JSON object, got {type(kwargs).__name__}")
    try:
        size = len(json.dumps([list(args), kwargs], allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError) as error:
        raise BadTaskArgs(f"args and kwargs must be JSON: {short(error)}") from None
    if size > settings.max_task_args_bytes:
        raise BadTaskArgs(
            f"args and kwargs are {size} bytes of JSON, above the cap {settings.max_task_args_bytes} "
            "(LAB_MAX_TASK_ARGS_BYTES)"
        )
    return list(args), dict(kwargs)


def check_enqueued(enqueued: object) -> float | None:
    """The producer's enqueue timestamp: None or a finite number (it is echoed into every result)."""
    if enqueued is None:
        return None
    if isinstance(enqueued, bool) or not isinstance(enqueued, int | float) or not math.isfinite(enqueued):
        raise BadTaskArgs(f"enqueued must be a timestamp (seconds), got {short(enqueued)}")
    return float(enqueued)
