"""Bounds on workload arguments, checked by the producer before sending and by the task before running."""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass

from config import catalogue
from config.settings import LabSettings
from worker.url_policy import UrlNotAllowed, check_url


class BadTaskArgs(ValueError):
    """A workload argument is unknown, out of range or oversized."""


class WorkloadRefused(RuntimeError):
    """The worker's pool does not run this kind of workload (``async def`` vs synchronous: ``Pool.refuses``)."""


#: Error messages quote a bad value at most this long: a refused 1 MB argument must not come back
#: as a 1 MB failure reason in the result backend.
_QUOTE_CHARS = 60


def _short(value: object) -> str:
    text = reprlib.repr(value)
    return text if len(text) <= _QUOTE_CHARS else f"{text[:_QUOTE_CHARS]}... ({len(text)} chars)"


@dataclass(frozen=True)
class WorkloadArgs:
    """What one task of a batch runs: the workload, its size and (for ``io_http``) the URL."""

    workload: str
    size: int
    url: str = ""

    def as_kwargs(self) -> dict[str, object]:
        """The task's keyword arguments (JSON-serialisable)."""
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
        raise BadTaskArgs(f"unknown workload {_short(args.workload)} (choose from {known})")
    entry = catalogue.workload(args.workload)
    cap = entry.cap(settings)
    if not isinstance(args.size, int) or isinstance(args.size, bool) or args.size < 0:
        raise BadTaskArgs(f"size must be a non-negative integer, got {_short(args.size)}")
    if args.size > cap:
        setting = f"LAB_{entry.cap_setting.upper()}" if entry.cap_setting else "fixed"
        raise BadTaskArgs(f"size {_short(args.size)} for {args.workload} is above the cap {cap} ({setting})")
    if not entry.takes_url and args.url:
        raise BadTaskArgs(f"{entry.name} takes no url")
    if entry.takes_url:
        if not isinstance(args.url, str):
            raise BadTaskArgs(f"url must be a string, got {_short(args.url)}")
        if len(args.url.encode()) > settings.max_arg_bytes:
            raise BadTaskArgs(f"url is {len(args.url.encode())} bytes, above the cap {settings.max_arg_bytes}")
        try:
            check_url(args.url, settings.allowed_host_set)
        except UrlNotAllowed as error:
            raise BadTaskArgs(str(error)) from None
    return args


def check_enqueued(enqueued: object) -> float | None:
    """The producer's enqueue timestamp: None or a finite number (it is echoed into every result)."""
    if enqueued is None:
        return None
    if isinstance(enqueued, bool) or not isinstance(enqueued, int | float) or not math.isfinite(enqueued):
        raise BadTaskArgs(f"enqueued must be a timestamp (seconds), got {_short(enqueued)}")
    return float(enqueued)
