"""The Celery configuration, built in one place from :class:`LabSettings`."""

from __future__ import annotations

from typing import Any

from kombu import Queue

from config import catalogue
from config.celery_mode import mode_config
from config.settings import LabSettings


def route_for(task_name: str) -> str:
    """Default queue of a task: its workload's default pool (config/catalogue.py); unknown names go nowhere."""
    return catalogue.pool(catalogue.workload_of_task(task_name).default_pool).queue


def _route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict:
    try:
        return {"queue": route_for(name)}
    except catalogue.UnknownName:
        return {}  # not a lab workload: Celery's default queue


def broker_transport_options(settings: LabSettings) -> dict[str, Any]:
    """kombu's transport options for the broker: Redis' visibility timeout and pool, or AMQP's confirms."""
    if settings.broker_is_amqp:
        # No ``confirm_publish`` here: py-amqp would then wait for each publish's confirm on the
        # connection it publishes on, and a threads worker's event dispatcher connection is written by
        # every pool thread: measured, a threads worker (-E) deadlocked after ~300 tasks with it, and ran
        # on without it. The producer confirms every task it publishes itself, a chunk at a time
        # (producer/batch/amqp_publish.py); a worker publishes only events and control replies.
        return {}
    # kombu sweeps for expired unacked messages only every interval × throttle seconds (10 × 10 by
    # default): a short visibility timeout would still wait ~100 s. Sweep every visibility/5 s (1..10 s).
    return {
        "visibility_timeout": settings.visibility_timeout_s,
        "unacked_restore_interval": max(1, min(10, settings.visibility_timeout_s // 5)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": settings.broker_connect_timeout_s,
        # kombu's default pool of 10: gevent greenlets acking at once ran out
        # ("Couldn't ack … MaxConnectionsError", then the worker stalled).
        "max_connections": settings.broker_max_connections,
    }


def lab_queues(settings: LabSettings) -> list[Queue]:
    """One durable queue per pool; on RabbitMQ of ``LAB_RABBITMQ_QUEUE_TYPE`` (classic or quorum)."""
    arguments = (
        {"x-queue-type": "quorum"} if settings.broker_is_amqp and settings.rabbitmq_queue_type == "quorum" else None
    )
    return [Queue(p.queue, durable=True, queue_arguments=arguments) for p in catalogue.POOLS.values()]


def build_celery_config(settings: LabSettings) -> dict[str, Any]:
    """Every Celery setting the lab uses; workers, producer and tests all take it from here."""
    visibility = {"visibility_timeout": settings.visibility_timeout_s}
    return {
        "broker_url": settings.broker_url,
        # The lab mode's transport and consumer (config/celery_mode.py); none of them in stock mode.
        **mode_config(settings),
        "result_backend": settings.result_backend,
        # JSON only: a pickle message pushed into a queue is rejected, never executed.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        # At-least-once: ack after the task ran; a task whose worker died goes back to the queue.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": settings.prefetch_multiplier,
        # Redis: Celery reads the visibility timeout from all three places (Celery #4984/#7924).
        "broker_transport_options": broker_transport_options(settings),
        # RabbitMQ: messages survive a broker restart (persistent, in durable queues); heartbeats find a
        # dead peer. A worker's unacknowledged messages go back to the queue when its connection closes.
        "task_default_delivery_mode": "persistent",
        # After a reconnect Celery lowers the prefetch count and raises it again from the ack path: on a
        # threads worker that is a blocking basic.qos from a pool thread, whose read races the event
        # loop's. Measured on RabbitMQ (tests/test_reliability_rabbitmq.py): "UnexpectedFrame", then the
        # worker consumed nothing more. Redis' basic.qos is local: the reduction stays on there.
        "worker_enable_prefetch_count_reduction": not settings.broker_is_amqp,
        "broker_heartbeat": settings.broker_heartbeat_s,
        "task_default_queue_type": settings.rabbitmq_queue_type,
        # Per-run queues (sweep's) are declared by Celery on first use: the same type as the lab's.
        "task_create_missing_queue_type": settings.rabbitmq_queue_type,
        "result_backend_transport_options": dict(visibility),
        "visibility_timeout": settings.visibility_timeout_s,
        "result_expires": settings.result_expires_s,
        # A task that finishes while Redis restarts waits to store its result instead of failing.
        "result_backend_always_retry": True,
        "result_backend_max_retries": 20,
        "result_extended": False,
        "redis_socket_connect_timeout": settings.broker_connect_timeout_s,
        "redis_retry_on_timeout": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": settings.broker_connect_timeout_s,
        "broker_channel_error_retry": True,
        # Events for Flower and `producer watch`.
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": settings.publish_retries,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2.0,
        },
        "task_queues": lab_queues(settings),
        "task_default_queue": catalogue.pool("threads").queue,
        "task_routes": (_route_task,),
        "task_soft_time_limit": None,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
