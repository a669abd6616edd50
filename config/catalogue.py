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
from typing import TYPE_CHECKING, Any

# Re-exported: the catalogue is where every caller finds its entries' types.
from config.catalogue_types import REFERENCE_POOL as REFERENCE_POOL
from config.catalogue_types import TASK_PREFIX as TASK_PREFIX
from config.catalogue_types import Argument as Argument
from config.catalogue_types import Kind as Kind
from config.catalogue_types import Pool as Pool
from config.catalogue_types import Workload as Workload

if TYPE_CHECKING:
    from config.settings import LabSettings


class CatalogueError(ValueError):
    """A catalogue name or extension that cannot be used; the message is one line for the user."""

    exit_code = 2


class UnknownName(CatalogueError):
    """A workload or pool name that is not in the catalogue (the message lists the known ones)."""


def _cpu_slots(settings: LabSettings) -> int:
    return settings.cpu_workers


def _io_slots(settings: LabSettings) -> int:
    return settings.io_concurrency


def _async_slots(settings: LabSettings) -> int:
    return settings.async_concurrency


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


def refusal(pool_name: str, workload_name: str) -> str | None:
    """Why the pool (or baseline) cannot run the workload (``Pool.refuses``), or None when it can."""
    return any_pool(pool_name).refuses(workload(workload_name))


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
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#2ca02c",
              cooperative=True))
add_pool(Pool("threads_nogil", "the threads pool on free-threaded CPython (PEP 703)", "threads", _io_slots,
              "LAB_IO_CONCURRENCY threads on free-threaded CPython (PYTHON_GIL=0): CPU work runs on every core",
              gil_per_process=False, process_per_slot=False, tasks_on_main_thread=False, colour="#d62728",
              interpreter="freethreaded", env={"PYTHON_GIL": "0"}, requires_gil_off=True))
add_pool(Pool("interpreters", "a subinterpreter per slot, each with its own GIL, in one process (PEP 684)",
              "worker.pools.interpreters_pool:InterpreterPool", _cpu_slots,
              "one subinterpreter per core (LAB_CPU_CONCURRENCY, 0 = cores): each has its own GIL and OS thread",
              gil_per_process=False, process_per_slot=False, tasks_on_main_thread=False, colour="#9467bd",
              interpreter="3.13"))
add_pool(Pool("asyncio", "coroutines on one event loop (its own thread) in the worker process",
              "worker.pools.asyncio_pool:AsyncioPool", _async_slots,
              "LAB_ASYNC_CONCURRENCY coroutines in flight on one event loop: a slot is a coroutine, not a thread",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#8c564b",
              runs_coroutines=True, cooperative=True))
add_pool(Pool("inproc-threads", "ThreadPoolExecutor in the producer: the threads pool without the queue", "",
              _io_slots, "ThreadPoolExecutor(LAB_IO_CONCURRENCY): the threads pool without the queue",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#ffbb78",
              in_process="threads"))
add_pool(Pool("inproc-processes", "ProcessPoolExecutor in the producer: prefork without the queue", "",
              _cpu_slots, "ProcessPoolExecutor(cores): prefork without the queue",
              gil_per_process=False, process_per_slot=True, tasks_on_main_thread=True, colour="#aec7e8",
              in_process="processes"))
add_pool(Pool("inproc-asyncio", "asyncio.gather under a semaphore in the producer: the asyncio pool without the queue",
              "", _async_slots, "asyncio.Semaphore(LAB_ASYNC_CONCURRENCY) on one loop: asyncio without the queue",
              gil_per_process=True, process_per_slot=False, tasks_on_main_thread=False, colour="#c49c94",
              in_process="asyncio", runs_coroutines=True))

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
add_workload(Workload("io_http_async", "worker.async_workloads:io_http_async",
                      "aiohttp GET from the latency target on the event loop (one session per loop)",
                      "ms the target waits before answering", 100, "max_io_ms", "wait", releases_gil=True,
                      default_pool="asyncio", arguments=("url", "size", "http_timeout_s"), coroutine=True))
add_workload(Workload("io_sleep_async", "worker.async_workloads:io_sleep_async", "asyncio.sleep (pure waiting)",
                      "ms asleep", 100, "max_io_ms", "wait", releases_gil=True, default_pool="asyncio",
                      coroutine=True, in_default_compare=False))
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
