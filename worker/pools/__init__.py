"""Celery pools of the lab's own (selected with ``-P custom`` and ``CELERY_CUSTOM_WORKER_POOL``)."""
