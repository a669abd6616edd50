"""Typed records: a real compare record (in-process runs, the real analysis) round-trips; bad files are one line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from config.settings import LabSettings
from producer.measure.analysis import analyse
from producer.measure.compare import ComparePlan, baseline_workers, concurrency_rule
from producer.measure.compare_runs import baseline_run
from producer.measure.record_models import SCHEMA_VERSION, CompareRecord
from producer.measure.records import RecordError, environment, load_record, load_records, write_record
from producer.measure.sweep_record import SweepRecord
from worker.task_args import WorkloadArgs

BASELINES = ("inproc-threads",)


def build_compare(settings: LabSettings) -> CompareRecord:
    """A compare record as `run_compare` builds it, from real in-process noop runs (no Celery worker needed)."""
    plan = ComparePlan(["noop"], [], count=4, repeat=2, sizes={"noop": 0})
    args = WorkloadArgs("noop", 0)
    runs = [
        baseline_run(name, baseline_workers(name, settings), settings, args, plan.count, repeat, [])
        for repeat in range(plan.repeat)
        for name in BASELINES
    ]
    pools = {
        name: {
            "concurrency": baseline_workers(name, settings),
            "nodes": [],
            "started_here": True,
            "concurrency_rule": concurrency_rule(name),
        }
        for name in BASELINES
    }
    cells, verdicts = analyse(
        runs,
        pools,
        plan.count,
        plan.sizes,
        cores=os.cpu_count() or 1,
    )
    return CompareRecord.model_validate(
        {
            "environment": environment(settings, interpreters=None, load_before=0.1, busy_before=False),
            "plan": {
                "workloads": plan.workloads,
                "pools": plan.pools,
                "count": plan.count,
                "repeat": plan.repeat,
                "sizes": plan.sizes,
                "baselines": True,
                "timeout_s": plan.timeout_s,
            },
            "pools": pools,
            "runs": runs,
            "cells": cells,
            "verdicts": verdicts,
        }
    )


def build_sweep(settings: LabSettings, title: str = "noop on threads: tasks/s vs concurrency") -> SweepRecord:
    """A small sweep record of the shape `run_sweep` returns (figures made up: only the shape matters here)."""
    timings = {
        name: {"p50": 0.001, "p95": 0.002, "p99": 0.003, "mean": 0.001}
        for name in ("latency_s", "queue_wait_s", "run_time_s", "thread_cpu_s")
    }
    points = [
        {
            "concurrency": c,
            "workers": 1,
            "submitted": 10,
            "completed": 10,
            "failed": 0,
            "lost": 0,
            "throughput": 100.0 * c,
            "span_s": 0.1,
            "producer_throughput": 95.0 * c,
            "check_agree": True,
            "worker_cpu_s": 0.05,
            "machine_cpu_percent": 40.0,
            "redis_cpu_s": 0.01,
            "lab_cores_used": 0.6,
            "redis_cores_used": 0.1,
            "tasks_per_worker": [10],
            "timings": timings,
            "x": c,
            "label": f"1 worker(s) × {c}",
            "ideal": float("nan"),
            "saturated": "none visible",
        }
        for c in (1, 2)
    ]
    return SweepRecord.model_validate(
        {
            "environment": environment(settings),
            "mode": "concurrency",
            "workload": "noop",
            "pool": "threads",
            "size": 0,
            "count": 10,
            "points": points,
            "title": title,
            "x_label": "concurrency (slots per worker)",
            "ideal_label": "ideal",
            "redis_limit_tps": None,
            "consumer_ceiling_tps": 600.0,
            "notes": [],
        }
    )


@pytest.fixture()
def local_settings(settings: Any, tmp_path: Path) -> LabSettings:
    """The session's settings, writing records into this test's own directory."""
    return settings.model_copy(update={"results_dir": tmp_path / "results"})


def test_a_real_compare_record_round_trips_with_schema_version(local_settings: LabSettings) -> None:
    record = build_compare(local_settings)
    path = write_record(local_settings, record)
    assert path.name.startswith("compare-") and path.parent == local_settings.results_dir
    on_disk = json.loads(path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION and on_disk["kind"] == "compare"
    assert {"environment", "plan", "pools", "runs", "cells", "verdicts", "created"} <= set(on_disk)
    assert on_disk["environment"]["celery"] and on_disk["environment"]["celery_mode"]["mode"] in ("stock", "lab")
    loaded = load_record(path)
    assert isinstance(loaded, CompareRecord) and loaded.as_json() == on_disk
    assert [c.pool for c in loaded.cells] == ["inproc-threads"] and loaded.cells[0].completed == 8
    assert loaded["cells"][0]["bottleneck"]["name"] == loaded.cells[0].bottleneck.name  # the old dict access


def test_a_schema_1_record_is_read_as_the_current_schema(local_settings: LabSettings, tmp_path: Path) -> None:
    old = build_sweep(local_settings).as_json()
    del old["schema_version"], old["environment"]["celery_mode"]
    path = tmp_path / "sweep-20250101T000000Z.json"
    path.write_text(json.dumps(old))
    loaded = load_record(path, "sweep")
    assert loaded.schema_version == SCHEMA_VERSION and loaded.environment.celery_mode is None


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"kind": "compare", "cells": 5}', "not a compare record of schema 3 (read as schema 1): "),
        (
            '{"kind": "compare", "schema_version": 2, "cells": 5}',
            "not a compare record of schema 3 (read as schema 2): ",
        ),
        ('{"kind": "compare", "schema_version": 3, "cells": 5}', "not a compare record of schema 3: "),
        ('{"kind": "compare", "schema_version": 4}', "schema_version 4 is not one this lab reads (1 to 3)"),
        ("[1, 2]", "not a compare record of schema 3"),
        ("{not json", "not a record: not JSON"),
        ("", "not a record: not JSON"),
    ],
)
def test_a_bad_record_is_one_line_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "compare-20261125T000000Z.json"
    path.write_text(content)
    with pytest.raises(RecordError) as raised:
        load_record(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_a_sweep_file_read_as_a_compare_is_refused(local_settings: LabSettings, tmp_path: Path) -> None:
    path = write_record(local_settings, build_sweep(local_settings))
    with pytest.raises(RecordError, match="not a compare record of schema 3: kind: Input should be 'compare'"):
        load_record(path, "compare")


def test_load_records_skips_bad_files_and_says_which(local_settings: LabSettings) -> None:
    good = write_record(local_settings, build_sweep(local_settings))
    bad = local_settings.results_dir / "sweep-99991231T000000Z.json"
    bad.write_text('{"kind": "sweep", "points": "none"}')
    skipped: list[RecordError] = []
    assert [path for path, _ in load_records(local_settings.results_dir, "sweep", skipped)] == [good]
    assert len(skipped) == 1 and str(skipped[0]).startswith(str(bad))


def test_write_record_refuses_a_record_spoiled_after_it_was_built(local_settings: LabSettings) -> None:
    record = build_sweep(local_settings)
    record.points[0].workers = "many"  # type: ignore[assignment]  # no validation on assignment: write checks
    with pytest.raises(RecordError, match=r"refusing to write an invalid sweep record: points\.0\.workers"):
        write_record(local_settings, record)
    assert not local_settings.results_dir.exists() or not list(local_settings.results_dir.iterdir())
