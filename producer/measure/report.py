"""`producer report`: one self-contained HTML file (and its Markdown twin) from the compare, sweep and advise records.

Every record shown is validated first (:func:`producer.measure.records.load_record`): the compare
shown (``--record`` or the newest) must be good, or the report stops with one line naming it; a bad
sweep or advise record is left out with one line. Charts need matplotlib (the ``charts`` extra):
without it the page is written without charts, and a note says how to get them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from producer.errors import BadInput, LabError
from producer.measure.html_report import render_html
from producer.measure.record_models import CompareRecord
from producer.measure.records import RecordError, load_record, load_records, record_paths
from producer.measure.report_compare import compare_section
from producer.measure.report_doc import Document, Section
from producer.measure.report_runs import advise_section, sweep_section
from producer.measure.text_report import markdown

MAX_SWEEPS = 6
MAX_ADVICE = 4
CHARTS_MISSING = "charts left out: matplotlib is not installed (pip install 'concurrency-lab[charts]')"
TITLE = "Concurrency lab report"


@dataclass
class Report:
    """The document shown, where its files went, and notes for the user (records skipped, charts missing)."""

    html_path: Path
    markdown_path: Path
    document: Document
    compare: CompareRecord | None = None
    #: Records left out, one line each (for the terminal: the page shows only what it shows).
    skipped: list[str] = field(default_factory=list)


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


def output_paths(out: Path) -> tuple[Path, Path]:
    """(HTML, Markdown): ``out`` itself when it names a ``.html`` file, else ``index.html`` in the directory ``out``."""
    if out.suffix.lower() in (".html", ".htm"):
        return out, out.with_suffix(".md")
    return out / "index.html", out / "report.md"


def build_document(
    results_dir: Path, compare_record: Path | None = None
) -> tuple[Document, CompareRecord | None, list[str]]:
    """The report's document from the records, the compare shown and the records skipped; raise if nothing to show."""
    compare = chosen_compare(results_dir, compare_record)
    skipped: list[RecordError] = []
    sweeps = load_records(results_dir, "sweep", skipped)[-MAX_SWEEPS:]
    advice = load_records(results_dir, "advise", skipped)[-MAX_ADVICE:]
    if compare is None and not sweeps and not advice:
        if skipped:
            raise skipped[-1]
        raise LabError(f"no compare, sweep or advise records in {results_dir} (run `producer compare` first)")
    document = Document(TITLE)
    charts = chart_module()
    if charts is None:
        document.notes.append(CHARTS_MISSING)
    if compare is not None:
        document.sections.append(compare_section(*compare, charts))
    if advice:
        document.sections.append(Section("Advise (newest first)", "advise"))
        document.sections += [advise_section(path, record, charts) for path, record in reversed(advice)]
    if sweeps:
        document.sections.append(Section("Sweeps", "sweeps"))
        document.sections += [sweep_section(path, record, charts) for path, record in sweeps]
    return document, compare[1] if compare else None, [f"skipped: {error}" for error in skipped]


def render(results_dir: Path, out: Path, compare_record: Path | None = None) -> Report:
    """Write the HTML file (self-contained) and its Markdown twin; see :func:`output_paths` for where."""
    document, compare, skipped = build_document(results_dir, compare_record)
    html_path, markdown_path = output_paths(out)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(document))
    markdown_path.write_text(markdown(document))
    return Report(html_path, markdown_path, document, compare, skipped)
