"""Starting and stopping workers: launches, readiness, stop by PID; the CPU time of local workers.

Which ``-P``, interpreter and environment a pool's worker gets comes from its catalogue entry
(``threads_nogil`` is the threads pool on the free-threaded interpreter; ``interpreters`` runs on the
default-build CPython 3.13); which Celery mode it runs, from ``LAB_CELERY_MODE`` in its environment.
Which workers a measurement reuses or starts per pool and mode: producer/processes/measured_workers.py.

:func:`spawn_workers` is the one way the lab starts workers: compare and sweep, the tests
(tests/helpers.py) and the benchmarks (through :func:`start_launches`); the stack's two workers are
launches from :func:`worker_launch` too, started and restarted by its supervisor.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.errors import BadInput, LabError
from producer.processes import children as processes
from producer.processes import roles
from producer.processes.children import Child, Launch
from producer.processes.interpreters import interpreter_for, missing_reason, pool_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PoolWorkers:
    """Who runs a pool's tasks: node names, total concurrency, and whether we started them."""

    pool: str
    queue: str
    nodes: list[str]
    concurrency: int
    started_here: bool
    children: list[Child] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    #: The Celery mode the workers run (``stock``/``lab``; None: not known).
    mode: str | None = None
    #: What was reused or started, and why (shown by compare).
    origin: str = ""


def measured_env(settings: LabSettings, mode: CeleryMode, **extra: str) -> dict[str, str]:
    """This process's environment for a measured worker of ``mode`` on ``settings``' broker (a ``--broker``
    side's own, not only the environment's), with ``extra`` on top."""
    return {**os.environ, **extra, "LAB_CELERY_MODE": mode, "LAB_BROKER_URL": settings.broker_url}


def celery_hostname(name: str) -> str:
    """The node name Celery gives ``-n name@%h``."""
    return f"{name}@{socket.gethostname()}"


def wait_ready(app: Celery, nodes: list[str], children: list[Child], timeout_s: float) -> None:
    """Block until every node answers ping; fail at once if one of our processes died."""
    deadline = time.monotonic() + timeout_s
    missing = set(nodes)
    while missing and time.monotonic() < deadline:
        for reply in app.control.ping(destination=sorted(missing), timeout=0.5) or []:
            missing -= set(reply)
        dead = [c for c in children if not processes.is_running(c)]
        if dead:
            raise LabError(f"worker {dead[0].role} exited at start; see {dead[0].log}")
    if missing:
        raise LabError(f"workers {', '.join(sorted(missing))} did not answer ping within {timeout_s:.0f} s")


def worker_command(
    pool: str, concurrency: int, queue: str, name: str, python: str | None = None, mode: CeleryMode | None = None
) -> list[str]:
    """The local worker's command line (``roles.worker_command``) for a catalogue pool, on ``python`` if given."""
    pool_args = catalogue.pool(pool).pool_option()[0] if pool in catalogue.POOLS else ["-P", pool]
    command = roles.worker_command(pool_args[1], concurrency, queue, name, mode)
    return [python or command[0], *command[1:]]


@dataclass(frozen=True)
class WorkerLaunch(Launch):
    """How to start one Celery worker process, and the node name it answers ``ping`` as."""

    node: str = ""


def worker_launch(
    settings: LabSettings,
    pool: str,
    concurrency: int,
    queue: str,
    name: str,
    *,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    log_dir: Path | None = None,
) -> WorkerLaunch:
    """One worker of ``pool`` (a catalogue name, or a bare ``-P`` value): its command, environment and log.

    The ``-P`` arguments, interpreter and environment come from the pool's catalogue entry; ``env``
    (default: this process's) is the base, and its ``LAB_CELERY_MODE`` picks the worker program.
    """
    entry = catalogue.POOLS.get(pool)
    python = python or (interpreter_for(entry, settings) if entry else sys.executable)
    if python is None:
        raise BadInput((missing_reason(entry, settings) if entry else None) or f"pool {pool}: no Python to run it")
    base = dict(os.environ if env is None else env)
    # The lab first, then the caller's PYTHONPATH: where a user's task module (``--task``) is found.
    path = os.pathsep.join(dict.fromkeys(p for p in (str(ROOT), *base.get("PYTHONPATH", "").split(os.pathsep)) if p))
    worker_env = {**base, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(pool_env(entry) if entry else {})}
    # The worker's own LAB_CELERY_MODE (from ``env``) picks its program.
    mode: CeleryMode = "stock" if base.get("LAB_CELERY_MODE", settings.celery_mode) == "stock" else "lab"
    command = [*worker_command(pool, concurrency, queue, name, python, mode), *extra_args]
    return WorkerLaunch(
        f"worker-{name}",
        command,
        worker_env,
        (log_dir or settings.state_dir / "logs") / f"{name}.log",
        celery_hostname(name),
    )


