"""One Celery task per catalogue workload (``lab.<name>``), a thin call into :class:`WorkloadTask`; and ``lab.user``."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from config import catalogue
from config.settings import get_settings
from worker import execution_log, user_task
from worker.app import app
from worker.runtime import set_per_task_logs
from worker.task_args import USER_TASK as USER_TASK_NAME
from worker.task_base import WorkloadTask

_settings = get_settings()
execution_log.install(_settings)
set_per_task_logs(_settings.task_log)  # before the consumer and the pool start (prefork children inherit it)


#: The CPU soft/hard time limits (``LAB_CPU_*_TIME_LIMIT_S``), for the workloads they apply to and user tasks.
CPU_LIMITS: dict[str, Any] = {
    "soft_time_limit": _settings.cpu_soft_time_limit_s,
    "time_limit": _settings.cpu_hard_time_limit_s,
}


def register(entry: catalogue.Workload, target: Celery = app) -> Task:
    """Register on ``target`` the task that runs ``entry``: its name, base class, and the CPU time limits."""
    limits: dict[str, Any] = CPU_LIMITS if entry.time_limited else {}

    def run(
        self: WorkloadTask, size: int = entry.default_size, url: str = "", enqueued: float | None = None
    ) -> dict[str, Any]:
        return self.run_workload(size, url, enqueued)

    run.__doc__ = entry.summary
    return target.task(name=entry.task_name, bind=True, base=WorkloadTask, workload=entry.name, **limits)(run)


def register_all(target: Celery) -> dict[str, Task]:
    """Every lab task on ``target``: one per catalogue workload, and ``lab.user`` (a user's function by name,
    from the modules ``LAB_TASK_MODULES`` allows)."""
    tasks = {
        name: register(entry, target)
        for name, entry in catalogue.WORKLOADS.items()
        if entry.task_name != USER_TASK_NAME
    }
    return {**tasks, USER_TASK_NAME: user_task.register(target, CPU_LIMITS)}


TASKS: dict[str, Task] = register_all(app)
