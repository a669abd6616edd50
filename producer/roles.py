"""The command line of every process role in the lab, defined once.

The local stack runs these; the compose file runs the same commands (a test keeps the two in step).
"""

from __future__ import annotations

import sys

from config.settings import LabSettings

CELERY = [sys.executable, "-m", "celery", "-A", "worker.app"]
#: Fast start: no mingle (≈1 s of the 1.45 s spawn-to-ready) and no gossip; -E sends task events.
WORKER_START_OPTIONS = ["-E", "--without-mingle", "--without-gossip", "-l", "INFO"]


def worker_command(pool: str, concurrency: int, queue: str, name: str) -> list[str]:
    """A Celery worker of ``pool`` with ``concurrency`` slots consuming ``queue``, named ``name@host``."""
    return [*CELERY, "worker", "-P", pool, "-c", str(concurrency), "-Q", queue, "-n", f"{name}@%h",
            *WORKER_START_OPTIONS]


def cpu_worker_command(settings: LabSettings) -> list[str]:
    """The CPU worker: prefork, one process per core."""
    return worker_command("prefork", settings.cpu_workers, settings.cpu_queue, "cpu")


def io_worker_command(settings: LabSettings) -> list[str]:
    """The I/O worker: threads pool, 64 threads by default."""
    return worker_command("threads", settings.io_concurrency, settings.io_queue, "io")


def flower_command(settings: LabSettings) -> list[str]:
    """Flower on the same broker; credentials come from ``FLOWER_BASIC_AUTH`` in its environment."""
    return [*CELERY, "flower", f"--address={settings.flower_host}", f"--port={settings.flower_port}"]


def target_command(settings: LabSettings) -> list[str]:
    """The latency target service."""
    return [sys.executable, "-m", "worker.latency_target", "--host", settings.target_host,
            "--port", str(settings.target_port)]
