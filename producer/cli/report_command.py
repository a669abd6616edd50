"""`producer report`: one self-contained HTML file from the records, its Markdown twin, and the same on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from config.settings import get_settings
from producer.console import err, out


def report(
    results_dir: Annotated[Path | None, typer.Option(help="where the records are (default LAB_RESULTS_DIR)")] = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="a .html file to write, or a directory for index.html + report.md (default RESULTS_DIR/report)",
        ),
    ] = None,
    record: Annotated[Path | None, typer.Option(help="the compare record to show (default: the newest)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="write the files only, print nothing on stdout")] = False,
) -> None:
    """One self-contained HTML file (charts inline) from the newest compare, the sweeps and the advise records."""
    from producer.measure.report import render
    from producer.measure.text_report import print_terminal

    source = results_dir or get_settings().results_dir
    rendered = render(source, out_path or source / "report", record)
    if not quiet:
        print_terminal(rendered.document, out)
    for note in rendered.skipped + rendered.document.notes:
        err.print(note, highlight=False, markup=False, soft_wrap=True)
    charts = len(rendered.document.charts())
    err.print(
        f"report: {rendered.html_path} (self-contained, {charts} charts inline) and {rendered.markdown_path}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
