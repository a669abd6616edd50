"""Shared benchmark plumbing: a private redis-server, real worker subprocesses, medians, ratios and JSON.

Every benchmark calls :func:`lab_environment` *before* importing ``worker.app`` (settings are read once
at import), starts its own workers with :func:`running_worker`, and stops every process by its PID.
The machine is small and shared: figures are medians of a few repeats, and every comparison is run
side by side, alternating, in the same run, so that a ratio compares like with like.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from config.settings import CeleryMode
from producer.measure.record_base import clean
from producer.processes import children as processes
from producer.processes import fleet
from producer.processes.children import Child
from producer.processes.redis_server import RedisProcess, free_port, start_redis_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
LOG_DIR = RESULTS_DIR / "logs"
STOCK_APP = "benchmarks.stock_app"
LAB_APP = "worker.app"


@contextlib.contextmanager
def lab_environment(**extra: str) -> Iterator[RedisProcess]:
    """A private redis-server on a free port; every ``LAB_*`` URL points at it until exit (stopped by PID)."""
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    server = start_redis_server(free_port(), tmp / "redis")
    base = server.url.rsplit("/", 1)[0]
    os.environ.update(
        {
            "LAB_BROKER_URL": f"{base}/0",
            "LAB_RESULT_BACKEND": f"{base}/1",
            "LAB_TARGET_PORT": str(free_port()),
            "LAB_STATE_DIR": str(tmp / "state"),
            **extra,
        }
    )
    try:
        yield server
    finally:
        processes.stop(server.child)
        shutil.rmtree(tmp, ignore_errors=True)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment (the private Redis) for a child, with the repo on ``PYTHONPATH``."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra}


def worker_command(
    pool: str,
    concurrency: int,
    queue: str,
    name: str,
    *,
    app_module: str = LAB_APP,
    events: bool = True,
    mode: CeleryMode | None = None,
) -> list[str]:
    """The lab's own worker command line (``fleet.worker_launch``), optionally with another ``-A`` or no ``-E``;
    ``mode`` picks the program (stock: ``celery``), else this process's ``LAB_CELERY_MODE``."""
    from config.settings import get_settings

    env = child_env(LAB_CELERY_MODE=mode) if mode else None
    command = fleet.worker_launch(get_settings(), pool, concurrency, queue, name, env=env, log_dir=LOG_DIR).command
    command[command.index("-A") + 1] = app_module
    if not events:
        command.remove("-E")
    return command


def ping_until_ready(app: Any, hostname: str, child: Child, timeout_s: float = 60.0) -> float:
    """Poll ``ping`` every ~20 ms until ``hostname`` answers; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        replies = app.control.ping(destination=[hostname], timeout=0.02) or []
        if any(hostname in reply for reply in replies):
            return time.monotonic() - started
        if not processes.is_running(child):
            raise RuntimeError(f"worker {hostname} exited; see {child.log}")
    raise TimeoutError(f"worker {hostname} did not answer ping within {timeout_s} s")


@contextlib.contextmanager
def running_worker(app: Any, command: list[str], *, env: dict[str, str] | None = None) -> Iterator[tuple[Child, str]]:
    """Start ``command`` (a worker with ``-n name@%h``) through ``fleet.start_launches``: answers ping on entry,
    stopped by PID on exit."""
    name = command[command.index("-n") + 1]
    base = name.split("@", 1)[0]
    launch = fleet.WorkerLaunch(
        f"bench-{base}", command, env or child_env(), LOG_DIR / f"{base}.log", name.replace("%h", socket.gethostname())
    )
    children = fleet.start_launches(app, [launch], 60.0)
    try:
        yield children[0], launch.node
    finally:
        fleet.stop_all(children)


def unique(prefix: str) -> str:
    """A fresh queue or node name."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def median_of(repeats: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    """Median and all values of ``repeats`` calls of ``measure``."""
    values = [measure() for _ in range(repeats)]
    return statistics.median(values), values


def alternating(repeats: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Measure each side ``repeats`` times, alternating A B A B …, so that load drifts hit both alike."""
    values: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, measure in sides.items():
            values[name].append(measure())
    return values


def report(
    name: str,
    title: str,
    rows: dict[str, Any],
    ratios: dict[str, tuple[float, str]],
    notes: list[str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print the figures and ratios (with goal and verdict) and write ``benchmarks/results/<name>.json``;
    ``extra`` adds structured keys to the record (written, not printed; NaN becomes null)."""
    record: dict[str, Any] = {
        "benchmark": name,
        "title": title,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0]},
        "figures": rows,
        "ratios": {},
        "notes": notes or [],
        **clean(extra or {}),
    }
    print(f"\n== {title} ==")
    for key, value in rows.items():
        print(f"  {key}: {_fmt(value)}")
    for key, (value, goal) in ratios.items():
        met = _meets(value, goal)
        record["ratios"][key] = {"value": round(value, 3), "goal": goal, "met": met}
        verdict = "" if met is None else (" MET" if met else " NOT MET")
        print(f"  RATIO {key}: {value:.2f} (goal {goal}){verdict}")
    for note in notes or []:
        print(f"  note: {note}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    sys.stdout.flush()
    return record


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _meets(value: float, goal: str) -> bool | None:
    """``goal`` like ">= 7" or "<= 0.5"; anything else is reported, not judged."""
    parts = goal.split()
    if len(parts) != 2 or parts[0] not in (">=", "<="):
        return None
    bound = float(parts[1])
    return value >= bound if parts[0] == ">=" else value <= bound


@contextlib.contextmanager
def running_target(port: int) -> Iterator[Child]:
    """The latency target on 127.0.0.1:``port``, answering /healthz on entry; stopped by PID on exit."""
    with fleet.local_target(port, LOG_DIR / f"target-{port}.log", child_env(), role="bench-target") as child:
        yield child


def run_batch_rate(
    app: Any,
    workload: str,
    size: int,
    count: int,
    queue: str,
    url: str = "",
    records_out: list[dict[str, Any]] | None = None,
) -> float:
    """Submit ``count`` tasks, wait for all, return tasks/s (last finish − first enqueue); raise if any is missing.

    The task records (timings) are appended to ``records_out`` when given.
    """
    from config.settings import get_settings
    from producer.batch.collect import collect_results
    from producer.batch.run import redis_clients
    from producer.batch.submit import submit_batch
    from worker.task_args import WorkloadArgs

    broker, backend = redis_clients(get_settings())
    batch = submit_batch(app, WorkloadArgs(workload, size, url), count, queue)
    collected = collect_results(backend, batch.task_ids, timeout_s=300, broker=broker, queue=queue)
    if len(collected.records) != count or collected.failures or collected.lost:
        raise RuntimeError(
            f"{queue}: {len(collected.records)} of {count} done, failures {len(collected.failures)}, "
            f"lost {len(collected.lost)}: {list(collected.failures.values())[:1]}"
        )
    first = min(record["enqueued"] for record in collected.records)
    last = max(record["finished"] for record in collected.records)
    backend.delete(*[f"celery-task-meta-{task_id}" for task_id in batch.task_ids])
    if records_out is not None:
        records_out.extend(collected.records)
    return count / (last - first)
