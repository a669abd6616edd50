"""A user's task in the producer: ``--task package.module:function [--args JSON] [--kwargs JSON]``.

The producer applies the worker's own checks (``worker/user_call.py``) before starting anything, so a
module ``LAB_TASK_MODULES`` does not allow, one that does not import here, a missing or ``async def``
function, or bad JSON is one line and a non-zero exit. It then adds the task to the catalogue as a
workload named by its function (tables and records read ``pkg.mod:fn``), run through ``lab.user``;
the probe (``producer/measure/probe.py``) later gives it its measured class.
"""

from __future__ import annotations

import json
from typing import Any

from config import catalogue
from config.settings import LabSettings
from producer.errors import BadInput
from producer.measure.figure_models import UserTaskInfo
from worker import user_call
from worker.task_args import BadTaskArgs, WorkloadArgs, check_call


def parse_json(text: str | None, option: str, default: Any) -> Any:
    """The value of a JSON option (``default`` when not given); one line naming the option when it is not JSON."""
    if text is None or not text.strip():
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInput(f"{option} is not JSON: {error}") from None


def user_task(spec: str, args_json: str | None, kwargs_json: str | None, settings: LabSettings) -> WorkloadArgs:
    """Check a user's task as the worker will, import it here, and add it to the catalogue; its arguments.

    Every refusal is :class:`~producer.errors.BadInput` (one line, exit 2), raised before any worker starts.
    """
    call_args = parse_json(args_json, "--args", [])
    call_kwargs = parse_json(kwargs_json, "--kwargs", {})
    try:
        ref = user_call.parse(spec)
        user_call.check_allowed(ref, settings)
        call_args, call_kwargs = check_call(call_args, call_kwargs, settings)
        target = user_call.resolve(ref.spec, settings)
    except BadTaskArgs as error:
        hint = " (is its directory on PYTHONPATH?)" if "cannot import" in str(error) else ""
        raise BadInput(f"--task: {error}{hint}") from None
    catalogue.add_workload(user_call.workload_for(ref.spec, target))
    return WorkloadArgs(ref.spec, 0, "", ref.spec, tuple(call_args), call_kwargs)


def args_of(task: UserTaskInfo) -> WorkloadArgs:
    """A recorded user task's call, as a batch sends it (the task must be in the catalogue: :func:`user_task`)."""
    return WorkloadArgs(task.function, 0, "", task.function, tuple(task.call_args), dict(task.call_kwargs))


def task_info(args: WorkloadArgs) -> UserTaskInfo | None:
    """What a record says about a user's task (None for a catalogue workload)."""
    if not args.function:
        return None
    return UserTaskInfo(function=args.function, call_args=list(args.call_args), call_kwargs=dict(args.call_kwargs))


def usable_pools(args: WorkloadArgs, pools: list[str], *, chosen: bool) -> list[str]:
    """The pools that can run the task: default ones that cannot are left out; a chosen one is one line (exit 2).

    An ``async def`` function runs only on a pool with an event loop, a synchronous one only elsewhere
    (the catalogue's ``Pool.refuses``; compare leaves out the in-process baselines that cannot run it).
    """
    entry = catalogue.workload(args.workload)
    usable, reasons = [], []
    for name in pools:
        pool = catalogue.find_pool(name)
        reason = pool.refuses(entry) if pool is not None else None
        if reason and chosen:
            raise BadInput(f"--task: {reason}")
        if reason:
            reasons.append(reason)
        else:
            usable.append(name)
    if not usable:
        raise BadInput(f"--task: {reasons[0] if reasons else 'no pool to run it on'}")
    return usable
