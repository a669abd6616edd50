"""The base class of every lab task (Celery's own seam: ``base=`` on ``app.task``).

One place for what every workload task does around its pure function: check the arguments against
the catalogue's bounds, arm the soft-deadline backstop (``worker/soft_deadline.py``), time the run
(wall, thread CPU, where it ran) and turn a soft time limit into a failure reason a person can read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from config import catalogue
from config.settings import get_settings
from worker.pools import offload
from worker.runtime import current_pool_name, timed_run
from worker.soft_deadline import soft_deadline
from worker.task_args import WorkloadArgs, WorkloadRefused, check_args, check_enqueued


class WorkloadTask(Task):
    """A Celery task that runs one catalogue workload; ``workload`` is set per registered task."""

    #: The catalogue name of the workload this task runs.
    workload = ""

    def call_spec(self, kwargs: dict[str, Any]) -> offload.CallSpec:
        """What a pool that runs work elsewhere (worker/pools/offload.py) must call: checked, no Celery in it.

        Raises :class:`~worker.task_args.BadTaskArgs` (the pool stores it as the task's failure).
        """
        settings = get_settings()
        entry = catalogue.workload(self.workload)
        args, stamp = self._checked(
            entry, kwargs.get("size", entry.default_size), kwargs.get("url", ""), kwargs.get("enqueued")
        )
        values: dict[str, Any] = {"size": args.size, "url": args.url, "http_timeout_s": settings.http_timeout_s}
        return offload.CallSpec(entry.name, entry.function, tuple(values[n] for n in entry.arguments), {}, stamp)

    @staticmethod
    def _checked(entry: catalogue.Workload, size: int, url: str, enqueued: object) -> tuple[WorkloadArgs, float | None]:
        settings = get_settings()
        if entry.takes_url and not url:
            url = settings.effective_target_url
        return check_args(WorkloadArgs(entry.name, size, url), settings), check_enqueued(enqueued)

    def run_workload(self, size: int, url: str, enqueued: float | None) -> dict[str, Any]:
        """Check the arguments, run the workload under the soft deadline, return its timed result.

        Under a pool that ran the work elsewhere (worker/pools/offload.py), return that outcome instead.
        """
        done = offload.take(self.request.id)
        if done is not None:
            return dict(done.unwrap())
        settings = get_settings()
        entry = catalogue.workload(self.workload)
        if entry.coroutine:
            raise WorkloadRefused(_not_on_a_loop(entry))
        args, stamp = self._checked(entry, size, url, enqueued)
        return self.run_timed(entry.name, lambda: entry.call(args.size, args.url, settings), stamp)

    def run_timed(self, name: str, call: Callable[[], Any], enqueued: float | None) -> dict[str, Any]:
        """``call`` under the soft deadline, timed as every result is (``timed_run``); a soft limit reads clearly."""
        try:
            with soft_deadline(self.soft_time_limit, current_pool_name()):
                return timed_run(call, workload=name, hostname=self.request.hostname or "", enqueued=enqueued)
        except SoftTimeLimitExceeded:
            limit = (self.request.timelimit or (None, None))[1] or self.soft_time_limit
            raise SoftTimeLimitExceeded(
                f"{name} ran past its soft time limit of {limit} s (LAB_CPU_SOFT_TIME_LIMIT_S)"
            ) from None


def _not_on_a_loop(entry: catalogue.Workload) -> str:
    """Why an ``async def`` workload reached a synchronous run: the catalogue's reason this worker's pool refuses it."""
    name = current_pool_name()
    pool = catalogue.POOLS.get(name)
    reason = pool.refuses(entry) if pool is not None else None
    return reason or f"{entry.name} is async def and this worker ({name}) ran it without an event loop"
