"""`producer compare` end to end: real workers (the session's, plus solo/gevent it starts), a JSON record."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from producer.measure.analysis import analyse
from tests.helpers import producer


def _only_record(results: Path, kind: str) -> dict[str, Any]:
    paths = sorted(results.glob(f"{kind}-*.json"))
    assert len(paths) == 1, paths
    return json.loads(paths[0].read_text())


def test_compare_fills_every_cell_and_writes_a_record(both_workers: dict[str, str], tmp_path: Path) -> None:
    result = producer(
        "compare",
        "--workloads",
        "cpu,io_sleep",
        "--pools",
        "prefork,threads,solo,gevent",
        "--count",
        "4",
        "--repeat",
        "1",
        "--sizes",
        "cpu=2000,io_sleep=20",
        "--celery",
        "lab",  # the session's workers run the lab mode: reused only for it
        timeout=240,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _only_record(tmp_path, "compare")
    cells = {(c["workload"], c["pool"]): c for c in record["cells"]}
    pools = ["prefork", "threads", "solo", "gevent", "inproc-threads", "inproc-processes"]
    assert set(cells) == {(w, p) for w in ("cpu", "io_sleep") for p in pools}
    for cell in cells.values():
        assert (cell["completed"], cell["failed"], cell["lost"]) == (4, 0, 0), cell
        assert cell["throughput_median"] > 0 and cell["bottleneck"]["name"]
        if cell["kind"] == "celery":  # every Celery pool: its workers' memory and their measured ceiling
            assert cell["memory"]["peak_pss_mb"] > 0 and cell["memory"]["per_slot_uss_mb"] > 0, cell
            assert cell["consumer_ceiling_tps"] > 0 and cell["celery"] == "lab"
    for run in record["runs"]:
        if run["pool"] in ("prefork", "threads", "solo", "gevent"):
            assert run["reported_pools"] == [run["pool"]]  # the worker that ran them is the pool named
            assert run["check"]["backend_results"] == 4
    assert record["pools"]["solo"]["started_here"] and record["pools"]["gevent"]["started_here"]
    assert not record["pools"]["prefork"]["started_here"]  # the session's worker consumes that queue
    assert {info["celery"] for name, info in record["pools"].items() if not name.startswith("inproc")} == {"lab"}
    assert record["pools"]["solo"]["queue"] == "solo.lab" and record["pools"]["prefork"]["queue"] == "prefork"
    assert set(record["verdicts"]) == {"cpu", "io_sleep"}
    assert record["environment"]["cores"] >= 1 and record["environment"]["celery"]
    assert "compare: 4 tasks" in result.stdout and "inproc-processes" in result.stdout
    # every workload labelled by the same probe as a user task (the 2 ms cpu task is too short to assert on)
    assert set(record["classifications"]) == {"cpu", "io_sleep"}
    assert record["classifications"]["io_sleep"]["label"] == "waits"
    assert "io_sleep: waits — solo: thread CPU ÷ wall" in result.stdout


def test_threads_nogil_runs_on_the_free_threaded_interpreter(
    both_workers: dict[str, str], tmp_path: Path, settings: Any
) -> None:
    from producer.processes.interpreters import freethreaded_python

    if freethreaded_python(settings) is None:
        pytest.skip("no free-threaded Python (make freethreaded)")
    result = producer(
        "compare",
        "--workloads",
        "cpu",
        "--pools",
        "threads_nogil",
        "--count",
        "4",
        "--repeat",
        "1",
        "--sizes",
        "cpu=2000",
        "--no-baselines",
        timeout=180,
        LAB_RESULTS_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _only_record(tmp_path, "compare")
    assert [r["reported_pools"] for r in record["runs"]] == [["threads_nogil"]]
    assert record["environment"]["interpreters"]["threads_nogil"]["gil_enabled"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pools", "fibers"], "unknown pool 'fibers'"),
        (["--workloads", "cpu,bogus"], "unknown workload 'bogus'"),
        (["--count", "0"], "--count must be at least 1"),
        (["--repeat", "0"], "--repeat must be at least 1"),
        (["--sizes", "cpu=99999999"], "above the cap"),
        (["--sizes", "cpu"], "--sizes wants workload=integer pairs"),
    ],
)
def test_compare_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = producer("compare", *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr


def _run(workload: str, pool: str, throughput: float, cpu_s: float, run_s: float) -> dict[str, Any]:
    timing = {"mean": cpu_s, "p50": cpu_s, "p95": cpu_s, "p99": cpu_s}
    return {
        "workload": workload,
        "pool": pool,
        "repeat": 0,
        "submitted": 10,
        "completed": 10,
        "failed": 0,
        "lost": 0,
        "throughput": throughput,
        "wall_s": 10 / throughput,
        "processes": 1,
        "worker_cpu_s": None,
        "timings": {
            "latency_s": {"p50": run_s, "p95": run_s},
            "thread_cpu_s": timing,
            "run_time_s": {"mean": run_s, "p50": run_s},
        },
        "latency_samples": [],
        "check": {"agree": True, "note": ""},
    }


def test_analysis_speedup_efficiency_bottleneck_and_verdict() -> None:
    pools = {
        "prefork": {"concurrency": 2, "nodes": ["a"], "consumer_ceiling_tps": 600.0},
        "threads": {"concurrency": 8, "nodes": ["b"], "consumer_ceiling_tps": 600.0},
        "solo": {"concurrency": 1, "nodes": ["c"], "consumer_ceiling_tps": 600.0},
    }
    runs = [
        _run("cpu", "prefork", 19.0, 0.1, 0.1),
        _run("cpu", "threads", 10.0, 0.1, 0.8),
        _run("cpu", "solo", 10.0, 0.1, 0.1),
    ]
    cells, verdicts = analyse(runs, pools, 10, {"cpu": 25000}, cores=2)
    by_pool = {c["pool"]: c for c in cells}
    assert math.isclose(by_pool["prefork"]["speedup_vs_solo"], 1.9)
    assert math.isclose(by_pool["prefork"]["efficiency"], 0.95)  # ideal: 2 cores / 0.1 s
    assert by_pool["threads"]["bottleneck"]["name"] == "GIL: 1 core/process"
    assert by_pool["prefork"]["bottleneck"]["name"] == "cores"
    assert verdicts["cpu"].startswith("cpu: prefork 1.9× threads, 1.9× solo")


def test_cross_check_says_so_when_the_backend_disagrees_with_the_records(settings: Any) -> None:
    import time

    from producer.batch.collect import RESULT_KEY_PREFIX, Collected
    from producer.batch.run import BatchOutcome, redis_clients
    from producer.batch.stats import summarize
    from producer.batch.submit import Batch
    from producer.measure.cross_check import cross_check
    from worker.task_args import WorkloadArgs

    _, backend = redis_clients(settings)
    now = time.time()
    batch = Batch(
        "xcheck0000ab", WorkloadArgs("noop", 0), "solo", [f"xcheck0000ab-{i}" for i in range(3)], now - 1.0, now - 0.9
    )
    records = [
        {
            "enqueued": now - 1.0,
            "started": now - 0.5,
            "finished": now - 0.2,
            "thread_cpu": 0.0,
            "hostname": "h",
            "pid": 1,
        }
        for _ in range(3)
    ]
    for task_id in batch.task_ids[:2]:  # the backend really holds only two of the three results
        backend.set(RESULT_KEY_PREFIX + task_id, '{"status": "SUCCESS"}', ex=60)
    summary = summarize(
        records,
        workload="noop",
        queue="solo",
        size=0,
        submitted=3,
        failures={},
        lost=0,
        started_at=now - 1.0,
        finished_at=now - 0.1,
    )
    check = cross_check(BatchOutcome(batch, Collected(records, {}, [], now - 0.1), summary), backend)
    assert check["backend_results"] == 2 and not check["agree"]
    assert "backend holds 2 results, records say 3" in check["note"]
