"""The producer CLI as a user runs it: validation errors, an unreachable broker, a real batch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import producer


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "0"], "--count must be at least 1"),
        (["--count", "-5"], "--count must be at least 1"),
        (["--count", "1000000000"], "above the cap"),
        (["--workload", "bogus"], "'bogus' is not one of 'cpu'"),
        (["--pool", "fibers"], "'fibers' is not one of 'prefork'"),
        (["--workload", "cpu", "--size", "99999999"], "above the cap"),
        (["--workload", "io_http", "--url", "http://[::1"], "malformed URL"),
        (["--workload", "io_http", "--url", "http://example.com/"], "not allow-listed"),
        (["--workload", "cpu", "--url", "http://127.0.0.1/"], "--url applies only to"),
        (["--count", "many"], "Invalid value for '--count'"),
        (["--no-such-flag"], "No such option"),
        (["--timeout", "0"], "--timeout must be a positive"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = producer("submit", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("producer: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_gives_one_line_and_exit_2() -> None:
    result = producer("submit", LAB_IO_CONCURRENCY="zero")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "producer: error: bad setting LAB_IO_CONCURRENCY: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


def test_unreachable_broker_is_a_clear_error_not_a_hang() -> None:
    # 192.0.2.0/24 is TEST-NET-1 (never routed): a refused port on loopback is the honest local stand-in.
    result = producer("submit", "--count", "1", timeout=15, LAB_BROKER_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("producer: error: cannot reach Redis at redis://127.0.0.1:1/0")
    assert len(result.stderr.strip().splitlines()) == 1


def test_submit_runs_a_batch_and_reports_json(both_workers: dict[str, str]) -> None:
    result = producer("submit", "--workload", "io_sleep", "--size", "10", "--count", "20", "--json")
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert (summary["submitted"], summary["completed"], summary["failed"], summary["lost"]) == (20, 20, 0, 0)
    assert summary["queue"] == "threads" and summary["pools"] == ["threads"]
    assert summary["latency_p50_s"] > 0 and summary["throughput"] > 0


def test_failed_tasks_are_counted_and_make_a_non_zero_exit(both_workers: dict[str, str]) -> None:
    # The producer is told a higher cap than the workers have: the tasks reach the worker, which refuses them.
    result = producer(
        "submit", "--workload", "cpu", "--size", "250000", "--count", "2", "--json", LAB_MAX_CPU_SIZE="300000"
    )
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert (summary["submitted"], summary["completed"], summary["failed"], summary["lost"]) == (2, 0, 2, 0)
    assert summary["failure_reasons"] == {"BadTaskArgs": 2}
    assert "2 task(s) failed and 0 were lost of 2 submitted" in result.stderr


def test_no_workers_means_tasks_are_reported_queued_not_lost() -> None:
    # Nothing consumes the gevent queue in this session: at the timeout the tasks are still queued, not lost.
    result = producer("submit", "--workload", "noop", "--count", "3", "--pool", "gevent", "--timeout", "3", "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert (summary["submitted"], summary["completed"], summary["lost"], summary["queued"]) == (3, 0, 0, 3)
    assert "3 of 3 task(s) unfinished after 3 s, none lost: 3 still queued" in result.stderr
