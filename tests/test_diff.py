"""`producer diff A B`: a cell made slower on purpose (real compares, real worker) fails the gate; bad input: 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.settings import LabSettings
from producer.measure.diff import Change, diff, judge
from producer.measure.records import write_record
from tests.helpers import producer
from tests.report_records import both_modes_compare, older_schema
from tests.test_records import build_sweep


def _compare(results: Path, cpu_size: int) -> subprocess.CompletedProcess[str]:
    return producer(
        "compare",
        "--workloads",
        "cpu",
        "--pools",
        "prefork",
        "--sizes",
        f"cpu={cpu_size}",
        "--count",
        "6",
        "--repeat",
        "2",
        "--no-baselines",
        timeout=300,
        LAB_RESULTS_DIR=str(results),
    )


def test_diff_names_the_cell_made_slower_on_purpose(prefork_worker: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    for size in (2000, 25000):  # B's tasks do ~25× the work of A's on the same pool: far beyond any noise
        done = _compare(results, size)
        assert done.returncode == 0, done.stderr[-3000:]
    env = {"LAB_RESULTS_DIR": str(results)}
    slower = producer("diff", "previous", "latest", **env)
    assert slower.returncode == 1, slower.stderr
    last = slower.stderr.strip().splitlines()[-1]
    assert last.startswith("diff: 1 cell(s) worse beyond 10% and the noise: cpu / prefork (") and "throughput" in last
    assert "WORSE: throughput" in slower.stdout and "size of cpu differs: 2000 → 25000" in slower.stdout
    as_json = producer("diff", "previous", "latest", "--json", **env)
    assert as_json.returncode == 1
    found = json.loads(as_json.stdout)
    assert found["worse"] == [found["cells"][0]["workload"] + " / prefork (" + found["cells"][0]["mode"] + ")"]
    change = found["cells"][0]["changes"]["throughput"]
    assert change["verdict"] == "worse" and change["b_high"] < change["a_low"] * 0.9
    assert change["ratio_low"] <= change["ratio"] <= change["ratio_high"]
    faster = producer("diff", "latest", "previous", **env)  # the other way round it is better, not worse
    assert faster.returncode == 0, faster.stderr
    assert "better" in faster.stdout
    same = producer("diff", "latest", "latest", **env)
    assert same.returncode == 0, same.stderr
    assert "within noise" in same.stdout and "WORSE" not in same.stdout


@pytest.fixture()
def local_settings(settings: Any, tmp_path: Path) -> LabSettings:
    """The session's settings, writing records into this test's own directory."""
    return settings.model_copy(update={"results_dir": tmp_path / "results"})


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_bad_input_is_one_line_and_exit_2(local_settings: LabSettings, tmp_path: Path) -> None:
    good = write_record(local_settings, both_modes_compare(local_settings))
    sweep = write_record(local_settings, build_sweep(local_settings))
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(both_modes_compare(local_settings).as_json() | {"schema_version": 99}))
    env = {"LAB_RESULTS_DIR": str(local_settings.results_dir)}
    missing = _one_line(producer("diff", str(tmp_path / "nope.json"), str(good), **env))
    assert "nope.json: cannot read" in missing
    assert "not a compare record" in _one_line(producer("diff", str(good), str(sweep), **env))
    assert "schema_version 99 is not one this lab reads" in _one_line(producer("diff", str(good), str(newer), **env))
    assert "'previous' needs 2" in _one_line(producer("diff", "previous", "latest", **env))
    assert "--threshold" in _one_line(producer("diff", str(good), str(good), "--threshold", "-5", **env))
    assert "--gate" in _one_line(producer("diff", str(good), str(good), "--gate", "speed", **env))


def _change(a: tuple[float, float, float], b: tuple[float, float, float], higher: bool = True) -> Change:
    return judge(a, b, higher, 0.10)


def test_the_rule_needs_the_threshold_and_the_noise() -> None:
    assert _change((100, 95, 105), (80, 78, 85)).verdict == "worse"  # 85 < 95 × 0.9
    assert _change((100, 95, 105), (88, 80, 90)).verdict == "within noise"  # best of B not below 85.5
    assert _change((100, 60, 140), (70, 50, 90)).verdict == "within noise"  # noisy A: ranges overlap
    assert _change((100, 95, 105), (130, 120, 140)).verdict == "better"
    assert _change((0.10, 0.09, 0.11), (0.20, 0.19, 0.21), higher=False).verdict == "worse"  # p95 doubled
    found = _change((100, 95, 105), (80, 78, 85))
    assert found.ratio == pytest.approx(0.8) and found.ratio_low == pytest.approx(78 / 105)
    assert found.ratio_high == pytest.approx(85 / 95)


def test_cells_match_by_mode_and_an_old_record_matches_by_pool(local_settings: LabSettings, tmp_path: Path) -> None:
    record = both_modes_compare(local_settings)
    trimmed = record.model_copy(update={"cells": [c for c in record.cells if c.celery != "lab"]})
    result = diff(Path("a"), record, Path("b"), trimmed, 0.1, ["throughput"])
    found = {cell.name: cell.found for cell in result.cells}
    assert found["noop / prefork (lab)"] == "only in A" and found["noop / prefork (stock)"] == "both"
    assert found["noop / inproc-threads (in-process)"] == "both" and not result.worse()
    # schema 1 says nothing about the mode: its cells match the one cell of the same workload × pool
    old_path = tmp_path / "compare-20250101T000000Z.json"
    old_path.write_text(json.dumps(older_schema(trimmed.as_json(), 1)))
    env = {"LAB_RESULTS_DIR": str(tmp_path)}
    new_path = write_record(local_settings, trimmed)
    result_text = producer("diff", str(old_path), str(new_path), "--json", **env)
    assert result_text.returncode == 0, result_text.stderr
    cells = json.loads(result_text.stdout)["cells"]
    assert {c["found"] for c in cells} == {"both"} and len(cells) == 3
