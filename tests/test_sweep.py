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
        assert point["celery"] == "stock"  # the default
        assert point["memory"]["peak_pss_mb"] > 0 and point["memory"]["per_slot_pss_mb"] > 0
        assert point["consumer_ceiling_tps"] > 0  # a no-op batch on the point's own workers
    assert record["celery"] == "stock" and record["celery_modes"]["stock"]["changes"] == []
    assert record["consumer_ceiling_tps"] > 0
    assert "io_sleep on threads" in result.stdout and "stock Celery: Celery" in result.stdout
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
    for point in record["points"]:
        assert point["consumer_ceiling_tps"] == point["throughput"]  # a no-op point is its own ceiling
        assert point["memory"]["processes"] >= point["workers"] and point["memory"]["peak_uss_mb"] > 0


def test_sweep_runs_each_point_in_both_modes(tmp_path: Path) -> None:
    result = producer(
        "sweep",
        "--workload",
        "noop",
        "--pool",
        "solo",
        "--concurrency",
        "1",
        "--count",
        "30",
        "--celery",
        "both",
        timeout=180,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _record(tmp_path)
    assert record["celery"] == "both" and set(record["celery_modes"]) == {"stock", "lab"}
    assert [p["celery"] for p in record["points"]] == ["stock", "lab"]
    assert all(p["memory"]["peak_pss_mb"] > 0 and p["consumer_ceiling_tps"] > 0 for p in record["points"])
    assert "stock Celery:" in result.stdout and "lab mode (" in result.stdout


def test_sweep_refuses_two_varying_axes() -> None:
    result = producer("sweep", "--concurrency", "1,2", "--workers", "1,2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "producer: error: sweep either --concurrency or --workers (give the other a single value)"
    )
