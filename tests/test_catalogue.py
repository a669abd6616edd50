"""The catalogue is the one place a workload or a pool is described: an extension's entries reach the
CLI's choices, compare's plan and workers, the table and the report, with no other file touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import catalogue
from config.settings import LabSettings
from producer.measure.analysis import is_io
from tests.helpers import producer

EXTENSION = {"LAB_CATALOGUE_EXTENSIONS": "tests.catalogue_extension"}


def test_every_entry_is_complete_and_consistent() -> None:
    settings = LabSettings()
    for entry in catalogue.WORKLOADS.values():
        assert entry.task_name == f"lab.{entry.name}"
        assert catalogue.pool(entry.default_pool)  # routes to a known pool
        assert 0 <= entry.default_size <= entry.cap(settings)
        assert callable(entry.resolve())
    for entry in [*catalogue.POOLS.values(), *catalogue.BASELINES.values()]:
        assert entry.concurrency(settings) >= 1 and entry.concurrency_rule and entry.colour.startswith("#")
    assert not any(p.is_baseline for p in catalogue.POOLS.values())
    assert all(p.is_baseline for p in catalogue.BASELINES.values())


def test_unknown_names_fail_loudly() -> None:
    with pytest.raises(catalogue.UnknownName, match=r"unknown workload 'fibonacci' \(choose from cpu, "):
        catalogue.workload("fibonacci")
    with pytest.raises(catalogue.UnknownName, match="unknown pool 'fibers'"):
        catalogue.any_pool("fibers")
    with pytest.raises(catalogue.UnknownName):
        is_io("fibonacci")


def test_an_extension_that_cannot_be_imported_is_one_line() -> None:
    result = producer("-h", LAB_CATALOGUE_EXTENSIONS="no_such_module_here")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "producer: error: LAB_CATALOGUE_EXTENSIONS: cannot import "
        "'no_such_module_here': No module named 'no_such_module_here'"
    )


def test_extension_entries_show_in_help_and_choices() -> None:
    result = producer("submit", "-h", **EXTENSION)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # help is wrapped to the terminal's width
    assert "sum_squares" in text and "threads4" in text
    assert "sum_squares: number of squares summed" in text  # --size help comes from the entry


def test_a_workload_and_a_pool_added_through_the_catalogue_run_in_compare_and_the_report(
    both_workers: dict[str, str], tmp_path: Path
) -> None:
    result = producer(
        "compare",
        "--workloads",
        "sum_squares,noop",
        "--pools",
        "threads4,solo",
        "--count",
        "4",
        "--repeat",
        "1",
        "--sizes",
        "sum_squares=2000",
        "--no-baselines",
        timeout=240,
        LAB_RESULTS_DIR=str(tmp_path),
        **EXTENSION,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sum_squares" in result.stdout and "threads4" in result.stdout  # the table
    [path] = sorted(tmp_path.glob("compare-*.json"))
    record = json.loads(path.read_text())
    assert record["plan"]["workloads"] == ["sum_squares", "noop"] and record["plan"]["pools"] == ["threads4", "solo"]
    assert record["pools"]["threads4"]["concurrency"] == 4  # the entry's own rule
    assert record["pools"]["threads4"]["concurrency_rule"] == "4 threads: a small threads pool"
    cells = {(c["workload"], c["pool"]): c for c in record["cells"]}
    assert (cells[("sum_squares", "threads4")]["completed"], cells[("sum_squares", "threads4")]["lost"]) == (4, 0)
    assert cells[("sum_squares", "threads4")]["bottleneck"]["name"] in (
        "GIL: 1 core/process",
        "cores",
        "consumer ceiling",
        "overhead",
    )
    runs = [r for r in record["runs"] if r["pool"] == "threads4"]
    assert runs and all(r["reported_pools"] == ["threads4"] for r in runs)  # the worker labels itself
    report = producer("report", "--results-dir", str(tmp_path), **EXTENSION)
    assert report.returncode == 0, report.stderr
    markdown = next((tmp_path / "report").glob("*.md")).read_text()
    assert "sum_squares" in markdown and "threads4" in markdown
