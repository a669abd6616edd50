"""The catalogue: every workload and every pool the lab knows, each described once.

Every list, default, cap, route, queue, concurrency rule, bottleneck rule, help text and chart colour
reads from here. Adding a workload is a pure function in ``worker/workloads.py`` plus one
:class:`Workload` entry; adding a pool is one :class:`Pool` entry (plus its pool class, for a custom
``-P`` class). A module named in ``LAB_CATALOGUE_EXTENSIONS`` may call :func:`add_workload` /
:func:`add_pool` at import: workers, producer and Flower all load it, so an extension is seen
everywhere without touching the lab's files. A name that is not here fails loudly
(:class:`UnknownName`), never with a silent default.
"""

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


class CatalogueError(ValueError):
    """A catalogue name or extension that cannot be used; the message is one line for the user."""

    exit_code = 2


class UnknownName(CatalogueError):
    """A workload or pool name that is not in the catalogue (the message lists the known ones)."""


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

    @property
    def task_name(self) -> str:
        """The Celery task name (``lab.<name>``)."""
        return TASK_PREFIX + self.name

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

    def resolve(self) -> Callable[..., dict[str, Any]]:
        """The workload function itself."""
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def call(self, size: int, url: str, settings: LabSettings) -> dict[str, Any]:
        """Run the workload once with checked arguments."""
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
    interpreter: Literal["default", "freethreaded"] = "default"
    #: Extra environment for the worker process (e.g. ``PYTHON_GIL=0``).
    env: Mapping[str, str] = field(default_factory=dict)
    in_default_compare: bool = True
    #: An in-process executor baseline ("threads" or "processes") instead of a Celery worker.
    in_process: Literal["threads", "processes"] | None = None

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


def _cpu_slots(settings: LabSettings) -> int:
    return settings.cpu_workers


def _io_slots(settings: LabSettings) -> int:
    return settings.io_concurrency


WORKLOADS: dict[str, Workload] = {}
POOLS: dict[str, Pool] = {}
BASELINES: dict[str, Pool] = {}


def add_workload(entry: Workload) -> Workload:
    """Add (or replace) a workload; its default pool must already be known."""
    pool(entry.default_pool)
    WORKLOADS[entry.name] = entry
    return entry


def add_pool(entry: Pool) -> Pool:
    """Add (or replace) a Celery pool or, with ``in_process`` set, an in-process baseline."""
    (BASELINES if entry.is_baseline else POOLS)[entry.name] = entry
    return entry


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise UnknownName(f"unknown {what} {name!r} (choose from {', '.join(table)})") from None


def workload(name: str) -> Workload:
    """The workload called ``name``; :class:`UnknownName` otherwise."""
    return _lookup(WORKLOADS, name, "workload")


def pool(name: str) -> Pool:
    """The Celery pool called ``name``; :class:`UnknownName` otherwise."""
    return _lookup(POOLS, name, "pool")


def find_pool(name: str) -> Pool | None:
    """A Celery pool or an in-process baseline by name, or None (a record from an extension not loaded now)."""
    return POOLS.get(name) or BASELINES.get(name)


def any_pool(name: str) -> Pool:
    """A Celery pool or an in-process baseline, by name (analysis, tables and charts cover both)."""
    entry = find_pool(name)
    if entry is None:
        return _lookup({**POOLS, **BASELINES}, name, "pool")  # raises UnknownName listing both
    return entry


def workload_of_task(task_name: str) -> Workload:
    """The workload a Celery task name (``lab.<name>``) runs."""
    return workload(task_name.removeprefix(TASK_PREFIX))


def default_workloads() -> list[str]:
    """Workloads compare runs when none are named."""
    return [w.name for w in WORKLOADS.values() if w.in_default_compare]


def default_pools(available: Callable[[Pool], bool] = lambda _: True) -> list[str]:
    """Pools compare runs when none are named, among those ``available`` accepts (e.g. interpreter built)."""
    return [p.name for p in POOLS.values() if p.in_default_compare and available(p)]


