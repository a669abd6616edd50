"""Test helpers: start real Celery workers and the latency target as subprocesses, stop them by PID."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from producer import processes, roles
from producer.processes import Child

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "test-artifacts" / "logs"


def child_env(**extra: str) -> dict[str, str]:
    """The test session's environment (LAB_* point at the private Redis) plus ``extra``."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_ping(app: Any, name: str, timeout_s: float = 60.0, child: Child | None = None) -> None:
    """Block until the worker ``name`` answers ping (fail fast if its process died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=[name], timeout=0.5) or []
        if any(name in reply for reply in replies):
            return
        if child is not None and not processes.is_running(child):
            raise RuntimeError(f"worker {name} exited; see {child.log}")
    raise TimeoutError(f"worker {name} did not answer ping within {timeout_s} s")


@contextlib.contextmanager
def running_worker(app: Any, pool: str, concurrency: int, queue: str, *, name: str | None = None,
                   extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                   python: str | None = None) -> Iterator[tuple[Child, str]]:
    """A real Celery worker subprocess, ready (answers ping) on entry and stopped by PID on exit."""
    base = name or f"{pool}-{uuid.uuid4().hex[:6]}"
    command = roles.worker_command(pool, concurrency, queue, base) + (extra_args or [])
    if python:
        command[0] = python
    hostname = command[command.index("-n") + 1].replace("%h", _celery_hostname())
    child = processes.spawn(f"worker-{base}", command, LOG_DIR / f"{base}.log", env or child_env())
    try:
        wait_for_ping(app, hostname, child=child)
        yield child, hostname
    finally:
        processes.stop(child, grace_s=15)


def _celery_hostname() -> str:
    import socket

    return socket.gethostname()


@contextlib.contextmanager
def running_target(port: int) -> Iterator[Child]:
    """The latency target on 127.0.0.1:``port``, answering /healthz on entry; stopped by PID on exit."""
    with processes.running_service("target", processes.latency_target_command(port),
                                   LOG_DIR / f"target-{port}.log", child_env(),
                                   f"http://127.0.0.1:{port}/healthz") as child:
        yield child
