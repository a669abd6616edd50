"""The report page: one self-contained file showing every new part of the records, escaped; old records render."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from config.settings import LabSettings
from producer.measure.figure_models import MemoryFigures
from producer.measure.html_report import render_html
from producer.measure.records import write_record
from producer.measure.report_doc import Bullets, Command, Document, Section, Table
from tests.helpers import producer
from tests.report_records import EVIL_TASK, PICK_COMMAND, advise_record, both_modes_compare, memory, older_schema
from tests.test_records import build_compare, build_sweep
from tests.test_report import assert_self_contained


@pytest.fixture()
def local_settings(settings: Any, tmp_path: Path) -> LabSettings:
    """The session's settings, writing records into this test's own directory."""
    return settings.model_copy(update={"results_dir": tmp_path / "results"})


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)]


def test_one_file_shows_modes_memory_ceilings_and_the_advice_with_its_command(
    local_settings: LabSettings, tmp_path: Path
) -> None:
    write_record(local_settings, both_modes_compare(local_settings))
    write_record(local_settings, advise_record(local_settings))
    sweep = build_sweep(local_settings, title="sweep with memory")
    for point in sweep.points:
        point.memory = MemoryFigures.model_validate(memory(1, point.concurrency, 40.0 + point.concurrency))
        point.consumer_ceiling_tps = 650.0
    write_record(local_settings, sweep)
    page_path = tmp_path / "share" / "lab.html"
    result = producer("report", "--out", str(page_path), LAB_RESULTS_DIR=str(local_settings.results_dir))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in page_path.parent.iterdir()) == ["lab.html", "lab.md"]
    page = page_path.read_text()
    assert_self_contained(page)
    images = _images(page)
    assert len(images) == 5  # throughput, latency, memory, the sweep (with its memory panel), the advise trials
    assert all(image.startswith(b"\x89PNG") for image in images)
    # user-controlled names are escaped, never markup
    assert "<script" not in page and "<b>x</b>" not in page
    assert html.escape(str(EVIL_TASK["function"])) in page and html.escape('"<b>x</b>"') in page
    # the advice: its exact command, the runners-up, what ruled a trial out, the task's class
    assert f'<pre class="cmd"><code>{html.escape(PICK_COMMAND)}</code></pre>' in page
    assert "Recommendation: threads -c 16" in page and "max_p95_ms: threads -c 64" in page
    assert 'class="pick"' in page and "waits (thread CPU ÷ wall 0.02" in page
    # the compare: which Celery per mode, stock vs lab, memory per cell, the measured ceiling
    assert "stock Celery: Celery " in page and "lab mode (1 changes to stock)" in page
    assert "lab ÷ stock" in page and "1.50×" in page and "peak PSS" in page and "PSS/slot" in page
    assert "consumer ceiling measured here: 700/s" in page
    assert "60,758" in page  # the baseline, next to the pools in the table
    # the sweep's memory per point
    assert "sweep with memory" in page and "650/s" in page
    # the terminal shows the same report
    assert PICK_COMMAND in result.stdout and "lab ÷ stock" in result.stdout and "peak PSS" in result.stdout
    markdown = page_path.with_suffix(".md").read_text()
    assert PICK_COMMAND in markdown and "| noop | prefork | stock |" in markdown


@pytest.mark.parametrize("schema", [1, 2])
def test_records_of_older_schemas_still_render(local_settings: LabSettings, tmp_path: Path, schema: int) -> None:
    results = local_settings.results_dir
    results.mkdir(parents=True)
    (results / "compare-20250101T000000Z.json").write_text(
        json.dumps(older_schema(build_compare(local_settings).as_json(), schema))
    )
    sweep = build_sweep(local_settings).as_json()
    if schema == 1:
        del sweep["schema_version"], sweep["environment"]["celery_mode"]
    (results / "sweep-20250101T000000Z.json").write_text(json.dumps(sweep))
    result = producer("report", "--out", str(tmp_path / "report"), LAB_RESULTS_DIR=str(results))
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert_self_contained(page)
    assert "inproc-threads" in page and "noop on threads" in page and len(_images(page)) == 3  # no memory chart
    expected = "not recorded (schema 1 record)" if schema == 1 else "Celery 5."
    assert expected in page and "peak PSS" not in page


def test_every_text_is_escaped_and_only_anchors_are_linked() -> None:
    nasty = "<img src=http://example.invalid/x onerror=alert(1)> & 'quotes'"
    section = Section(nasty, '"><a href="http://example.invalid">', blocks=[nasty, Bullets([nasty]), Command(nasty)])
    section.add(Table([nasty], [[nasty]], ["bad"], caption=nasty))
    page = render_html(Document(nasty, notes=[nasty], sections=[section]))
    assert_self_contained(page)
    assert "<img" not in page and 'href="http' not in page
    assert page.count(html.escape(nasty)) >= 7
