"""`producer report`: render the records in the results directory as HTML and Markdown, print the compare table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from config.settings import get_settings
from producer.console import err, out


def report(
    results_dir: Annotated[Path | None, typer.Option(help="where the records are (default LAB_RESULTS_DIR)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="output directory (default RESULTS_DIR/report)")] = None,
    record: Annotated[Path | None, typer.Option(help="the compare record to show (default: the newest)")] = None,
) -> None:
    """HTML + Markdown report with PNG charts from the newest compare record and the sweep records."""
    from producer.measure.compare_table import compare_table
    from producer.measure.report import render

    source = results_dir or get_settings().results_dir
    rendered = render(source, out_dir or source / "report", record)
    if rendered.compare is not None:
        out.print(compare_table(rendered.compare))
    for note in rendered.notes:
        err.print(note, highlight=False, markup=False, soft_wrap=True)
    err.print(
        f"report: {rendered.html_path} and {rendered.markdown_path} ({len(rendered.images)} charts)",
        highlight=False,
        soft_wrap=True,
    )
