"""`producer report`: HTML + Markdown whose images exist, from real compare and sweep records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.test_cli import producer


def test_report_renders_html_referencing_existing_pngs(both_workers: dict[str, str], tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {"LAB_RESULTS_DIR": str(results)}
    compared = producer("compare", "--workloads", "noop", "--pools", "prefork,threads", "--count", "3",
                        "--repeat", "2", "--no-baselines", timeout=180, **env)
    assert compared.returncode == 0, compared.stderr[-3000:]
    swept = producer("sweep", "--workload", "noop", "--pool", "threads", "--concurrency", "2", "--count", "5",
                     timeout=180, **env)
    assert swept.returncode == 0, swept.stderr[-3000:]
    result = producer("report", "--out", str(tmp_path / "report"), **env)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    images = re.findall(r"<img src='([^']+)'", page)
    assert len(images) == 3  # throughput, latency, one sweep
    for name in images:
        image = tmp_path / "report" / name
        assert image.exists() and image.read_bytes().startswith(b"\x89PNG")
    assert "noop: " in page and "<table>" in page
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert all(f"({name})" in markdown for name in images)


def test_report_without_records_is_one_line_error(tmp_path: Path, settings: Any) -> None:
    result = producer("report", LAB_RESULTS_DIR=str(tmp_path / "empty"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("producer: error: no compare or sweep records")
