"""The catalogue's two kinds of entry: :class:`Workload` (a pure function and how it behaves) and :class:`Pool`."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from config.settings import LabSettings

#: What a task's time goes to: computing (cpu), waiting (I/O, sleep), or neither (the queue's own cost).
Kind = Literal["cpu", "wait", "overhead"]
#: Values a workload function can be called with, by name (see :attr:`Workload.arguments`).
Argument = Literal["size", "url", "http_timeout_s"]
TASK_PREFIX = "lab."
#: The pool every speedup is measured against: one task at a time in one process.
REFERENCE_POOL = "solo"


@dataclass(frozen=True)
class Workload:
    """One workload: a pure function, what its size means and how it is bounded, and how it behaves."""

    name: str
    #: ``module:function`` of a pure function (no Celery import); called with :attr:`arguments`.
    function: str
    summary: str
    #: What ``--size`` means (help text), and the default that takes ~0.1 s per task on 2 cores.
    size_meaning: str
    default_size: int
    #: The :class:`LabSettings` field that caps ``size``; None: the size must be 0.
    cap_setting: str | None
    kind: Kind
    #: True when the work runs outside the GIL (hashing/compression in C, waiting): threads scale with it.
    releases_gil: bool
    #: The pool whose queue a task goes to when no pool is named.
    default_pool: str
    arguments: tuple[Argument, ...] = ("size",)
    #: The CPU soft/hard time limits (``LAB_CPU_*_TIME_LIMIT_S``) apply; waits are bounded by their own timeouts.
    time_limited: bool = False
    in_default_compare: bool = True
    #: The function is ``async def``: only a pool with ``runs_coroutines`` runs it.
    coroutine: bool = False
    #: The Celery task that runs it, when not ``lab.<name>`` (a user's task runs through one generic task).
    task: str = ""

    @property
    def task_name(self) -> str:
        """The Celery task name (``lab.<name>``, or :attr:`task` when set)."""
        return self.task or TASK_PREFIX + self.name

    @property
    def waits(self) -> bool:
        """True for I/O-like work: slots beyond the cores still help."""
        return self.kind == "wait"

    @property
    def has_ideal(self) -> bool:
        """False for work that does nothing measurable (no-op): only the queue's own cost shows."""
        return self.kind != "overhead"

    @property
    def takes_url(self) -> bool:
        """The task carries a URL (checked against the host allow-list)."""
        return "url" in self.arguments

    def cap(self, settings: LabSettings) -> int:
        """The largest accepted size."""
        return int(getattr(settings, self.cap_setting)) if self.cap_setting else 0

    def resolve(self) -> Callable[..., Any]:
        """The workload function itself (for a :attr:`coroutine` workload, an ``async def``)."""
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def call(self, size: int, url: str, settings: LabSettings) -> Any:
        """Run the workload once with checked arguments (a :attr:`coroutine` workload returns its coroutine)."""
        values: dict[str, Any] = {"size": size, "url": url, "http_timeout_s": settings.http_timeout_s}
        return self.resolve()(*(values[name] for name in self.arguments))


@dataclass(frozen=True)
class Pool:
    """One way to run tasks: a Celery pool (``-P``) or an in-process executor baseline (no queue)."""

    name: str
    summary: str
    #: ``-P`` value (prefork, threads, solo, gevent) or ``pkg.mod:Pool`` (started as ``-P custom``); "" for a baseline.
    celery_pool: str
    #: Slots a worker started by the lab gets, and the text that says why.
    slots: Callable[[LabSettings], int]
    concurrency_rule: str
    #: Pure-Python work in one process takes turns on one GIL: one core per process at most.
    gil_per_process: bool
    #: Each slot is its own process (its own GIL and its own memory).
    process_per_slot: bool
    #: Tasks run on the process's main thread (signals, e.g. the soft-deadline backstop, can interrupt them).
    tasks_on_main_thread: bool
    colour: str
    #: Which Python runs the worker: this one, the free-threaded 3.13t, or the default-build 3.13 (`make pythons`).
    interpreter: Literal["default", "freethreaded", "3.13"] = "default"
    #: Extra environment for the worker process (e.g. ``PYTHON_GIL=0``).
    env: Mapping[str, str] = field(default_factory=dict)
    in_default_compare: bool = True
    #: An in-process baseline ("threads", "processes" or "asyncio": one event loop) instead of a Celery worker.
    in_process: Literal["threads", "processes", "asyncio"] | None = None
    #: Runs ``async def`` workloads on an event loop, and only those.
    runs_coroutines: bool = False
    #: The worker refuses to start when its interpreter's GIL is on (free-threaded pools).
    requires_gil_off: bool = False
    #: Slots take turns on one OS thread (greenlets, coroutines): waits overlap, computing never does,
    #: not even C code that releases the GIL.
    cooperative: bool = False

    def refuses(self, entry: Workload) -> str | None:
        """Why this pool cannot run ``entry`` (one line), or None when it can."""
        if entry.coroutine and not self.runs_coroutines:
            return f"{entry.name} is async def: it runs on a pool that runs coroutines, not on {self.name}"
        if self.runs_coroutines and not entry.coroutine:
            return f"{entry.name} is synchronous: the {self.name} pool runs only async def workloads"
        return None

    @property
    def is_baseline(self) -> bool:
        """True for the in-process executors (no Celery, no Redis)."""
        return self.in_process is not None

    @property
    def queue(self) -> str:
        """Each Celery pool has its own queue, named after it."""
        return self.name

    def concurrency(self, settings: LabSettings) -> int:
        """Slots for a worker (or executor) the lab starts."""
        return self.slots(settings)

    def pool_option(self) -> tuple[list[str], dict[str, str]]:
        """Celery's ``-P`` arguments and the environment that selects this pool (``-P custom`` for a class path)."""
        if ":" in self.celery_pool:
            return ["-P", "custom"], {"CELERY_CUSTOM_WORKER_POOL": self.celery_pool}
        return ["-P", self.celery_pool], {}
