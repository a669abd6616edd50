"""The Celery app: configured from ``config/`` and nothing else."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_init

from config.celery_config import build_celery_config
from config.settings import get_settings
from worker import message_guard, restore_guard, runtime

restore_guard.install()  # survive a Redis restart while holding unacked tasks (see worker/restore_guard.py)
message_guard.install()  # a malformed queue entry is rejected and logged, not fatal (worker/message_guard.py)
app = Celery("lab")
app.config_from_object(build_celery_config(get_settings()))
app.autodiscover_tasks(["worker"], related_name="tasks", force=True)


@worker_init.connect
def _record_pool(sender: Any = None, **_: Any) -> None:
    label = get_settings().pool_label
    runtime.set_pool_name(label or runtime.pool_name_of(getattr(sender, "pool_cls", "unknown")))
