"""A lab Celery app for other settings than the environment's: the same tasks and configuration, another broker.

``worker.app.app`` is configured from the environment (``LAB_BROKER_URL``); a measurement over two
brokers (``--broker redis,rabbitmq``) publishes to the other one through an app of its own, built here
from the same :func:`~config.celery_config.build_celery_config`, with the same tasks registered, so its
messages are the ones ``send_task`` would publish on that broker.
"""

from __future__ import annotations

from celery import Celery

from config.celery_config import build_celery_config
from config.settings import LabSettings


def app_for(settings: LabSettings) -> Celery:
    """A Celery app of the lab configured from ``settings`` (not the current app), with every lab task."""
    from worker import tasks  # registers them on worker.app.app first (the worker's own app)

    other = Celery("lab", set_as_current=False)
    other.config_from_object(build_celery_config(settings))
    tasks.register_all(other)
    return other
