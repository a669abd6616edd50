"""The ``asyncio`` pool: ``async def`` tasks on one event loop, in its own thread of the worker process.

Selected through Celery's own seam: the catalogue's ``asyncio`` entry names this class, which the lab
starts as ``-P custom`` with ``CELERY_CUSTOM_WORKER_POOL``. ``-c`` is the number of tasks in flight
(an ``asyncio.Semaphore``): a slot is a coroutine, not a thread. Per task, through the offload seam
(``worker/pools/offload.py``):

1. on the loop, wait for a slot; hand Celery's ``accept_callback`` (task-started event, bookkeeping)
   to a tracer thread;
2. decode the message and ask the task for its :class:`~worker.pools.offload.CallSpec`; a synchronous
   workload is refused with the catalogue's reason (``Pool.refuses``), bad arguments fail as the
   task's own checks say;
3. await the coroutine under the task's time bound (its soft/hard time limit → ``asyncio.timeout``),
   timed as every result is (``runtime.timed_run_async``), and store the outcome;
4. free the slot and hand Celery's tracer (``target``) and its callback to a tracer thread: they run
   after the accept callback and take that outcome, so the result write, ack and events go through
   stock Celery. The loop is woken once per task (to start it), never by the threads.

Callbacks and the tracer do blocking I/O (Redis), so they run on a few tracer threads
(``LAB_ASYNCIO_TRACE_THREADS``), never on the loop. Warm shutdown: tasks not yet started are
dropped unacknowledged (the broker redelivers them), tasks in flight get
``LAB_ASYNCIO_SHUTDOWN_GRACE_S`` to finish, the rest are cancelled unacknowledged (redelivered too).
A coroutine that blocks the loop (synchronous code inside ``async def``) stalls every task on it:
the time bound cancels only at an ``await``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from billiard.einfo import ExceptionInfo
from celery.concurrency.base import BasePool, apply_target
from celery.concurrency.thread import ApplyResult
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.utils.log import get_logger

from config import catalogue
from config.settings import get_settings
from worker import async_workloads
from worker.pools import offload
from worker.runtime import current_pool_name, timed_run_async
from worker.task_args import WorkloadRefused

logger = get_logger(__name__)


def _resolve(function: str) -> Callable[..., Any]:
    module, _, attribute = function.partition(":")
    return getattr(importlib.import_module(module), attribute)


def refusal(workload: str, function: Callable[..., Any] | None) -> str | None:
    """Why this pool does not run ``workload`` (the catalogue's reason; else, when ``function`` is given and is
    not ``async def``, that), or None."""
    entry = catalogue.WORKLOADS.get(workload)
    pool = catalogue.POOLS.get(current_pool_name()) or catalogue.pool("asyncio")
    reason = pool.refuses(entry) if entry is not None else None
    if reason is None and function is not None and not _awaitable_call(function):
        reason = f"{workload} is synchronous: the {pool.name} pool runs only async def workloads"
    return reason


def _awaitable_call(function: Callable[..., Any]) -> bool:
    """True for an ``async def`` function, or an object whose ``__call__`` is one."""
    call = None if inspect.isroutine(function) or inspect.isclass(function) else type(function).__call__
    return inspect.iscoroutinefunction(function) or (call is not None and inspect.iscoroutinefunction(call))


def time_bound(soft: float | None, hard: float | None) -> tuple[float | None, type[Exception], str]:
    """The task's bound in seconds (the nearer of its soft and hard limits), the error and the word for it."""
    if soft and (not hard or soft <= hard):
        return float(soft), SoftTimeLimitExceeded, "soft time limit"
    if hard:
        return float(hard), TimeLimitExceeded, "time limit"
    return None, TimeLimitExceeded, ""


class AsyncioPool(BasePool):
    """Celery pool running coroutine tasks on one event loop; ``limit`` (``-c``) tasks in flight."""

    signal_safe = False  # stopping joins threads: not from a signal handler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._grace_s = settings.asyncio_shutdown_grace_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asyncio-pool-loop", daemon=True)
        self._tracers = ThreadPoolExecutor(settings.asyncio_trace_threads, thread_name_prefix="asyncio-pool-tracer")
        self._slots = asyncio.Semaphore(max(1, int(self.limit or 1)))
        self._waiting: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Task[None]] = set()

    def on_start(self) -> None:
        self._thread.start()

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        error_callback: Callable[..., Any] | None = None,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> ApplyResult:
        job = _Job(self, target, tuple(args or ()), dict(kwargs or {}), callback, accept_callback, error_callback)
        future: Future[None] = asyncio.run_coroutine_threadsafe(job.run(soft_timeout, timeout), self._loop)
        return ApplyResult(future)

    def on_stop(self) -> None:
        self._shutdown(self._grace_s)

    def on_terminate(self) -> None:
        self._shutdown(0.0)

    def _shutdown(self, grace_s: float) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._drain(grace_s), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._tracers.shutdown(wait=True)  # tracers already handed a finished task still store and ack it

    async def _drain(self, grace_s: float) -> None:
        """Drop tasks not started (unacknowledged: redelivered), give those in flight ``grace_s``."""
        for task in list(self._waiting):
            task.cancel()
        pending: set[asyncio.Task[None]] = set()
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=grace_s)
        if pending:
            logger.warning(
                "asyncio pool: %d task(s) still in flight after %.1f s of shutdown were cancelled, "
                "unacknowledged: the broker delivers them again",
                len(pending),
                grace_s,
            )
            for task in pending:
                task.cancel()
        await asyncio.gather(*self._waiting, *pending, return_exceptions=True)
        await async_workloads.close_sessions()
        await self._loop.shutdown_asyncgens()

    def _get_info(self) -> dict[str, Any]:
        info = super()._get_info()
        info.update({"in-flight": len(self._running), "waiting": len(self._waiting)})
        return info


