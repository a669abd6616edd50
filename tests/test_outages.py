"""The producer rides out broker outages and tells pending tasks from lost ones (real Redis, real workers).

Each test has its own redis-server (tests/faults.py) that it stops and starts by PID; the session Redis
other tests use stays up. The CLI runs as a user runs it, in a subprocess pointed at that Redis.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config.settings import LabSettings
from tests.faults import FaultRedis, fault_app, fault_redis, fault_settings, fault_worker, kill9, wait_until, worker_env
from tests.helpers import ROOT

OUTAGE_S = 3.0


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[FaultRedis]:
    """A private redis-server with AOF (fsync always), so a restart keeps the queue and the results."""
    with fault_redis(tmp_path / "redis", appendonly=True) as running:
        _fsync_always(running)
        yield running


def _fsync_always(server: FaultRedis) -> None:
    redis.Redis.from_url(server.url(0)).config_set("appendfsync", "always")


def _start_producer(settings: LabSettings, *args: str, **env: str) -> subprocess.Popen[str]:
    """`python -m producer ARGS` against ``settings``' Redis, output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "producer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=worker_env(settings, **env),
    )


def _finish(process: subprocess.Popen[str], timeout_s: float = 240) -> tuple[int, dict[str, Any] | None, str]:
    """Exit status, the JSON summary (if any) and stderr of a producer run."""
    stdout, stderr = process.communicate(timeout=timeout_s)
    summary = json.loads(stdout) if stdout.strip().startswith("{") else None
    return process.returncode, summary, stderr


def _results(settings: LabSettings) -> int:
    return int(redis.Redis.from_url(settings.result_backend).dbsize())


def test_a_redis_restart_while_collecting_is_ridden_out_and_nothing_is_lost(server: FaultRedis) -> None:
    settings = fault_settings(server, execution_log=False)
    app = fault_app(settings)
    count = 600
    with fault_worker(app, settings, "threads", 16, "threads", label="outage-threads"):
        producer = _start_producer(
            settings,
            "submit",
            "--workload",
            "io_sleep",
            "--size",
            "50",
            "--count",
            str(count),
            "--pool",
            "threads",
            "--json",
            "--timeout",
            "240",
        )
        # Collecting has begun once results arrive (publishing 600 takes one pipelined round trip per 100).
        wait_until(lambda: _results(settings) >= 50, 120, "the first results")
        server.stop(signal.SIGTERM)
        time.sleep(OUTAGE_S)  # the outage itself, not an assertion on timing
        server.start()
        status, summary, stderr = _finish(producer)
    assert status == 0, stderr
    assert summary is not None
    assert (summary["submitted"], summary["completed"], summary["failed"], summary["lost"]) == (count, count, 0, 0)
    assert (summary["queued"], summary["unacked"], summary["outages"]) == (0, 0, 1)
    assert "unreachable" in stderr and "retrying for up to 60 s (LAB_OUTAGE_RETRY_S)" in stderr, stderr
    assert " back after " in stderr and "Traceback" not in stderr, stderr


def test_a_killed_worker_leaves_its_tasks_queued_and_unacknowledged_not_lost(tmp_path: Path) -> None:
    with fault_redis(tmp_path / "redis") as server:
        settings = fault_settings(server, execution_log=False)
        app = fault_app(settings)
        count = 200
        with fault_worker(app, settings, "threads", 4, "threads", label="outage-killed") as (worker, _):
            producer = _start_producer(
                settings,
                "submit",
                "--workload",
                "io_sleep",
                "--size",
                "200",
                "--count",
                str(count),
                "--pool",
                "threads",
                "--json",
                "--timeout",
                "20",
            )
            wait_until(lambda: _results(settings) >= 8, 120, "the first results")
            kill9(worker.pid)  # no other worker consumes the queue
            status, summary, stderr = _finish(producer)
    assert status == 1 and summary is not None, stderr
    queued, unacked, completed = summary["queued"], summary["unacked"], summary["completed"]
    assert summary["lost"] == 0 and summary["failed"] == 0, summary
    assert queued > 0 and unacked > 0 and queued + unacked + completed == count, summary
    assert summary["queue_consumers"] in (None, []), "the only consumer is dead"
    # Delivered before the batch ended, back one visibility timeout later.
    assert summary["unacked_back_at"] > time.time() + settings.visibility_timeout_s - 600
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"producer: error: {queued + unacked} of {count} task(s) unfinished"), stderr
    assert "none lost" in last and f"{queued} still queued" in last and f"{unacked} held unacknowledged" in last
    assert "back in the queue at" in last


def test_an_outage_longer_than_the_bound_ends_with_one_line_and_exit_1(server: FaultRedis) -> None:
    settings = fault_settings(server, execution_log=False, outage_retry_s=1.5)  # LAB_OUTAGE_RETRY_S=1.5
    # No worker: the tasks wait in the queue, and the producer is collecting when Redis goes for good.
    producer = _start_producer(settings, "submit", "--workload", "noop", "--count", "20", "--timeout", "120")
    broker = redis.Redis.from_url(settings.broker_url)
    wait_until(lambda: broker.llen("prefork") == 20, 60, "the batch in the queue")
    server.stop(signal.SIGKILL)
    status, _, stderr = _finish(producer, 60)
    lines = stderr.strip().splitlines()
    assert status == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert lines[-1].startswith("producer: error: ") and "unreachable for " in lines[-1], stderr
    assert "gave up (LAB_OUTAGE_RETRY_S=1.5)" in lines[-1], stderr
    assert sum("retrying for up to 1.5 s" in line for line in lines) == 1, "one notice per outage"


def test_watch_reconnects_after_a_redis_restart_and_counts_what_follows(server: FaultRedis) -> None:
    from producer.batch.run import run_batch
    from producer.watch.view import EventWatcher
    from worker.task_args import WorkloadArgs

    settings = fault_settings(server, execution_log=False)
    app = fault_app(settings)
    with fault_worker(app, settings, "threads", 4, "threads", label="outage-watch"):
        watcher = EventWatcher(app, window_s=60, outage_retry_s=60)
        watcher.start()
        try:
            server.stop(signal.SIGTERM)
            restart = threading.Timer(OUTAGE_S, server.start)
            restart.start()
            restart.join()
            wait_until(lambda: watcher.outage.outages == 1, 60, "the event stream to reconnect")
            outcome = run_batch(app, settings, WorkloadArgs("noop", 0), 10, "threads", timeout_s=120)
            assert outcome.summary.completed == 10
            wait_until(lambda: watcher.snapshot().total.succeeded >= 10, 60, "the batch's events")
            watcher.check()
        finally:
            watcher.stop()
    assert watcher.snapshot().total.succeeded == 10
