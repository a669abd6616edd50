"""Who consumes a queue now: each node's slots, its main PID (when local) and which Celery mode it runs.

A worker's mode is read from its own configuration (``inspect().conf()``): the lab mode names
``worker_consumer`` (config/celery_mode.py), stock mode leaves Celery's default. A node that does not
answer ``conf`` has an unknown mode (None) and is never taken for either.
"""

from __future__ import annotations

import socket
from typing import Any, NamedTuple

from celery import Celery

from config.celery_mode import LAB_CONSUMER


class Consumer(NamedTuple):
    """One node consuming a queue: max concurrency, main PID (0: not on this host), mode (None: unknown)."""

    concurrency: int
    pid: int
    mode: str | None


def mode_of(conf: dict[str, Any] | None) -> str | None:
    """``lab`` when the worker's configuration names the lab's consumer, ``stock`` when it names none, else None."""
    if not isinstance(conf, dict):
        return None
    consumer = conf.get("worker_consumer")
    if consumer in (None, "celery.worker.consumer:Consumer"):
        return "stock"
    return "lab" if consumer == LAB_CONSUMER else None


def consumers(app: Celery, queues: list[str], timeout_s: float = 1.0) -> dict[str, dict[str, Consumer]]:
    """Per queue, the nodes consuming it now: node → :class:`Consumer`, from ``inspect``.

    One broadcast for all queues (a broadcast waits its whole timeout), then ``stats`` and ``conf``
    from those nodes only.
    """
    listed = app.control.inspect(timeout=timeout_s).active_queues() or {}
    nodes_of = {
        queue: [node for node, qs in listed.items() if any(q.get("name") == queue for q in qs)] for queue in queues
    }
    wanted = sorted({node for nodes in nodes_of.values() for node in nodes})
    inspect = app.control.inspect(destination=wanted, timeout=timeout_s)
    stats = (inspect.stats() or {}) if wanted else {}
    confs = (inspect.conf() or {}) if wanted else {}
    found: dict[str, dict[str, Consumer]] = {}
    for queue, nodes in nodes_of.items():
        found[queue] = {}
        for node in nodes:
            info = stats.get(node, {})
            local = node.rsplit("@", 1)[-1] == socket.gethostname()  # a PID from another host means nothing here
            found[queue][node] = Consumer(
                int(info.get("pool", {}).get("max-concurrency", 0) or 0),
                int(info.get("pid", 0) or 0) if local else 0,
                mode_of(confs.get(node)),
            )
    return found
