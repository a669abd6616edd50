"""Fault-test helpers: a dedicated redis-server per module, an app and workers pointed at it, and counts.

Fault tests never share the session Redis: a worker with a short visibility timeout would restore
*other* workers' unacknowledged messages (Redis keeps one ``unacked`` hash per database), and a
restarted Redis would break every other test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import redis
from celery import Celery

from config.celery_config import build_celery_config
from config.settings import LabSettings
from producer.batch.collect import Collected, collect_results
from producer.batch.submit import Batch
from producer.processes.redis_server import RedisProcess, free_port, start_redis_server
from tests.helpers import ROOT, child_env, running_worker
from worker.execution_log import ExecutionTally, read_events, tally

#: Every measured fault outcome is appended here (one JSON object a line) for the README's table.
COUNTS_FILE = ROOT / "test-artifacts" / "fault-counts.jsonl"
#: The two Celeries a fault test can run (config/celery_mode.py): the lab's classes, and plain Celery and kombu.
MODES = ("lab", "stock")


@dataclass
class FaultRedis:
    """A private redis-server (optionally with AOF and a password) that a test may kill and restart."""

    data_dir: Path
    port: int
    password: str = ""
    appendonly: bool = False
    process: RedisProcess | None = None

    def url(self, db: int) -> str:
        """``redis://[:password@]127.0.0.1:port/db``."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start (or restart) the server on the same port and data directory (AOF is replayed)."""
        self.process = start_redis_server(
            self.port, self.data_dir, appendonly=self.appendonly, password=self.password, wait_s=30
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server by its PID (SIGKILL = crash, SIGTERM = clean shutdown) and wait for it."""
        if self.process is None:
            return
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(self.process.pid)
            proc.send_signal(sig)
            proc.wait(30)
        self.process = None


@contextlib.contextmanager
def fault_redis(data_dir: Path, *, appendonly: bool = False, password: str = "") -> Iterator[FaultRedis]:
    """A started :class:`FaultRedis`, stopped by PID on exit."""
    server = FaultRedis(data_dir, free_port(), password, appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fault_settings(server: FaultRedis, **overrides: Any) -> LabSettings:
    """Settings for ``server`` (broker db 0, results db 1) with the execution log on; lab mode unless overridden."""
    values: dict[str, Any] = {
        "broker_url": server.url(0),
        "result_backend": server.url(1),
        "execution_log": True,
        **overrides,
    }
    return LabSettings(**values)


def fault_app(settings: LabSettings) -> Celery:
    """A Celery app in the test process (producer side), configured exactly as the workers are."""
    app = Celery(f"faults-{uuid.uuid4().hex[:6]}", set_as_current=False)
    app.config_from_object(build_celery_config(settings))
    return app


def worker_env(settings: LabSettings, **extra: str) -> dict[str, str]:
    """The environment of a worker that must see ``settings`` (only the fields that differ matter)."""
    env = {
        f"LAB_{name.upper()}": str(value)
        for name, value in settings.model_dump().items()
        if isinstance(value, str | int | float | bool) and not isinstance(value, Path)
    }
    return child_env(**env, **extra)


@contextlib.contextmanager
def fault_worker(
    app: Celery, settings: LabSettings, pool: str, concurrency: int, queue: str, *, label: str, **extra_env: str
) -> Iterator[tuple[Any, str]]:
    """A real worker for ``settings``; its log file name is unique so tests can read their own lines."""
    name = f"{label}-{uuid.uuid4().hex[:6]}"
    with running_worker(app, pool, concurrency, queue, name=name, env=worker_env(settings, **extra_env)) as worker:
        yield worker


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after a generous deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def kill9(pid: int) -> None:
    """SIGKILL one process we started (or a pool child of one)."""
    os.kill(pid, signal.SIGKILL)


def started_events(client: redis.Redis, task_ids: list[str]) -> list[dict[str, Any]]:
    """``start`` events of the given tasks, oldest first."""
    wanted = set(task_ids)
    return [e for e in read_events(client) if e["event"] == "start" and e["id"] in wanted]


@dataclass
class FaultCounts:
    """What a fault test measured: each task counted once, plus the executions the workers recorded."""

    fault: str
    submitted: int
    completed: int
    failed: int
    lost: int
    duplicated: int
    rerun: int
    extra_executions: int
    republished: int = 0
    mode: str = "lab"
    broker: str = "redis"

    def line(self) -> str:
        """One line for the test log and the README."""
        return (
            f"[{self.mode}, {self.broker}] {self.fault}: submitted {self.submitted}, completed {self.completed}, "
            f"failed {self.failed}, lost {self.lost}, duplicated {self.duplicated}, re-run {self.rerun}, "
            f"re-published {self.republished}"
        )


def count_outcome(
    fault: str,
    batch: Batch | list[str],
    collected: Collected,
    backend: redis.Redis,
    republished: int = 0,
    mode: str = "lab",
    broker: str = "redis",
    **measured: Any,
) -> tuple[FaultCounts, ExecutionTally]:
    """Counts for a batch from its collected results and the execution log; recorded in ``COUNTS_FILE``.

    ``measured`` adds figures to the recorded line (e.g. how soon RabbitMQ requeued a dead worker's tasks).
    """
    task_ids = batch.task_ids if isinstance(batch, Batch) else batch
    executions = tally(read_events(backend), task_ids)
    counts = FaultCounts(
        fault,
        len(task_ids),
        len(collected.records),
        len(collected.failures),
        len(collected.lost),
        len(executions.duplicated),
        len(executions.rerun),
        executions.extra_executions,
        republished,
        mode,
        broker,
    )
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with COUNTS_FILE.open("a") as out:
        out.write(json.dumps({**asdict(counts), **measured, "lost_ids": collected.lost, "at": time.time()}) + "\n")
    print(counts.line(), measured or "")
    return counts, executions


def collect(
    backend: redis.Redis,
    broker: Any,
    task_ids: list[str],
    queue: str,
    timeout_s: float = 180,
    idle_grace_s: float = 20,
) -> Collected:
    """Collect with a generous deadline; the idle rule stays on so a truly lost task ends the wait."""
    return collect_results(
        backend, task_ids, timeout_s=timeout_s, broker=broker, queue=queue, idle_grace_s=idle_grace_s
    )
