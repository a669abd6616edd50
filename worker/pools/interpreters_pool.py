"""The ``interpreters`` pool: one worker process, N subinterpreters (``-c N``), each with its own GIL and OS thread.

Selected through Celery's seam (``-P custom`` with ``CELERY_CUSTOM_WORKER_POOL=
worker.pools.interpreters_pool:InterpreterPool``), on the default-build CPython 3.13. Each message is
decoded here (JSON only), the task says what to call (:meth:`~worker.task_base.WorkloadTask.call_spec`),
a slot runs that call in its subinterpreter (GIL-holding CPU work runs in parallel, without fork), the
outcome is stored (``worker/pools/offload.py``) and Celery's own tracer then runs the task on a
tracer thread, so results, events, acks and failures are stock Celery.

- A function whose module cannot be imported in a subinterpreter (a C extension without
  multi-interpreter support: pydantic-core, psutil, hiredis) fails that task with the ImportError.
- A task past its time limit (the soft one when set, else the hard one, as Celery hands them to the
  pool) fails with the reason, and its slot gets a fresh interpreter on a new thread. A running
  subinterpreter cannot be stopped: the old thread is abandoned, its interpreter runs on until the
  work returns, then is destroyed (``abandoned`` in ``celery inspect stats`` counts them).
- A task that is not a workload task (no ``call_spec``) runs in the main interpreter on a tracer thread.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from celery.concurrency.base import BasePool, apply_target
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from config import catalogue
from worker import runtime
from worker.pools import offload
from worker.pools.job_deadlines import Deadlines, Job
from worker.pools.subinterpreters import Interpreter, SubinterpreterError, unavailable_reason

logger = logging.getLogger(__name__)


class WorkloadRefused(Exception):
    """The pool cannot run this workload (the catalogue's reason)."""


class Slot:
    """One subinterpreter and the OS thread that drives it; abandoned when its task overruns."""

    def __init__(self, pool: InterpreterPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"subinterpreter-{index}", daemon=True)

    def _serve(self) -> None:
        interpreter: Interpreter | None = None
        try:
            while not self.abandoned.is_set():
                problem: SubinterpreterError | None = None
                if interpreter is None:  # booted before a task is taken: its time limit counts its work only
                    try:
                        interpreter = Interpreter(runtime.current_pool_name(), list(sys.path), self.pool.preload)
                    except SubinterpreterError as error:
                        logger.error("interpreters pool: slot %s: %s", self.index, error)
                        problem = error
                job = self.pool.jobs.get()
                if job is None:
                    return
                job.accept()
                if interpreter is None:  # the task fails with why; the next one tries a fresh interpreter
                    self.pool.finish(job, offload.Outcome(error=problem))
                    continue
                self.pool.deadlines.watch(job, self)
                try:
                    outcome = offload.Outcome(value=interpreter.call(job.function, job.request))
                except SubinterpreterError as error:  # the interpreter itself failed: start afresh next time
                    outcome = offload.Outcome(error=error)
                    interpreter = self._closed(interpreter)
                except Exception as error:  # the task's own error, rebuilt from the subinterpreter's report
                    outcome = offload.Outcome(error=error)
                self.pool.finish(job, outcome)
        finally:
            self._closed(interpreter)

    @staticmethod
    def _closed(interpreter: Interpreter | None) -> None:
        """Destroy ``interpreter`` if there is one; returns None (the slot's interpreter after)."""
        if interpreter is not None:
            try:
                interpreter.close()
            except Exception as error:
                logger.warning("interpreters pool: could not destroy subinterpreter %s: %s", interpreter.id, error)
        return None


class InterpreterPool(BasePool):
    """A Celery pool of N subinterpreters in one process (``-P custom``; see the module docstring)."""

    signal_safe = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.deadlines = Deadlines(self._expired)
        self.slots: list[Slot] = []
        self.abandoned: list[Slot] = []
        self.abandoned_total = 0
        self._lock = threading.Lock()
        self._stopping = False
        self.preload: list[str] = []
        self._tracers = ThreadPoolExecutor(max_workers=max(1, self.limit or 1), thread_name_prefix="interp-trace")

    def on_start(self) -> None:
        problem = unavailable_reason()
        if problem:
            print(f"worker: error: {problem}", file=sys.stderr)
            raise SystemExit(2)
        # Each interpreter imports the catalogue's workload modules when it boots (best effort: one that
        # cannot load there fails its tasks with the reason), as a prefork child has them imported.
        self.preload = sorted({w.function.partition(":")[0] for w in catalogue.WORKLOADS.values()})
        self.slots = [Slot(self, index) for index in range(max(1, self.limit or 1))]
        for slot in self.slots:
            slot.thread.start()
        self.deadlines.start()

    def on_apply(
        self,
        target: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Any = None,
        accept_callback: Any = None,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> None:
        trace_args = tuple(args or ())
        trace = partial(apply_target, target, trace_args, kwargs, callback)
        try:
            delivery = offload.decode(self.app, trace_args)
            task = self.app.tasks.get(delivery.task_name)
            if not hasattr(task, "call_spec"):  # not a workload task: run it here, as the threads pool would
                self._tracers.submit(trace, accept_callback=accept_callback)
                return
            self._refuse(str(getattr(task, "workload", "")))
            spec = task.call_spec(delivery.kwargs)
        except Exception as error:  # undecodable, refused, bad arguments: the task fails with the reason
            task_id = str(trace_args[1]) if len(trace_args) > 1 else ""
            self._deliver(task_id, offload.Outcome(error=error), partial(trace, accept_callback=accept_callback))
            return
        hostname = str((trace_args[2] or {}).get("hostname", "")) if len(trace_args) > 2 else ""
        request = {
            "args": list(spec.args),
            "kwargs": spec.kwargs,
            "workload": spec.workload,
            "hostname": hostname,
            "enqueued": spec.enqueued,
        }
        limit = next(((s, kind) for s, kind in ((soft_timeout, "soft"), (timeout, "hard")) if s), None)
        self.jobs.put(Job(delivery.task_id, spec.function, request, limit, accept_callback, trace))

    def _refuse(self, workload: str) -> None:
        entry = catalogue.find_pool(runtime.current_pool_name())
        reason = entry.refuses(catalogue.workload(workload)) if entry and workload in catalogue.WORKLOADS else None
        if reason:
            raise WorkloadRefused(reason)

    def _deliver(self, task_id: str, outcome: offload.Outcome, trace: Any) -> None:
        offload.store(task_id, outcome)
        self._tracers.submit(trace)

    def finish(self, job: Job, outcome: offload.Outcome) -> None:
        """A slot's work ended: deliver its outcome unless the deadline already failed the task."""
        if self.deadlines.settle(job):
            self._deliver(job.task_id, outcome, job.trace)

    def _expired(self, job: Job, slot: Slot) -> None:
        """``job`` ran past its limit: fail it with the reason, abandon its slot, start a fresh one."""
        seconds, kind = job.limit or (0.0, "hard")
        error_type = SoftTimeLimitExceeded if kind == "soft" else TimeLimitExceeded
        workload = job.request.get("workload", job.function)
        error = error_type(
            f"{workload} ran past its {kind} time limit of {seconds:g} s in subinterpreter slot {slot.index}: "
            "the slot got a fresh interpreter (a running subinterpreter cannot be stopped; the old one "
            "finishes its work on an abandoned thread, then is destroyed)"
        )
        slot.abandoned.set()
        with self._lock:
            self.abandoned = [s for s in self.abandoned if s.thread.is_alive()] + [slot]
            self.abandoned_total += 1
            if not self._stopping and slot in self.slots:
                fresh = Slot(self, slot.index)
                self.slots[self.slots.index(slot)] = fresh
                fresh.thread.start()
        logger.warning(
            "interpreters pool: slot %s abandoned with task %s still running in it (%s so far)",
            slot.index,
            job.task_id,
            self.abandoned_total,
        )
        self._deliver(job.task_id, offload.Outcome(error=error), job.trace)

    def on_stop(self) -> None:
        """Warm stop: queued tasks are dropped unacknowledged (redelivered); running ones finish (or expire)."""
        with self._lock:
            self._stopping = True
            slots = list(self.slots)
        while True:
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for _ in slots:
            self.jobs.put(None)
        for slot in slots:
            while slot.thread.is_alive() and not slot.abandoned.is_set():
                slot.thread.join(timeout=0.2)
        self.deadlines.stop()
        self._tracers.shutdown(wait=True)
        super().on_stop()

    def _get_info(self) -> dict[str, Any]:
        info = super()._get_info()
        with self._lock:
            running_abandoned = sum(1 for s in self.abandoned if s.thread.is_alive())
            info.update(
                {
                    "max-concurrency": self.limit,
                    "interpreters": len(self.slots),
                    "abandoned": self.abandoned_total,
                    "abandoned-running": running_abandoned,
                }
            )
        return info
