"""`producer report`: render the records in the results directory as HTML and Markdown, print the compare table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from config.settings import get_settings
from producer.console import err, out
from producer.errors import LabError
from producer.measure.records import record_paths


def report(
    results_dir: Annotated[Path | None, typer.Option(help="where the records are (default LAB_RESULTS_DIR)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="output directory (default RESULTS_DIR/report)")] = None,
    record: Annotated[Path | None, typer.Option(help="the compare record to show (default: the newest)")] = None,
) -> None:
    """HTML + Markdown report with PNG charts from the newest compare record and the sweep records."""
    from producer.advise.render import advise_lines
    from producer.measure.compare_table import compare_table
    from producer.measure.report import render

    source = results_dir or get_settings().results_dir
    advice = advise_lines(source)
    for line in advice:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    try:
        rendered = render(source, out_dir or source / "report", record)
    except LabError:
        if advice and not record_paths(source, "compare") and not record_paths(source, "sweep"):
            return  # only advise records: listed above, no pages to write
        raise
    if rendered.compare is not None:
        out.print(compare_table(rendered.compare))
    for note in rendered.notes:
        err.print(note, highlight=False, markup=False, soft_wrap=True)
    err.print(
        f"report: {rendered.html_path} and {rendered.markdown_path} ({len(rendered.images)} charts)",
        highlight=False,
        soft_wrap=True,
    )
