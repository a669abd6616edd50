"""The one Celery task (``lab.user``) that runs a user's function: ``--task package.module:function``.

Its kwargs are ``{function, args, kwargs, enqueued}``. Everything a refusal needs is checked in the
task, so a refused message fails *that* task with a one-line reason and the worker keeps serving:
the shape of the name, ``LAB_TASK_MODULES`` (before any import), the JSON arguments and their cap,
the module and the function (imported on first use, see ``worker/user_call.py``), and whether this
worker's pool can run it (an ``async def`` function needs a pool that runs coroutines: the catalogue's
``Pool.refuses``). The result is the function's return value inside the timed result every lab task
returns; one that is not strict JSON or is over ``LAB_MAX_RESULT_BYTES`` fails the task with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config import catalogue
from config.settings import get_settings
from worker import user_call
from worker.pools import offload
from worker.runtime import current_pool_name
from worker.task_args import WorkloadRefused, check_call, check_enqueued
from worker.task_base import WorkloadTask


def refusal(entry: catalogue.Workload, pool: str) -> str | None:
    """Why ``pool`` (a catalogue name, or the worker's pool class) cannot run ``entry``; None when it can."""
    found = catalogue.find_pool(pool)
    if found is not None:
        return found.refuses(entry)
    if entry.coroutine:
        return f"{entry.name} is async def: it runs on a pool that runs coroutines, not on {pool}"
    return None


class UserTask(WorkloadTask):
    """Runs a user's function by name, from the modules ``LAB_TASK_MODULES`` allows."""

    def _prepared(self, kwargs: dict[str, Any]) -> tuple[Callable[..., Any], offload.CallSpec]:
        """The function and its checked call; :class:`~worker.task_args.BadTaskArgs` with a one-line reason."""
        settings = get_settings()
        ref = user_call.parse(kwargs.get("function"))
        user_call.check_allowed(ref, settings)  # by name, before anything is imported
        args, call_kwargs = check_call(kwargs.get("args", []), kwargs.get("kwargs", {}), settings)
        stamp = check_enqueued(kwargs.get("enqueued"))
        target = user_call.resolve(ref.spec, settings)
        reason = refusal(user_call.workload_for(ref.spec, target), current_pool_name())
        if reason:
            raise WorkloadRefused(reason)  # as a catalogue workload on the wrong pool
        return target, offload.CallSpec(ref.spec, ref.spec, tuple(args), call_kwargs, stamp)

    def call_spec(self, kwargs: dict[str, Any]) -> offload.CallSpec:
        """What a pool that runs work elsewhere must call (worker/pools/offload.py): checked, no Celery in it."""
        return self._prepared(kwargs)[1]

    def run_user(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Check, run the function timed (or take the outcome a custom pool stored), check its result."""
        done = offload.take(self.request.id)
        if done is not None:
            result = dict(done.unwrap())
        else:
            target, spec = self._prepared(kwargs)
            result = self.run_timed(spec.workload, lambda: target(*spec.args, **spec.kwargs), spec.enqueued)
        user_call.check_result(str(result.get("workload", "")), result.get("output"), get_settings())
        return result


def register(app: Any, limits: dict[str, Any]) -> Any:
    """Register ``lab.user`` on ``app`` with the CPU time limits (a user's function has no other bound)."""

    def run(
        self: UserTask,
        function: str = "",
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        enqueued: float | None = None,
    ) -> dict[str, Any]:
        call = {"args": [] if args is None else args, "kwargs": {} if kwargs is None else kwargs}
        return self.run_user({"function": function, **call, "enqueued": enqueued})

    run.__doc__ = "a user's function, from the modules LAB_TASK_MODULES allows"
    return app.task(name=user_call.USER_TASK, bind=True, base=UserTask, **limits)(run)
