"""`producer report`: one self-contained HTML file (charts inline) from real records; a bad record is one line."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from config.settings import LabSettings
from producer.measure.records import load_record, write_record
from tests.helpers import ROOT, child_env, producer
from tests.test_records import build_compare, build_sweep


def test_report_renders_html_referencing_existing_pngs(both_workers: dict[str, str], tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {"LAB_RESULTS_DIR": str(results)}
    compared = producer(
        "compare",
        "--workloads",
        "noop",
        "--pools",
        "prefork,threads",
        "--count",
        "3",
        "--repeat",
        "2",
        "--no-baselines",
        timeout=180,
        **env,
    )
    assert compared.returncode == 0, compared.stderr[-3000:]
    swept = producer(
        "sweep",
        "--workload",
        "noop",
        "--pool",
        "threads",
        "--concurrency",
        "2",
        "--count",
        "5",
        "--json",
        timeout=180,
        **env,
    )
    assert swept.returncode == 0, swept.stderr[-3000:]
    printed = json.loads(swept.stdout)  # --json prints the record as written
    assert printed["schema_version"] == 3 and printed["kind"] == "sweep" and len(printed["points"]) == 1
    for path in [*results.glob("compare-*.json"), *results.glob("sweep-*.json")]:
        assert load_record(path).schema_version == 3  # what compare and sweep wrote validates
    result = producer("report", "--out", str(tmp_path / "report"), **env)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert_self_contained(page)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 3  # throughput, latency, one sweep (and memory when the compare measured it)
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert not list((tmp_path / "report").glob("*.png"))  # nothing the page needs lives beside it
    assert "noop: " in page and "<table>" in page
    assert "inline in the HTML report" in (tmp_path / "report" / "report.md").read_text()
    assert "Compare" in result.stdout and "noop" in result.stdout  # the terminal shows the same report


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_self_contained(page: str) -> None:
    """One file: every src is inline PNG data, every href an anchor in the page; nothing fetched, nothing run."""
    parser = _Tags()
    parser.feed(page)
    assert parser.tags and not {tag for tag, _ in parser.tags} & {"script", "link", "iframe", "object", "embed"}
    for tag, attrs in parser.tags:
        assert (attrs.get("src") or "data:image/png;base64,").startswith("data:image/png;base64,"), tag
        assert (attrs.get("href") or "#").startswith("#"), tag
        assert not {"srcset", "action", "poster", "background"} & set(attrs), tag
    assert "url(" not in page and "@import" not in page


def test_report_without_records_is_one_line_error(tmp_path: Path, settings: Any) -> None:
    result = producer("report", LAB_RESULTS_DIR=str(tmp_path / "empty"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("producer: error: no compare, sweep or advise records")


@pytest.fixture()
def local_settings(settings: Any, tmp_path: Path) -> LabSettings:
    """The session's settings, writing records into this test's own directory."""
    return settings.model_copy(update={"results_dir": tmp_path / "results"})


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"kind": "compare", "cells": 5}', "not a compare record of schema 3"),
        ("{not json", "not a record: not JSON"),
    ],
)
def test_a_bad_newest_compare_is_one_line_naming_it(local_settings: LabSettings, content: str, problem: str) -> None:
    write_record(local_settings, build_compare(local_settings))
    bad = local_settings.results_dir / "compare-99991231T000000Z.json"
    bad.write_text(content)
    result = producer("report", LAB_RESULTS_DIR=str(local_settings.results_dir))
    assert result.returncode == 1
    line = _one_error_line(result)
    assert line.startswith(f"producer: error: {bad}: ") and problem in line and "--record" in line


def test_a_bad_chosen_compare_is_bad_input(tmp_path: Path) -> None:
    chosen = tmp_path / "mine.json"
    chosen.write_text('{"kind": "sweep"}')
    result = producer("report", "--record", str(chosen), LAB_RESULTS_DIR=str(tmp_path))
    assert result.returncode == 2
    assert _one_error_line(result).startswith(f"producer: error: {chosen}: not a compare record of schema 3")


def test_a_bad_sweep_is_skipped_and_the_good_ones_reported(local_settings: LabSettings, tmp_path: Path) -> None:
    write_record(local_settings, build_compare(local_settings))
    write_record(local_settings, build_sweep(local_settings, title="the older good sweep"))
    bad = local_settings.results_dir / "sweep-99991231T000000Z.json"
    bad.write_text('{"kind": "sweep", "points": 5}')
    result = producer("report", "--out", str(tmp_path / "report"), LAB_RESULTS_DIR=str(local_settings.results_dir))
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 1 and str(bad) in skipped[0] and "Traceback" not in result.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "the older good sweep" in page and "inproc-threads" in page and bad.name not in page
    assert "inproc-threads" in result.stdout  # the compare table


def test_only_bad_records_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "sweep-20261125T000000Z.json").write_text("[]")
    result = producer("report", LAB_RESULTS_DIR=str(tmp_path))
    assert result.returncode == 1
    assert "sweep-20261125T000000Z.json: not a sweep record of schema 3" in _one_error_line(result)


def test_without_matplotlib_the_report_has_no_charts_and_says_how_to_get_them(
    local_settings: LabSettings, tmp_path: Path
) -> None:
    write_record(local_settings, build_compare(local_settings))
    write_record(local_settings, build_sweep(local_settings))
    # sys.modules[name] = None is how Python makes `import name` fail: the same ImportError as not installed.
    program = "import sys; sys.modules['matplotlib'] = None; from producer.cli.app import main; main(sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", program, "report", "--out", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=child_env(LAB_RESULTS_DIR=str(local_settings.results_dir)),
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'concurrency-lab[charts]'" in result.stderr and "0 charts inline" in result.stderr
    assert "Traceback" not in result.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "<img" not in page and "concurrency-lab[charts]" in page
    assert not list((tmp_path / "report").glob("*.png"))
