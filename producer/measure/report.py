"""`producer report`: HTML and Markdown from the newest compare record and the sweep records, with PNGs."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from producer.errors import BadInput, LabError
from producer.measure import charts
from producer.measure.compare_table import HEADERS, bottleneck_lines, cell_row, markdown_table
from producer.measure.records import load_records

MAX_SWEEPS = 6


@dataclass
class Report:
    """What a report shows and where its files went."""

    html_path: Path
    markdown_path: Path
    images: list[Path] = field(default_factory=list)


def _environment_text(record: dict[str, Any]) -> str:
    env = record["environment"]
    return (f"{env['cores']} cores, load {env['load_average']}, Python {env['python']}, Celery {env['celery']}, "
            f"kombu {env['kombu']}, redis-py {env['redis_py']} — {record['created']}")


def _pool_notes(record: dict[str, Any]) -> list[str]:
    notes = []
    for pool, info in record["pools"].items():
        origin = "started by compare" if info["started_here"] else "already running"
        notes.append(f"{pool}: {info['concurrency']} slots ({origin}) — {info['concurrency_rule']}")
    gil = record["environment"].get("gil_free_python")
    if gil:
        notes.append(f"threads_nogil interpreter {gil['python']}: GIL enabled = {gil['gil_enabled']}")
    return notes


def _sweep_summary(record: dict[str, Any]) -> list[str]:
    lines = [f"{p['label']}: {p['throughput']:,.1f} tasks/s (ideal {p['ideal']:,.1f}, "
             f"{p['throughput'] / p['ideal']:.0%}; failed {p['failed']}, lost {p['lost']})"
             if p["ideal"] else f"{p['label']}: {p['throughput']:,.1f} tasks/s" for p in record["points"]]
    if record.get("redis_limit_tps"):
        lines.append(f"Redis probe (pipelined LPUSH+RPOP pairs): {record['redis_limit_tps']:,.0f}/s")
    return lines + record.get("notes", [])


def _html_list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def _html_table(record: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    rows = []
    for cell in record["cells"]:
        css = ' class="inproc"' if cell["kind"] == "in-process" else ""
        if cell["failed"] or cell["lost"] or not cell["checks_agree"]:
            css = ' class="bad"'
        rows.append(f"<tr{css}>" + "".join(f"<td>{html.escape(v)}</td>" for v in cell_row(cell)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
         "td:nth-child(n+3){text-align:right}tr.inproc{color:#777}tr.bad{background:#fdd}img{max-width:100%}")


def render(results_dir: Path, out_dir: Path, compare_record: Path | None = None) -> Report:
    """Write ``index.html``, ``report.md`` and the PNGs into ``out_dir``; raise if there is nothing to show.

    The compare shown is ``compare_record`` if given, else the newest one in ``results_dir``.
    """
    compares = load_records(results_dir, "compare")
    if compare_record is not None:
        try:
            compares = [(compare_record, json.loads(compare_record.read_text()))]
        except (OSError, ValueError) as error:
            raise BadInput(f"cannot read the compare record {compare_record}: {error}") from None
    sweeps = load_records(results_dir, "sweep")[-MAX_SWEEPS:]
    if not compares and not sweeps:
        raise LabError(f"no compare or sweep records in {results_dir} (run `producer compare` first)")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(out_dir / "index.html", out_dir / "report.md")
    html_parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Concurrency lab report</title>"
                  f"<style>{STYLE}</style></head><body><h1>Concurrency lab report</h1>"]
    md_parts = ["# Concurrency lab report", ""]
    if compares:
        path, record = compares[-1]
        images = [charts.throughput_chart(record, out_dir / "compare-throughput.png"),
                  charts.latency_chart(record, out_dir / "compare-latency.png")]
        report.images += images
        verdicts = list(record["verdicts"].values())
        html_parts += [f"<h2>Compare</h2><p>{html.escape(_environment_text(record))}<br>record: "
                       f"<code>{html.escape(path.name)}</code></p><h3>Verdicts</h3>", _html_list(verdicts),
                       _html_table(record), "<h3>Bottleneck per cell</h3>", _html_list(bottleneck_lines(record)),
                       "<h3>Concurrency per pool</h3>", _html_list(_pool_notes(record))]
        html_parts += [f"<p><img src='{image.name}' alt='{image.stem}'></p>" for image in images]
        md_parts += ["## Compare", "", _environment_text(record), "", f"record: `{path.name}`", "",
                     *[f"- {v}" for v in verdicts], "", markdown_table(record), "", "Bottleneck per cell:", "",
                     *[f"- {line}" for line in bottleneck_lines(record)], "", "Concurrency per pool:", "",
                     *[f"- {line}" for line in _pool_notes(record)], "",
                     *[f"![{image.stem}]({image.name})" for image in images], ""]
    if sweeps:
        html_parts.append("<h2>Sweeps</h2>")
        md_parts += ["## Sweeps", ""]
    for path, record in sweeps:
        image = charts.sweep_chart(record, out_dir / f"{path.stem}.png")
        report.images.append(image)
        html_parts += [f"<h3>{html.escape(record['title'])}</h3><p><code>{html.escape(path.name)}</code></p>",
                       _html_list(_sweep_summary(record)), f"<p><img src='{image.name}' alt='{image.stem}'></p>"]
        md_parts += [f"### {record['title']}", "", f"`{path.name}`", "",
                     *[f"- {line}" for line in _sweep_summary(record)], "", f"![{image.stem}]({image.name})", ""]
    html_parts.append("</body></html>")
    report.html_path.write_text("\n".join(html_parts))
    report.markdown_path.write_text("\n".join(md_parts))
    return report
