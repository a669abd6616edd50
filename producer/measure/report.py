"""`producer report`: HTML and Markdown from the newest compare record and the sweep records, with PNGs.

Every record shown is validated first (:func:`producer.measure.records.load_record`): the compare
shown (``--record`` or the newest) must be good, or the report stops with one line naming it; a bad
sweep record is left out with one line. Charts need matplotlib (the ``charts`` extra): without it
the pages are written without charts, and a note says how to get them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from producer.errors import BadInput, LabError
from producer.measure.compare_table import HEADERS, bottleneck_lines, cell_row, markdown_table
from producer.measure.record_models import CompareRecord, SweepRecord
from producer.measure.records import RecordError, load_record, load_records, record_paths

MAX_SWEEPS = 6
CHARTS_MISSING = "charts left out: matplotlib is not installed (pip install 'concurrency-lab[charts]')"


@dataclass
class Report:
    """What a report shows, where its files went, and notes for the user (records skipped, charts missing)."""

    html_path: Path
    markdown_path: Path
    compare: CompareRecord | None = None
    images: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _environment_text(record: CompareRecord) -> str:
    env = record.environment
    mode = f" ({env.celery_mode.mode} mode)" if env.celery_mode else ""
    return (
        f"{env.cores} cores, load {env.load_average}, Python {env.python}, Celery {env.celery}{mode}, "
        f"kombu {env.kombu}, redis-py {env.redis_py} — {record.created}"
    )


def _pool_notes(record: CompareRecord) -> list[str]:
    notes = []
    for pool, info in record.pools.items():
        origin = "started by compare" if info.started_here else "already running"
        notes.append(f"{pool}: {info.concurrency} slots ({origin}) — {info.concurrency_rule}")
    for pool, found in (record.environment.interpreters or {}).items():
        notes.append(f"{pool}: {found.interpreter} interpreter {found.python}: GIL enabled = {found.gil_enabled}")
    mode = record.environment.celery_mode
    if mode and mode.changes:
        notes.append(f"Celery {mode.mode} mode changes: " + "; ".join(mode.changes))
    return notes


def _sweep_summary(record: SweepRecord) -> list[str]:
    lines = [
        f"{p.label}: {p.throughput:,.1f} tasks/s (ideal {p.ideal:,.1f}, "
        f"{p.throughput / p.ideal:.0%}; failed {p.failed}, lost {p.lost})"
        if p.ideal
        else f"{p.label}: {p.throughput:,.1f} tasks/s"
        for p in record.points
    ]
    if record.redis_limit_tps:
        lines.append(f"Redis probe (pipelined LPUSH+RPOP pairs): {record.redis_limit_tps:,.0f}/s")
    return lines + record.notes


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def _html_table(record: CompareRecord) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    rows = []
    for cell in record.cells:
        css = ' class="inproc"' if cell.kind == "in-process" else ""
        if cell.failed or cell.lost or not cell.checks_agree:
            css = ' class="bad"'
        rows.append(f"<tr{css}>" + "".join(f"<td>{html.escape(v)}</td>" for v in cell_row(cell)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
    "td:nth-child(n+3){text-align:right}tr.inproc{color:#777}tr.bad{background:#fdd}img{max-width:100%}"
)


def chart_module() -> ModuleType | None:
    """:mod:`producer.measure.charts`, or None when matplotlib (the ``charts`` extra) is not installed."""
    try:
        from producer.measure import charts
    except ImportError as error:
        if (error.name or "").split(".")[0] != "matplotlib":
            raise
        return None
    return charts


def chosen_compare(results_dir: Path, compare_record: Path | None) -> tuple[Path, CompareRecord] | None:
    """The compare to show: ``compare_record`` if given, else the newest in ``results_dir`` (None: there is none).

    The one shown must be a good record: one line naming it otherwise (an older one is not shown
    instead, which would pass an old run off as the one just made).
    """
    if compare_record is not None:
        try:
            return compare_record, load_record(compare_record, "compare")
        except RecordError as error:
            raise BadInput(str(error)) from None
    paths = record_paths(results_dir, "compare")
    if not paths:
        return None
    try:
        return paths[-1], load_record(paths[-1], "compare")
    except RecordError as error:
        raise RecordError(f"{error}; pass --record to show another compare record") from None


def render(results_dir: Path, out_dir: Path, compare_record: Path | None = None) -> Report:
    """Write ``index.html``, ``report.md`` and the PNGs into ``out_dir``; raise if there is nothing to show.

    The compare shown is ``compare_record`` if given, else the newest one in ``results_dir``.
    """
    compare = chosen_compare(results_dir, compare_record)
    skipped: list[RecordError] = []
    sweeps = load_records(results_dir, "sweep", skipped)[-MAX_SWEEPS:]
    if compare is None and not sweeps:
        if skipped:
            raise skipped[-1]
        raise LabError(f"no compare or sweep records in {results_dir} (run `producer compare` first)")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(out_dir / "index.html", out_dir / "report.md")
    report.notes += [f"skipped: {error}" for error in skipped]
    charts = chart_module()
    if charts is None:
        report.notes.append(CHARTS_MISSING)
    html_parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Concurrency lab report</title>"
        f"<style>{STYLE}</style></head><body><h1>Concurrency lab report</h1>"
    ]
    md_parts = ["# Concurrency lab report", ""]
    if charts is None:
        html_parts.append(f"<p><em>{html.escape(CHARTS_MISSING)}</em></p>")
        md_parts += [f"_{CHARTS_MISSING}_", ""]
    if compare is not None:
        path, record = compare
        report.compare = record
        images = (
            [
                charts.throughput_chart(record, out_dir / "compare-throughput.png"),
                charts.latency_chart(record, out_dir / "compare-latency.png"),
            ]
            if charts
            else []
        )
        report.images += images
        verdicts = list(record.verdicts.values())
        html_parts += [
            f"<h2>Compare</h2><p>{html.escape(_environment_text(record))}<br>record: "
            f"<code>{html.escape(path.name)}</code></p><h3>Verdicts</h3>",
            _html_list(verdicts),
            _html_table(record),
            "<h3>Bottleneck per cell</h3>",
            _html_list(bottleneck_lines(record)),
            "<h3>Concurrency per pool</h3>",
            _html_list(_pool_notes(record)),
        ]
        html_parts += [f"<p><img src='{image.name}' alt='{image.stem}'></p>" for image in images]
        md_parts += [
            "## Compare",
            "",
            _environment_text(record),
            "",
            f"record: `{path.name}`",
            "",
            *[f"- {v}" for v in verdicts],
            "",
            markdown_table(record),
            "",
            "Bottleneck per cell:",
            "",
            *[f"- {line}" for line in bottleneck_lines(record)],
            "",
            "Concurrency per pool:",
            "",
            *[f"- {line}" for line in _pool_notes(record)],
            "",
            *[f"![{image.stem}]({image.name})" for image in images],
            "",
        ]
    if sweeps:
        html_parts.append("<h2>Sweeps</h2>")
        md_parts += ["## Sweeps", ""]
    for path, sweep in sweeps:
        html_parts += [
            f"<h3>{html.escape(sweep.title)}</h3><p><code>{html.escape(path.name)}</code></p>",
            _html_list(_sweep_summary(sweep)),
        ]
        md_parts += [
            f"### {sweep.title}",
            "",
            f"`{path.name}`",
            "",
            *[f"- {line}" for line in _sweep_summary(sweep)],
            "",
        ]
        if charts:
            image = charts.sweep_chart(sweep, out_dir / f"{path.stem}.png")
            report.images.append(image)
            html_parts.append(f"<p><img src='{image.name}' alt='{image.stem}'></p>")
            md_parts += [f"![{image.stem}]({image.name})", ""]
    html_parts.append("</body></html>")
    report.html_path.write_text("\n".join(html_parts))
    report.markdown_path.write_text("\n".join(md_parts))
    return report