def _ignore(_: Any) -> None:
    pass


class _Job:
    """One task's way through the pool: slot, accept, work on the loop, then Celery's tracer."""

    def __init__(
        self,
        pool: AsyncioPool,
        target: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callback: Callable[..., Any] | None,
        accept_callback: Callable[..., Any] | None,
        error_callback: Callable[..., Any] | None,
    ) -> None:
        self.pool, self.target, self.args, self.kwargs = pool, target, args, kwargs
        self.callback, self.accept_callback, self.error_callback = callback, accept_callback, error_callback

    async def run(self, soft: float | None, hard: float | None) -> None:
        me = asyncio.current_task()
        assert me is not None
        pool = self.pool
        pool._waiting.add(me)
        try:
            async with pool._slots:
                pool._waiting.discard(me)
                pool._running.add(me)
                try:
                    await self._in_slot(soft, hard)
                finally:
                    pool._running.discard(me)
        finally:
            pool._waiting.discard(me)

    async def _in_slot(self, soft: float | None, hard: float | None) -> None:
        tracers = self.pool._tracers
        # Handed to a tracer thread, not awaited: the work starts at once, with no wake-up of the loop for it.
        accepted = tracers.submit(self._accept, os.getpid(), time.monotonic()) if self.accept_callback else None
        try:
            delivery = offload.decode(self.pool.app, self.args)
        except Exception:  # the tracer meets the same message and fails it with Celery's own reason
            logger.exception("asyncio pool: cannot decode the message")
            delivery = None
        if delivery is not None:
            try:
                outcome = await self._outcome(delivery, soft, hard)
            except Exception as error:  # a fault of the pool's own: still the task's counted failure, traced and acked
                logger.exception("asyncio pool: preparing the task failed")
                outcome = offload.Outcome(error=error)
            if outcome is not None:
                offload.store(delivery.task_id, outcome)
        # Stored and handed over with no await in between: a stored outcome always reaches its tracer. The
        # slot is free once the work is done (the loop is not woken again for this task); the tracer
        # waits for the accept callback, so Celery sees accepted → succeeded/failed in that order.
        tracers.submit(self._trace, accepted)

    async def _outcome(
        self, delivery: offload.Delivery, soft: float | None, hard: float | None
    ) -> offload.Outcome | None:
        task = self.pool.app.tasks.get(delivery.task_name)
        call_spec = getattr(task, "call_spec", None)
        if task is None or call_spec is None:
            return None  # not a lab task (e.g. one of Celery's own): the tracer runs it as it is
        early = refusal(task.workload, None) if getattr(task, "workload", "") in catalogue.WORKLOADS else None
        if early:  # a catalogue workload: refused before its arguments are checked, as a sync pool does
            return offload.Outcome(error=WorkloadRefused(early))
        try:
            kwargs = delivery.kwargs
            if delivery.args:  # positional arguments, named as the task's run() names them
                kwargs = dict(inspect.signature(task.run).bind(*delivery.args, **kwargs).arguments)
            spec = call_spec(kwargs)
            function = _resolve(spec.function)
        except Exception as error:  # BadTaskArgs and the like: the task's own failure, with its reason
            return offload.Outcome(error=error)
        reason = refusal(spec.workload, function)
        if reason:
            return offload.Outcome(error=WorkloadRefused(reason))
        bound, expired, words = time_bound(soft, hard)
        hostname = str((self.args[2] or {}).get("hostname", "")) if len(self.args) > 2 else ""
        try:
            async with asyncio.timeout(bound) as deadline:
                value = await timed_run_async(
                    lambda: function(*spec.args, **spec.kwargs),
                    workload=spec.workload,
                    hostname=hostname,
                    enqueued=spec.enqueued,
                )
        except Exception as error:
            if isinstance(error, TimeoutError) and deadline.expired():
                return offload.Outcome(error=expired(f"{spec.workload} ran past its {words} of {bound:g} s"))
            return offload.Outcome(error=error)
        return offload.Outcome(value=value)

    def _accept(self, pid: int, accepted: float) -> None:
        try:
            assert self.accept_callback is not None
            self.accept_callback(pid, accepted)
        except Exception:
            logger.exception("asyncio pool: accept callback failed")

    def _trace(self, accepted: Future[None] | None) -> None:
        """Celery's tracer and callback, as the threads pool runs them; an error escaping it fails the task."""
        if accepted is not None:
            accepted.result()  # queued before this job on the same executor: running or done, never waiting behind it
        try:
            apply_target(self.target, self.args, self.kwargs, self.callback or _ignore)
        except Exception:
            if self.error_callback is None:
                logger.exception("asyncio pool: the tracer failed")
                return
            try:
                self.error_callback(ExceptionInfo())
            except Exception:
                logger.exception("asyncio pool: the error callback failed")
