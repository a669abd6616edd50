"""`producer advise`: the search recommends what the task's class calls for, with real workers on the private Redis.

Budgets are small (the machine has 2 cores shared with other jobs); assertions are about what was
chosen and why, never about how fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from config import catalogue
from producer.measure.records import load_record
from tests.helpers import producer

CORES = os.cpu_count() or 1


#: The allow-list that lets workers (and the producer) run the sample user tasks.
SAMPLE = {"LAB_TASK_MODULES": "tests.user_tasks_sample"}


def _advise(tmp_path: Path, *args: str, timeout: float = 240) -> tuple[Any, dict[str, Any], Path]:
    result = producer("advise", *args, "--json", timeout=timeout, LAB_RESULTS_DIR=str(tmp_path), **SAMPLE)
    paths = sorted(tmp_path.glob("advise-*.json"))
    assert len(paths) == 1, (paths, result.stderr[-3000:])
    return result, json.loads(result.stdout) if result.stdout.strip() else {}, paths[0]


def test_a_task_that_holds_the_gil_gets_a_process_pool_sized_to_the_cores(tmp_path: Path) -> None:
    result, record, path = _advise(tmp_path, "--workload", "cpu", "--size", "8000", "--budget-s", "40")
    assert result.returncode == 0, result.stderr[-3000:]
    assert record["classification"]["label"] == "holds the GIL"
    tried = {trial["pool"] for trial in record["trials"]}
    assert not any(catalogue.pool(pool).gil_per_process for pool in tried)  # threads, gevent never tried
    chosen = record["recommendation"]["trial"]
    assert not catalogue.pool(chosen["pool"]).gil_per_process
    assert CORES in (chosen["concurrency"], chosen["concurrency"] * chosen["workers"])
    assert f"-c {chosen['concurrency']} " in record["recommendation"]["command"]
    assert record["recommendation"]["command"].startswith("LAB_CELERY_MODE=stock ")
    for trial in record["trials"]:
        assert (trial["failed"], trial["lost"], trial["pending"]) == (0, 0, 0)
        assert trial["memory"]["peak_pss_mb"] > 0 and trial["memory"]["per_slot_pss_mb"] > 0
        assert trial["cores_used"] > 0 and trial["consumer_ceiling_tps"] > 0 and trial["bottleneck"]["name"]
    assert any(note.startswith("threads: one GIL per process") for note in record["notes"])
    assert load_record(path, "advise").recommendation is not None  # the record on disk validates
    report = producer("report", "--results-dir", str(tmp_path), timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "Advise: cpu" in report.stdout and record["recommendation"]["command"] in report.stdout


def test_a_task_that_waits_gets_a_thread_or_gevent_pool(tmp_path: Path) -> None:
    result, record, _ = _advise(tmp_path, "--workload", "io_sleep", "--size", "50", "--budget-s", "50")
    assert result.returncode == 0, result.stderr[-3000:]
    assert record["classification"]["label"] == "waits"
    chosen = record["recommendation"]["trial"]
    assert chosen["pool"] in ("threads", "gevent")
    assert chosen["concurrency"] >= 16  # waits overlap: more slots than cores
    reasons = [trial["reason"] for trial in record["trials"]]
    assert reasons[0].startswith("start") and all(reason for reason in reasons)
    assert record["runners_up"] and chosen not in record["runners_up"]
    text = producer("report", "--results-dir", str(tmp_path), timeout=120).stdout
    assert "Advise: io_sleep" in text and f"-P {chosen['pool']} -c {chosen['concurrency']} " in text


def test_a_user_task_that_holds_the_gil_gets_a_process_pool_sized_to_the_cores(tmp_path: Path) -> None:
    function = "tests.user_tasks_sample:hold_gil"
    result, record, _ = _advise(tmp_path, "--task", function, "--kwargs", '{"n": 400000}', "--budget-s", "40")
    assert result.returncode == 0, result.stderr[-3000:]
    assert record["task"] == {"function": function, "call_args": [], "call_kwargs": {"n": 400000}}
    assert record["classification"]["label"] == "holds the GIL"  # measured by the probe
    chosen = record["recommendation"]["trial"]
    assert not catalogue.pool(chosen["pool"]).gil_per_process
    assert CORES in (chosen["concurrency"], chosen["concurrency"] * chosen["workers"])
    assert record["recommendation"]["command"].startswith("LAB_CELERY_MODE=stock ")
    assert "LAB_TASK_MODULES=tests.user_tasks_sample " in record["recommendation"]["command"]


def test_a_user_task_that_waits_gets_a_thread_or_gevent_pool(tmp_path: Path) -> None:
    function = "tests.user_tasks_sample:wait"
    result, record, _ = _advise(tmp_path, "--task", function, "--kwargs", '{"ms": 50}', "--budget-s", "40")
    assert result.returncode == 0, result.stderr[-3000:]
    assert record["classification"]["label"] == "waits"
    assert record["recommendation"]["trial"]["pool"] in ("threads", "gevent")
    assert all(t["failed"] == t["lost"] == 0 for t in record["trials"])


def test_a_memory_limit_nothing_meets_is_said_clearly(tmp_path: Path) -> None:
    result, record, _ = _advise(
        tmp_path, "--workload", "io_sleep", "--size", "10", "--max-memory-mb", "1", "--budget-s", "40"
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("producer: error: no configuration met the constraints; nearest: ")
    )
    assert "max_memory_mb: peak PSS" in result.stderr.strip().splitlines()[-1]
    assert record["recommendation"] is None and record["trials"]
    assert record["ruled_out"]["max_memory_mb"] == [
        trial["pool"] + f" -c {trial['concurrency']}" for trial in record["trials"]
    ]
    assert any("over the 1 MiB limit" in note for note in record["notes"])  # no pointless stepping down
    assert len({trial["pool"] for trial in record["trials"]}) == len(record["trials"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "fibonacci"], "unknown workload 'fibonacci' (choose from cpu, "),
        (["--workload", "cpu", "--budget-s", "0"], "--budget-s must be a positive number, got 0"),
        (["--workload", "cpu", "--max-memory-mb", "-5"], "--max-memory-mb must be a positive number, got -5"),
        (["--workload", "cpu", "--celery", "both"], "--celery must be one of stock, lab, got 'both'"),
        (["--workload", "cpu", "--size", "999999999"], "size 999999999 for cpu is above the cap"),
        ([], "give --workload NAME or --task package.module:function, one of the two"),
        (["--workload", "cpu", "--task", "tests.user_tasks_sample:wait"], "give --workload NAME or --task"),
        (["--task", "tests.user_tasks_sample:nope"], "--task: module 'tests.user_tasks_sample' has no attribute"),
        (["--task", "os:getcwd"], "--task: module 'os' is not allowed by LAB_TASK_MODULES"),
        (["--task", "tests.user_tasks_sample:wait", "--args", "[1,"], "--args is not JSON"),
        (["--task", "tests.user_tasks_sample:wait", "--size", "3"], "--size goes with --workload"),
        (["--workload", "cpu", "--kwargs", "{}"], "--args and --kwargs go with --task"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = producer("advise", *args, **SAMPLE)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"producer: error: {message}"), lines