# One entry per pool and per workload; kept in table form (one entry, one block) for reading.
# fmt: off
add_pool(Pool("prefork", "one child process per slot, forked from the worker", "prefork", _cpu_slots,
              "one process per core (LAB_CPU_CONCURRENCY, 0 = cores): more processes only share the cores",
              gil_per_process=False, process_per_slot=True, tasks_on_main_thread=True, colour="#1f77b4"))
add_pool(Pool("threads", "a thread per slot in one process", "threads", _io_slots,
              "LAB_IO_CONCURRENCY threads: waits overlap; CPU work still takes turns on the GIL",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#ff7f0e"))
add_pool(Pool("solo", "one task at a time, in the worker process itself", "solo", lambda _: 1,
              "1: one task at a time in the worker process (the reference for speedups)",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=True, colour="#7f7f7f"))
add_pool(Pool("gevent", "greenlets on one OS thread, sockets monkey-patched", "gevent", _io_slots,
              "LAB_IO_CONCURRENCY greenlets: one OS thread, waits overlap via monkey-patched sockets",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#2ca02c"))
add_pool(Pool("threads_nogil", "the threads pool on free-threaded CPython (PEP 703)", "threads", _io_slots,
              "LAB_IO_CONCURRENCY threads on free-threaded CPython (PYTHON_GIL=0): CPU work runs on every core",
              gil_per_process=False, process_per_slot=False, tasks_on_main_thread=False, colour="#d62728",
              interpreter="freethreaded", env={"PYTHON_GIL": "0"}))
add_pool(Pool("inproc-threads", "ThreadPoolExecutor in the producer: the threads pool without the queue", "",
              _io_slots, "ThreadPoolExecutor(LAB_IO_CONCURRENCY): the threads pool without the queue",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#ffbb78",
              in_process="threads"))
add_pool(Pool("inproc-processes", "ProcessPoolExecutor in the producer: prefork without the queue", "",
              _cpu_slots, "ProcessPoolExecutor(cores): prefork without the queue",
              gil_per_process=False, process_per_slot=True, tasks_on_main_thread=True, colour="#aec7e8",
              in_process="processes"))

add_workload(Workload("cpu", "worker.workloads:cpu", "pure-Python product loop (the GIL is held)",
                      "n of the product 1·2·…·n", 25000, "max_cpu_size", "cpu", releases_gil=False,
                      default_pool="prefork", time_limited=True))
add_workload(Workload("cpu_nogil", "worker.workloads:cpu_nogil", "hashlib/zlib over a buffer (the GIL is released)",
                      "KiB hashed and compressed", 8192, "max_nogil_kib", "cpu", releases_gil=True,
                      default_pool="prefork", time_limited=True))
add_workload(Workload("io_http", "worker.workloads:io_http", "GET from the latency target (waits on the network)",
                      "ms the target waits before answering", 100, "max_io_ms", "wait", releases_gil=True,
                      default_pool="threads", arguments=("url", "size", "http_timeout_s")))
add_workload(Workload("io_sleep", "worker.workloads:io_sleep", "time.sleep (pure waiting)", "ms asleep", 100,
                      "max_io_ms", "wait", releases_gil=True, default_pool="threads"))
add_workload(Workload("noop", "worker.workloads:noop", "nothing: the queue's own cost per task", "unused (0)", 0,
                      None, "overhead", releases_gil=False, default_pool="prefork", arguments=(),
                      in_default_compare=False))
# fmt: on


def load_extensions(modules: str) -> None:
    """Import each comma-separated extension module (it calls :func:`add_workload` / :func:`add_pool`)."""
    for name in filter(None, (part.strip() for part in modules.split(","))):
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise CatalogueError(f"LAB_CATALOGUE_EXTENSIONS: cannot import {name!r}: {error}") from None