def start_launches(app: Celery, launches: Sequence[WorkerLaunch], timeout_s: float) -> list[Child]:
    """Start these workers and wait until all answer ``ping``; on any failure stop them all and raise."""
    started: list[Child] = []
    try:
        for launch in launches:
            started.append(launch.start())
        wait_ready(app, [launch.node for launch in launches], started, timeout_s)
    except BaseException:
        processes.stop_all(started)
        raise
    return started


def spawn_workers(
    app: Celery,
    settings: LabSettings,
    pool: str,
    concurrency: int,
    queue: str,
    *,
    count: int = 1,
    tag: str = "lab",
    names: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    log_dir: Path | None = None,
) -> PoolWorkers:
    """Start ``count`` worker processes of ``pool`` on ``queue`` and wait until all answer ping.

    The one way the lab starts workers (compare, sweep, tests, benchmarks); named ``names`` if given,
    else ``<tag>-<pool>-<run id>-<index>``. Stop them with :func:`stop_all`.
    """
    run_id = uuid.uuid4().hex[:6]
    names = list(names) or [f"{tag}-{pool}-{run_id}-{index}" for index in range(count)]
    launches = [
        worker_launch(
            settings, pool, concurrency, queue, name, extra_args=extra_args, env=env, python=python, log_dir=log_dir
        )
        for name in names
    ]
    children = start_launches(app, launches, settings.worker_ready_timeout_s)
    return PoolWorkers(
        pool,
        queue,
        [launch.node for launch in launches],
        concurrency * len(names),
        True,
        children,
        [c.pid for c in children],
    )


@contextlib.contextmanager
def running_workers(
    app: Celery, settings: LabSettings, pool: str, concurrency: int, queue: str, **options: Any
) -> Iterator[PoolWorkers]:
    """:func:`spawn_workers` (same options), stopped by PID on exit."""
    workers = spawn_workers(app, settings, pool, concurrency, queue, **options)
    try:
        yield workers
    finally:
        stop_all(workers.children)


def stop_all(children: list[Child]) -> None:
    """Stop every worker we started together (warm shutdown, then SIGKILL after 15 s), by PID."""
    processes.stop_all(children, grace_s=15)


@contextlib.contextmanager
def latency_target(settings: LabSettings) -> Iterator[bool]:
    """The latency target: the one that answers, else one started here (yields whether we started it)."""
    health = f"{settings.effective_target_url.rstrip('/')}/healthz"
    if processes.http_answers(health):
        yield False
        return
    if settings.target_host not in ("127.0.0.1", "localhost"):
        raise LabError(f"the latency target {settings.effective_target_url} does not answer")
    with processes.running_service(
        "target",
        roles.target_command(settings),
        settings.state_dir / "logs" / "target.log",
        {**os.environ, "PYTHONPATH": str(ROOT)},
        health,
    ):
        yield True


@contextlib.contextmanager
def local_target(port: int, log: Path, env: Mapping[str, str], role: str = "target") -> Iterator[Child]:
    """A latency target of our own on 127.0.0.1:``port``, answering /healthz on entry; stopped by PID on exit."""
    with processes.running_service(
        role,
        [sys.executable, *roles.target_args_on("127.0.0.1", port)],
        log,
        dict(env),
        f"http://127.0.0.1:{port}/healthz",
    ) as child:
        yield child


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU time of these local processes and their children (None if one is not local)."""
    total = 0.0
    try:
        for pid in pids:
            process = psutil.Process(pid)
            for member in [process, *process.children(recursive=True)]:
                times = member.cpu_times()
                total += times.user + times.system
    except psutil.Error:
        return None
    return total if pids else None


def purge_queue(app: Celery, queue: str) -> int:
    """Drop whatever waits in ``queue`` (only that queue: others may share this broker; missing = empty)."""
    with app.connection_for_write() as connection:
        try:
            return int(connection.default_channel.queue_purge(queue) or 0)
        except connection.channel_errors:  # RabbitMQ: no such queue (404), nothing waits in it
            return 0
