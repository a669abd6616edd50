"""Test helpers: start real Celery workers and the latency target as subprocesses, stop them by PID."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from producer.processes import children as processes
from producer.processes import roles
from producer.processes.children import Child
from producer.processes.fleet import celery_hostname, wait_ready

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "test-artifacts" / "logs"


def child_env(**extra: str) -> dict[str, str]:
    """The test session's environment (LAB_* point at the private Redis) plus ``extra``."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def running_worker(app: Any, pool: str, concurrency: int, queue: str, *, name: str | None = None,
                   extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                   python: str | None = None) -> Iterator[tuple[Child, str]]:
    """A real Celery worker subprocess, ready (answers ping) on entry and stopped by PID on exit."""
    base = name or f"{pool}-{uuid.uuid4().hex[:6]}"
    # The worker's own LAB_CELERY_MODE picks its program (stock: `celery`; lab: worker/fast_start.py).
    mode = "stock" if (env or os.environ).get("LAB_CELERY_MODE") == "stock" else "lab"
    command = roles.worker_command(pool, concurrency, queue, base, mode) + (extra_args or [])
    if python:
        command[0] = python
    hostname = celery_hostname(base)
    child = processes.spawn(f"worker-{base}", command, LOG_DIR / f"{base}.log", env or child_env())
    try:
        wait_ready(app, [hostname], [child], 60.0)
        yield child, hostname
    finally:
        processes.stop(child, grace_s=15)


@contextlib.contextmanager
def running_target(port: int) -> Iterator[Child]:
    """The latency target on 127.0.0.1:``port``, answering /healthz on entry; stopped by PID on exit."""
    with processes.running_service("target", processes.latency_target_command(port),
                                   LOG_DIR / f"target-{port}.log", child_env(),
                                   f"http://127.0.0.1:{port}/healthz") as child:
        yield child
