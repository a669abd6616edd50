"""`producer diff A B`: per-cell changes between two compare records, and an exit status a CI job can gate on."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.settings import get_settings
from producer.console import err, out
from producer.errors import BadInput

if TYPE_CHECKING:
    from rich.table import Table

    from producer.measure.diff import Change, Diff
    from producer.measure.record_models import CompareRecord

#: Names that stand for the newest and the second-newest compare record in the results directory.
ALIASES = {"latest": -1, "previous": -2}
HELP = (
    "Per cell (workload × pool × Celery mode): B ÷ A for throughput, p95 latency and peak memory, with "
    "noise bounds from each side's repeats. A and B are compare records, or `latest` / `previous` (the "
    "newest and second-newest in the results directory). A cell is worse when it changed by more than the "
    "threshold AND beyond the noise: throughput B.max < A.min × (1 − t); p95 or memory B.min > A.max × (1 + t). "
    "Exit status 1 when a gated metric of any cell is worse, 0 otherwise, 2 on bad input. Cells in only "
    "one record are listed and do not fail."
)


def resolve(name: str, results_dir: Path) -> Path:
    """A record path, or the compare that ``latest`` / ``previous`` names in ``results_dir``."""
    if name not in ALIASES:
        return Path(name)
    from producer.measure.records import record_paths

    paths = record_paths(results_dir, "compare")
    index = ALIASES[name]
    if len(paths) < -index:
        raise BadInput(f"{name}: {results_dir} holds {len(paths)} compare record(s), {name!r} needs {-index}")
    return paths[index]


def load(path: Path) -> CompareRecord:
    """The compare record at ``path``; bad input (exit 2, one line) when it is missing, not one, or too new."""
    from producer.measure.records import RecordError, load_record

    try:
        return load_record(path, "compare")
    except RecordError as error:
        raise BadInput(str(error)) from None


def _with_range(mid: float | None, low: float | None, high: float | None) -> str:
    if mid is None:
        return "–"
    spread = f" [{low:,.1f}–{high:,.1f}]" if low is not None and high is not None and low != high else ""
    return f"{mid:,.1f}{spread}"


def _ratio(change: Change | None) -> str:
    if change is None or change.ratio is None:
        return "–"
    bounds = ""
    if change.ratio_low is not None and change.ratio_high is not None:
        bounds = f" [{change.ratio_low:.2f}–{change.ratio_high:.2f}]"
    return f"{change.ratio:.2f}×{bounds}"


def _short(change: Change | None, factor: float, unit: str) -> str:
    """``20 → 24 ms (1.20×)`` ("–" when either side lacks the figure)."""
    if change is None or change.a is None or change.b is None:
        return "–"
    times = f" ({change.ratio:.2f}×)" if change.ratio is not None else ""
    mark = " worse" if change.verdict == "worse" else ""
    return f"{change.a * factor:,.0f} → {change.b * factor:,.0f} {unit}{times}{mark}"


def diff_table(result: Diff) -> Table:
    """The rich table: one row per cell, A and B with repeat ranges, B ÷ A with its noise bounds, the verdict."""
    from rich.table import Table
    from rich.text import Text

    from producer.measure.diff import RULE

    table = Table(
        title=Text(f"diff: A = {result.a_path.name}, B = {result.b_path.name}; threshold {result.threshold:.0%}"),
        caption=Text("\n".join([*result.notes, f"{RULE}; gate: {', '.join(result.gate)}"])),
    )
    headers = ("cell", "A tasks/s [min–max]", "B tasks/s [min–max]", "B ÷ A [noise]", "p95 latency", "peak PSS")
    for header in headers:
        table.add_column(header, justify="left" if header == "cell" else "right", overflow="fold")
    table.add_column("verdict")
    for cell in result.cells:
        if cell.found != "both":
            table.add_row(Text(cell.name), *["–"] * 5, Text(cell.found), style="yellow")
            continue
        tp, p95, pss = (cell.changes.get(m) for m in ("throughput", "latency_p95", "peak_pss"))
        worse = cell.worse(result.gate)
        verdicts = {c.verdict for c in (tp, p95, pss) if c}
        verdict = "WORSE: " + ", ".join(worse) if worse else "better" if "better" in verdicts else "within noise"
        table.add_row(
            Text(cell.name),
            _with_range(tp.a, tp.a_low, tp.a_high) if tp else "–",
            _with_range(tp.b, tp.b_low, tp.b_high) if tp else "–",
            _ratio(tp),
            _short(p95, 1000, "ms"),
            _short(pss, 1, "MiB"),
            Text(verdict),
            style="red" if worse else "green" if verdict == "better" else None,
        )
    return table


def parse_gate(gate: str) -> list[str]:
    """The metrics that fail the gate (``throughput,latency_p95,peak_pss``)."""
    from producer.measure.diff import METRICS

    chosen = [name.strip() for name in gate.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in METRICS]
    if unknown or not chosen:
        raise BadInput(f"--gate: {', '.join(unknown) or 'nothing'}: choose from {', '.join(METRICS)}")
    return chosen


def diff(
    a: Annotated[str, typer.Argument(metavar="A", help="the earlier compare record (a path, `latest` or `previous`)")],
    b: Annotated[str, typer.Argument(metavar="B", help="the later compare record (a path, `latest` or `previous`)")],
    threshold: Annotated[float, typer.Option(help="percent a cell may get worse before it counts")] = 10.0,
    gate: Annotated[
        str, typer.Option(help="metrics that fail the check: throughput, latency_p95, peak_pss (comma-separated)")
    ] = "throughput",
    results_dir: Annotated[Path | None, typer.Option(help="where `latest` / `previous` are looked up")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the diff as JSON on stdout (no table)")] = False,
) -> None:
    """Per-cell changes B ÷ A with noise bounds; exit 1 when a cell got worse beyond the threshold and the noise."""
    from producer.measure.diff import diff as compute

    if not math.isfinite(threshold) or not 0 <= threshold < 100:
        raise BadInput(f"--threshold must be a percentage from 0 to below 100, got {threshold}")
    metrics = parse_gate(gate)
    source = results_dir or get_settings().results_dir
    a_path, b_path = resolve(a, source), resolve(b, source)
    result = compute(a_path, load(a_path), b_path, load(b_path), threshold / 100, metrics)
    if as_json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        out.print(diff_table(result))
    worse = result.worse()
    if worse:
        names = ", ".join(f"{cell.name}: {'/'.join(cell.worse(metrics))}" for cell in worse)
        err.print(f"diff: {len(worse)} cell(s) worse beyond {threshold:g}% and the noise: {names}", markup=False)
        raise typer.Exit(1)
    err.print(f"diff: no cell worse beyond {threshold:g}% and the noise", markup=False)
