"""`producer sweep`: dedicated workers per point, over concurrency and over worker processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import producer


def _record(results: Path) -> dict:
    paths = sorted(results.glob("sweep-*.json"))
    assert len(paths) == 1, paths
    return json.loads(paths[0].read_text())


def test_concurrency_sweep_runs_two_points(tmp_path: Path) -> None:
    result = producer(
        "sweep",
        "--workload",
        "io_sleep",
        "--size",
        "10",
        "--pool",
        "threads",
        "--concurrency",
        "1,2",
        "--count",
        "6",
        timeout=180,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _record(tmp_path)
    assert record["mode"] == "concurrency"
    assert [(p["workers"], p["concurrency"]) for p in record["points"]] == [(1, 1), (1, 2)]
    for point in record["points"]:
        assert (point["completed"], point["failed"], point["lost"]) == (6, 0, 0)
        assert point["throughput"] > 0 and point["ideal"] > 0
    assert "io_sleep on threads" in result.stdout
    assert record["classification"]["label"] == "waits" and record["task"] is None


def test_workers_sweep_runs_two_points_and_probes_redis(tmp_path: Path) -> None:
    result = producer(
        "sweep",
        "--workload",
        "noop",
        "--pool",
        "threads",
        "--concurrency",
        "2",
        "--workers",
        "1,2",
        "--count",
        "40",
        timeout=180,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _record(tmp_path)
    assert record["mode"] == "workers" and record["redis_limit_tps"] > 0
    assert [p["workers"] for p in record["points"]] == [1, 2]
    assert len(record["points"][1]["tasks_per_worker"]) in (1, 2)  # tasks reach the 2 workers' shared queue
    assert record["points"][0]["efficiency"] == 1.0
    assert all(p["completed"] == 40 for p in record["points"])


def test_sweep_refuses_two_varying_axes() -> None:
    result = producer("sweep", "--concurrency", "1,2", "--workers", "1,2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "producer: error: sweep either --concurrency or --workers (give the other a single value)"
    )
