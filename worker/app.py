"""The Celery app: configured from ``config/`` and nothing else."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import celeryd_init, worker_init

from config import catalogue
from config.celery_config import build_celery_config
from config.celery_mode import REDIS_ONLY_NOTE, untested_versions
from config.settings import get_settings
from worker import runtime

catalogue.load_extensions(get_settings().catalogue_extensions)  # before the tasks are registered
app = Celery("lab")
app.config_from_object(build_celery_config(get_settings()))
app.autodiscover_tasks(["worker"], related_name="tasks", force=True)


@celeryd_init.connect
def _refuse_untested_lab_mode(sender: Any = None, **_: Any) -> None:
    """A lab-mode worker on untested Celery/kombu minors exits with one line, before it connects."""
    settings = get_settings()
    problem = untested_versions(settings) if settings.celery_mode == "lab" else None
    if problem:
        print(f"worker: error: {problem}", file=sys.stderr)
        raise SystemExit(2)  # SystemExit passes Celery's signal dispatch, which logs and drops Exceptions
    if settings.celery_mode == "lab" and settings.broker_is_amqp:
        print(f"worker: note: {REDIS_ONLY_NOTE}", file=sys.stderr)


@celeryd_init.connect
def _refuse_gil_on(sender: Any = None, options: dict[str, Any] | None = None, **_: Any) -> None:
    """A worker of a pool that requires the GIL off (threads_nogil) exits with one line when it is on."""
    label = get_settings().pool_label or runtime.pool_name_of((options or {}).get("pool_cls", ""))
    problem = runtime.gil_problem(catalogue.find_pool(label))
    if problem:
        print(f"worker: error: {problem}", file=sys.stderr)
        raise SystemExit(2)


@worker_init.connect
def _record_pool(sender: Any = None, **_: Any) -> None:
    label = get_settings().pool_label
    runtime.set_pool_name(label or runtime.pool_name_of(getattr(sender, "pool_cls", "unknown")))
