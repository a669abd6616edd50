"""`producer watch` and `submit --watch` on the real event stream of real workers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from producer.batch.run import run_batch
from producer.processes.redis_server import free_port
from producer.watch.rates import Snapshot
from producer.watch.view import EventWatcher
from tests.helpers import ROOT, child_env, producer
from worker.task_args import WorkloadArgs


def wait_until(watcher: EventWatcher, done: Callable[[Snapshot], bool], timeout_s: float = 60) -> Snapshot:
    """Poll the watcher until ``done(snapshot)`` holds (a wait with a deadline, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        snap = watcher.snapshot()
        if done(snap) or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def test_watcher_counts_a_real_batch_per_worker_and_pool(
    celery_app: Any, settings: Any, both_workers: dict[str, str]
) -> None:
    watcher = EventWatcher(celery_app, window_s=60)
    watcher.start()
    try:
        for workload, size, count, queue in (("noop", 0, 12, "prefork"), ("io_sleep", 5, 8, "threads")):
            outcome = run_batch(celery_app, settings, WorkloadArgs(workload, size), count, queue, timeout_s=120)
            assert outcome.summary.completed == count
        snap = wait_until(watcher, lambda s: s.total.succeeded >= 20 and "?" not in {r.pool for r in s.workers})
    finally:
        watcher.stop()
    rows = {row.worker: row for row in snap.workers}
    prefork, threads = rows[both_workers["prefork"]], rows[both_workers["threads"]]
    assert (prefork.pool, prefork.online, prefork.succeeded, prefork.failed, prefork.in_flight) == (
        "prefork",
        1,
        12,
        0,
        0,
    )
    assert (threads.pool, threads.online, threads.succeeded, threads.failed, threads.in_flight) == (
        "threads",
        1,
        8,
        0,
        0,
    )
    assert prefork.rate > 0 and threads.rate > 0
    pools = {row.pool: row for row in snap.pools}
    assert pools["prefork"].succeeded == 12 and pools["threads"].succeeded == 8
    assert snap.total.succeeded == 20 and snap.sent == 20  # task-sent events from this producer
    assert snap.total.rate == pytest.approx(sum(r.rate for r in snap.workers))


def test_watch_once_json_lists_both_workers_online_with_their_pools(both_workers: dict[str, str]) -> None:
    result = producer("watch", "--once", "--duration", "3", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["worker"]: row for row in json.loads(result.stdout)["workers"]}
    assert rows[both_workers["prefork"]]["online"] == 1
    assert rows[both_workers["threads"]]["online"] == 1
    assert rows[both_workers["prefork"]]["pool"] == "prefork"
    assert rows[both_workers["threads"]]["pool"] == "threads"


def _total_row(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.strip("│┃ ").startswith("total"))
    return [cell.strip() for cell in line.strip().strip("│┃").split("│")]


def test_submit_watch_prints_the_final_throughput_table(both_workers: dict[str, str]) -> None:
    result = producer("submit", "--workload", "noop", "--count", "30", "--watch")
    assert result.returncode == 0, result.stderr
    assert "Celery throughput (final" in result.stdout
    total = _total_row(result.stdout)
    assert total[0] == "total" and total[6] == "30" and total[7] == "0", result.stdout  # succeeded, failed
    assert "completed" in result.stdout  # the batch summary follows


def test_watch_exits_cleanly_on_ctrl_c(both_workers: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "producer", "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "watching Celery events" in first
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (first, stdout, stderr)
    assert "Celery throughput (final" in stdout and "Traceback" not in stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["watch", "--window", "0"], "--window must be between"),
        (["watch", "--window", "nan"], "--window must be between"),
        (["watch", "--duration", "-1"], "--duration must be a positive"),
        (["watch", "--refresh", "0"], "--refresh must be between"),
        (["watch", "--window", "soon"], "Invalid value for '--window'"),
        (["submit", "--watch", "--no-wait"], "--watch needs --wait"),
    ],
)
def test_bad_watch_options_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = producer(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("producer: error:") and message in lines[0], result.stderr


def test_watch_without_a_broker_says_so_in_one_line() -> None:
    result = producer("watch", "--once", timeout=30, LAB_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Redis" in lines[0], result.stderr
