"""Test helpers: real Celery workers and the latency target as subprocesses (the lab's own process API)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from producer.processes import fleet
from producer.processes.children import Child

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
def running_worker(
    app: Any,
    pool: str,
    concurrency: int,
    queue: str,
    *,
    name: str | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    python: str | None = None,
) -> Iterator[tuple[Child, str]]:
    """A real Celery worker subprocess (``fleet.spawn_workers``), answering ping on entry, stopped by PID on exit.

    The worker's own ``LAB_CELERY_MODE`` (in ``env``) picks its program (stock: ``celery``; lab: fast_start).
    """
    from config.settings import get_settings

    base = name or f"{pool}-{uuid.uuid4().hex[:6]}"
    with fleet.running_workers(
        app,
        get_settings(),
        pool,
        concurrency,
        queue,
        names=[base],
        extra_args=extra_args or [],
        env=env or child_env(),
        python=python,
        log_dir=LOG_DIR,
    ) as workers:
        yield workers.children[0], workers.nodes[0]


@contextlib.contextmanager
def running_target(port: int) -> Iterator[Child]:
    """The latency target on 127.0.0.1:``port``, answering /healthz on entry; stopped by PID on exit."""
    with fleet.local_target(port, LOG_DIR / f"target-{port}.log", child_env()) as child:
        yield child


def producer(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m producer ARGS` as a user would, with ``env`` over the tests' environment; capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "producer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(**env),
        cwd=ROOT,
    )
