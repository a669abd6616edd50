"""An independent record of task executions, to count re-runs and duplicates under faults.

Off by default (``LAB_EXECUTION_LOG=1`` turns it on): the signal handlers are then not even
connected, so the hot path pays nothing. When on, every execution appends two small JSON events
(``start`` before the task body, its final state after) to one Redis list in the result backend,
written by the process that ran the task. The producer's own view (result keys) cannot show a task
that ran twice; this list can.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.settings import LabSettings

EXECUTIONS_KEY = "lab:executions"
_client: tuple[int, redis.Redis] | None = None
_settings: LabSettings | None = None


def install(settings: LabSettings) -> bool:
    """Connect the recording handlers if ``settings.execution_log`` is on; True if it is."""
    global _settings
    if not settings.execution_log:
        return False
    _settings = settings
    task_prerun.connect(_on_prerun, weak=False, dispatch_uid="lab.execution_log.prerun")
    task_postrun.connect(_on_postrun, weak=False, dispatch_uid="lab.execution_log.postrun")
    return True


def _redis() -> redis.Redis:
    """One client per process: a prefork child must not share its parent's sockets."""
    global _client
    if _client is None or _client[0] != os.getpid():
        assert _settings is not None
        # Retry through a broker restart (a few seconds): a missing event would under-count re-runs.
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=30)
        client = redis.Redis.from_url(
            _settings.result_backend,
            retry=retry,
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            socket_connect_timeout=_settings.broker_connect_timeout_s,
        )
        _client = (os.getpid(), client)
    return _client[1]


def _record(task_id: str | None, event: str) -> None:
    entry = {"id": task_id, "event": event, "pid": os.getpid(), "host": socket.gethostname(), "t": time.time()}
    _redis().rpush(EXECUTIONS_KEY, json.dumps(entry))


def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    _record(task_id, "start")


def _on_postrun(task_id: str | None = None, state: str | None = None, **_: Any) -> None:
    _record(task_id, str(state or "UNKNOWN"))


def read_events(client: redis.Redis) -> list[dict[str, Any]]:
    """Every recorded event, oldest first."""
    return [json.loads(raw) for raw in client.lrange(EXECUTIONS_KEY, 0, -1)]


@dataclass
class ExecutionTally:
    """How often each task of a batch started and succeeded, according to the workers themselves."""

    starts: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)

    @property
    def rerun(self) -> list[str]:
        """Tasks that started more than once (a redelivery after a fault)."""
        return sorted(task_id for task_id, n in self.starts.items() if n > 1)

    @property
    def duplicated(self) -> list[str]:
        """Tasks whose body ran to success more than once: the at-least-once cost."""
        return sorted(task_id for task_id, n in self.successes.items() if n > 1)

    @property
    def extra_executions(self) -> int:
        """Starts beyond the first, summed over all tasks."""
        return sum(n - 1 for n in self.starts.values() if n > 1)


def tally(events: list[dict[str, Any]], task_ids: list[str]) -> ExecutionTally:
    """Count starts and successes per task, for the tasks in ``task_ids`` only."""
    wanted = set(task_ids)
    result = ExecutionTally()
    for event in events:
        if event["id"] not in wanted:
            continue
        if event["event"] == "start":
            result.starts[event["id"]] += 1
        elif event["event"] == "SUCCESS":
            result.successes[event["id"]] += 1
    return result
