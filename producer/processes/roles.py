"""The command line of every process role in the lab, defined once.

The local stack runs these; the compose file runs the same commands (a test keeps the two in step).
The ``*_args`` functions give the arguments after the program (``celery`` or ``python``), which is
``python -m celery`` / ``sys.executable`` locally and the ``celery`` script / ``python`` in the image.
"""

from __future__ import annotations

import sys

from config import catalogue
from config.settings import CeleryMode, LabSettings, get_settings

#: The Celery program locally (the image runs its ``celery`` script); ``CELERY`` adds the app.
CELERY_PROGRAM = [sys.executable, "-m", "celery"]
CELERY_APP = ["-A", "worker.app"]
CELERY = [*CELERY_PROGRAM, *CELERY_APP]
#: Stock mode: the worker starts as Celery users start it, through the ``celery`` program.
STOCK_WORKER_PROGRAM = CELERY_PROGRAM
#: Lab mode: through Celery's worker command alone (worker/fast_start.py: ~0.12 s less to ready);
#: the image runs the ``celery`` script with the same arguments in either mode.
LAB_WORKER_PROGRAM = [sys.executable, "-m", "worker.fast_start"]
#: Fast start: no mingle (≈1 s of the 1.45 s spawn-to-ready) and no gossip; -E sends task events.
WORKER_START_OPTIONS = ["-E", "--without-mingle", "--without-gossip", "-l", "INFO"]


def worker_args(pool: str, concurrency: int | str, queue: str, name: str) -> list[str]:
    """Arguments after ``celery``: a worker of ``pool``, ``concurrency`` slots, on ``queue``, named ``name@%h``."""
    return [
        *CELERY_APP,
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        queue,
        "-n",
        f"{name}@%h",
        *WORKER_START_OPTIONS,
    ]


def worker_program(mode: CeleryMode) -> list[str]:
    """The program a local worker of ``mode`` starts with (``LAB_CELERY_MODE``)."""
    return LAB_WORKER_PROGRAM if mode == "lab" else STOCK_WORKER_PROGRAM


def worker_command(pool: str, concurrency: int, queue: str, name: str, mode: CeleryMode | None = None) -> list[str]:
    """A Celery worker of ``pool`` with ``concurrency`` slots consuming ``queue``, named ``name@host``.

    ``mode`` defaults to this process's ``LAB_CELERY_MODE``, which the worker inherits.
    """
    return [*worker_program(mode or get_settings().celery_mode), *worker_args(pool, concurrency, queue, name)]


def stack_workers(settings: LabSettings) -> dict[str, tuple[str, int]]:
    """The stack's two workers by node name: (pool, slots). The local stack and compose run these.

    cpu: prefork, one process per core (``LAB_CPU_CONCURRENCY``); io: threads, 64 by default
    (``LAB_IO_CONCURRENCY``).
    """
    return {"cpu": ("prefork", settings.cpu_workers), "io": ("threads", settings.io_concurrency)}


def stack_worker_args(settings: LabSettings, name: str) -> list[str]:
    """The stack's worker ``name`` (cpu or io) after ``celery``, on its pool's queue."""
    pool, slots = stack_workers(settings)[name]
    return worker_args(pool, slots, catalogue.pool(pool).queue, name)


def cpu_worker_args(settings: LabSettings) -> list[str]:
    """The CPU worker after ``celery`` (compose's worker-cpu)."""
    return stack_worker_args(settings, "cpu")


def io_worker_args(settings: LabSettings) -> list[str]:
    """The I/O worker after ``celery`` (compose's worker-io)."""
    return stack_worker_args(settings, "io")


def flower_args(settings: LabSettings) -> list[str]:
    """Flower after ``celery``; credentials come from ``FLOWER_BASIC_AUTH`` in its environment."""
    return [*CELERY_APP, "flower", f"--address={settings.flower_host}", f"--port={settings.flower_port}"]


def flower_broker_api(settings: LabSettings) -> str:
    """RabbitMQ's management API with the broker's credentials, for Flower's broker tab (empty without one)."""
    if not (settings.broker_is_amqp and settings.rabbitmq_api_url):
        return ""
    from urllib.parse import quote, urlsplit

    from kombu import Connection

    broker = Connection(settings.broker_url)
    api = urlsplit(settings.rabbitmq_api_url.rstrip("/") + "/")
    auth = f"{quote(broker.userid or 'guest', safe='')}:{quote(broker.password or 'guest', safe='')}@"
    path = api.path if api.path.endswith("/api/") else api.path + "api/"
    return api._replace(netloc=auth + api.netloc, path=path).geturl()


def target_args(settings: LabSettings) -> list[str]:
    """The latency target service after ``python``."""
    return target_args_on(settings.target_host, settings.target_port)


def target_args_on(host: str, port: int) -> list[str]:
    """The latency target (``worker/latency_target.py``) on ``host:port``, after ``python``."""
    return ["-m", "worker.latency_target", "--host", host, "--port", str(port)]


def flower_command(settings: LabSettings) -> list[str]:
    """Flower on the same broker; credentials come from ``FLOWER_BASIC_AUTH`` in its environment."""
    return [*CELERY_PROGRAM, *flower_args(settings)]


def target_command(settings: LabSettings) -> list[str]:
    """The latency target service."""
    return [sys.executable, *target_args(settings)]
