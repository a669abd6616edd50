"""The compare table for the terminal (rich) and as Markdown: one row per workload × pool × Celery mode × broker."""

from __future__ import annotations

import math

from rich import box
from rich.table import Table

from producer.measure.cpu_share import BUSY_OTHERS_CORES
from producer.measure.figure_models import BrokerRatio, MemoryFigures, ModeRatio
from producer.measure.record_models import Cell, CompareRecord

HEADERS = (
    "workload",
    "pool",
    "celery",
    "broker",
    "slots",
    "tasks/s median [min–max]",
    "p50/p95 ms",
    "CPU/run ms",
    "× solo",
    "vs ideal",
    "PSS MiB peak / slot",
    "bottleneck",
    "fail/ lost",
    "check",
)
#: The terminal table's width at most; columns wrap at spaces to fit (``concurrency÷latency`` folds).
TABLE_WIDTH = 120
#: No column needs to keep a word wider than this unbroken.
MAX_WIDTHS = {"bottleneck": 12}
#: Left-aligned columns (the rest are figures, right-aligned).
TEXT_COLUMNS = ("workload", "pool", "celery", "broker", "bottleneck", "check")


def _num(value: float | None, fmt: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:{fmt}}{suffix}"


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _rate(value: float | None) -> str:
    """A range end: thousands from 10,000 up (``12k``), whole tasks/s from 100, one decimal below."""
    if value is not None and value >= 10_000:
        return f"{value / 1000:,.0f}k"
    return _num(value, ",.0f" if value is not None and value >= 100 else ",.1f")


def ratio_text(ratio: ModeRatio | None) -> str:
    """``1.42×`` (lab ÷ stock), ``~1.05×`` when within the repeats' noise, "" when there is none."""
    if ratio is None or ratio.lab_over_stock is None:
        return ""
    return f"{'' if ratio.beyond_noise else '~'}{ratio.lab_over_stock:.2f}×"


def memory_text(figures: MemoryFigures | None) -> str:
    """Peak PSS of a cell's or point's worker processes and that ÷ slots, MiB (– when not sampled)."""
    if figures is None or figures.peak_pss_mb is None:
        return "–"
    slot = figures.per_slot_pss_mb or 0.0
    return f"{figures.peak_pss_mb:,.0f}/{slot:,.{0 if slot >= 10 else 1}f}"


def broker_text(cell: Cell, ratio: BrokerRatio | None) -> str:
    """The broker, and on the rabbitmq row rabbitmq ÷ redis (``~`` within the repeats' noise)."""
    text = cell.broker or "–"
    if cell.broker == "rabbitmq" and ratio is not None and ratio.rabbitmq_over_redis is not None:
        text += f" {'' if ratio.beyond_noise else '~'}{ratio.rabbitmq_over_redis:.2f}×"
    return text


def cell_row(cell: Cell, ratio: ModeRatio | None = None, broker: BrokerRatio | None = None) -> list[str]:
    """The table cells of one workload × pool × mode × broker (``ratio``: lab ÷ stock, shown on the lab row;
    ``broker``: rabbitmq ÷ redis, on the rabbitmq row)."""
    tp = f"{_num(cell.throughput_median, ',.1f')} [{_rate(cell.throughput_min)}–{_rate(cell.throughput_max)}]"
    cpu = (
        f"{_num(_times(cell.thread_cpu_mean_s, 1000), ',.0f')}/{_num(_times(cell.run_time_mean_s, 1000), ',.0f')}"
        f" {_num(_times(cell.cpu_share, 100), '.0f', '%')}"
    )
    check = "ok" if cell.checks_agree else "DISAGREE"
    if cell.kind == "in-process":
        check = "n/a"
    others = cell.others_cores or 0.0
    if others >= BUSY_OTHERS_CORES:
        check = f"busy {others:.1f}" if check != "DISAGREE" else f"{check}, busy {others:.1f}"
    latency = f"{_num(_times(cell.latency_p50_s, 1000), ',.0f')}/{_num(_times(cell.latency_p95_s, 1000), ',.0f')}"
    celery = cell.celery or "–"
    if cell.celery == "lab" and ratio_text(ratio):
        celery += f" {ratio_text(ratio)}"
    return [
        cell.workload,
        cell.pool,
        celery,
        broker_text(cell, broker),
        str(cell.concurrency),
        tp,
        latency,
        cpu,
        _num(cell.speedup_vs_solo, ".2f", "×"),
        _num(_times(cell.efficiency, 100), ".0f", "%"),
        memory_text(cell.memory),
        cell.bottleneck.name,
        f"{cell.failed}/{cell.lost}",
        check,
    ]


def _ratios(record: CompareRecord) -> dict[tuple[str, str, str | None], ModeRatio]:
    return {(r.workload, r.pool, r.broker): r for r in record.mode_ratios}


def rows_of(record: CompareRecord) -> list[list[str]]:
    modes = _ratios(record)
    brokers = {(r.workload, r.pool, r.celery): r for r in record.broker_ratios}
    return [
        cell_row(
            cell,
            modes.get((cell.workload, cell.pool, cell.broker)) or modes.get((cell.workload, cell.pool, None)),
            brokers.get((cell.workload, cell.pool, cell.celery)),
        )
        for cell in record.cells
    ]


def shown_columns(record: CompareRecord) -> list[int]:
    """The columns shown: ``celery`` only when both modes ran, ``broker`` only when both brokers did."""
    hidden = {"celery": len(headlines(record)) <= 1, "broker": len(record.brokers) <= 1}
    return [i for i, header in enumerate(HEADERS) if not hidden.get(header, False)]


def _lines(text: str, width: int) -> int:
    """Lines ``text`` takes wrapped at spaces in ``width`` columns (a longer word folds)."""
    lines, used = 0, width
    for word in text.split():
        if used + 1 + len(word) <= width:
            used += 1 + len(word)
        else:
            lines += max(1, -(-len(word) // width))
            used = len(word) % width or width
    return max(lines, 1)


def _floor(texts: list[str], cap: int, most_lines: int | None) -> int:
    """The narrowest width at which every text fits in ``most_lines`` lines (None: no word is broken), ≤ ``cap``."""
    longest = max(len(text) for text in texts)
    words = max((len(word) for text in texts for word in text.split()), default=1)
    start = min(cap, words)
    if most_lines is None:
        return start
    return next((w for w in range(start, longest + 1) if all(_lines(t, w) <= most_lines for t in texts)), longest)


def fit_widths(columns: list[list[str]], caps: list[int], total: int) -> list[int]:
    """Column widths within ``total``: each as wide as its longest text, narrowed (most slack first) until every
    cell fits in two lines, then down to its longest word (at most its cap): text wraps at spaces, a figure never
    breaks."""
    widths = [max(len(text) for text in texts) for texts in columns]
    for most_lines in (2, None):
        floors = [_floor(texts, cap, most_lines) for texts, cap in zip(columns, caps, strict=True)]
        while sum(widths) > total:
            slack, index = max((w - f, i) for i, (w, f) in enumerate(zip(widths, floors, strict=True)))
            if slack <= 0:
                break
            widths[index] -= 1
    return widths


def headlines(record: CompareRecord) -> list[str]:
    """Which Celery ran, one line per mode (with the versions); older records: the environment's mode."""
    if record.celery_modes:
        return [mode.headline() for mode in record.celery_modes.values()]
    mode = record.environment.celery_mode
    return [mode.headline()] if mode else []


def broker_headline(record: CompareRecord) -> list[str]:
    """``--broker``: each broker, its version and where it came from (nothing when one broker ran)."""
    if len(record.brokers) <= 1:
        return []
    return [
        "brokers: "
        + "; ".join(f"{b.kind} {b.server_version or '?'} at {b.url} ({b.origin})" for b in record.brokers.values())
    ]


def compare_table(record: CompareRecord) -> Table:
    """The rich table of a compare record (cells in run order, baselines after the pools)."""
    title = "\n".join(
        [
            f"compare: {record.plan.count} tasks × {record.plan.repeat} repeat(s) per cell, "
            f"{record.environment.cores} cores",
            *headlines(record),
            *broker_headline(record),
        ]
    )
    table = Table(
        title=title,
        caption=caption(record),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    rows = rows_of(record)
    shown = shown_columns(record)
    columns = [[HEADERS[i], *(row[i] for row in rows)] for i in shown]
    widths = fit_widths(columns, [MAX_WIDTHS.get(HEADERS[i], 99) for i in shown], TABLE_WIDTH - len(shown) + 1)
    for index, width in zip(shown, widths, strict=True):
        header = HEADERS[index]
        table.add_column(header, justify="left" if header in TEXT_COLUMNS else "right", overflow="fold", width=width)
    previous = None
    for cell, row in zip(record.cells, rows, strict=True):
        if previous is not None and cell.workload != previous:
            table.add_section()
        previous = cell.workload
        style = (
            "dim"
            if cell.kind == "in-process"
            else ("red" if row[-1].startswith("DISAGREE") or cell.failed or cell.lost else None)
        )
        table.add_row(*(row[i] for i in shown), style=style)
    return table


def mode_lines(record: CompareRecord) -> list[str]:
    """Lab ÷ stock per cell (both modes ran), and what the lab mode changes."""
    lines = []
    if record.mode_ratios:
        on = len(record.brokers) > 1
        shown = [
            f"{r.workload}/{r.pool}{f' on {r.broker}' if on and r.broker else ''} {ratio_text(r)}"
            for r in record.mode_ratios
            if ratio_text(r)
        ]
        lines.append("lab ÷ stock (median tasks/s; ~ within the repeats' noise): " + ", ".join(shown))
    lab = record.celery_modes.get("lab")
    if lab is not None and lab.changes:
        lines.append("lab mode = stock Celery + " + "; ".join(lab.changes))
    return lines


def caption(record: CompareRecord) -> str:
    """Verdicts, stock vs lab, then how to read the columns."""
    verdict_lines = "\n".join([*record.verdicts.values(), *mode_lines(record)])
    env = record.environment
    if env.busy_before:
        verdict_lines += (
            f"\nNOTE: load {env.load_before} on {env.cores} cores before the run: others competed for the CPU"
        )
    return (
        f"{verdict_lines}\np50/p95: latency, enqueue → finish. "
        f"CPU/run = mean thread CPU time / mean run time per task (under threads on "
        f"`cpu`, well below 100%: the GIL made visible). vs ideal: CPU min(slots, cores)/t, "
        f"I/O slots/latency. PSS: the worker processes' memory at the batch's peak, shared pages split "
        f"among the processes sharing them (RSS would count a prefork parent's pages once per child); "
        f"/slot = ÷ slots. consumer ceiling: a no-op batch on the same workers, measured in this run. "
        f"check: ok = backend SCAN count and producer clock agree with the records; "
        f"busy N: they agree, but other processes kept N cores busy meanwhile (CPU figures low and noisy)."
    )


def bottleneck_lines(record: CompareRecord) -> list[str]:
    """One line per cell: the bottleneck and the figures that show it."""
    return [
        " / ".join(str(part) for part in (c.workload, c.pool, c.celery, c.broker) if part)
        + f": {c.bottleneck.name} — {c.bottleneck.figures}"
        for c in record.cells
    ]


def markdown_table(record: CompareRecord) -> str:
    """The same table in Markdown."""
    shown = shown_columns(record)
    lines = ["| " + " | ".join(HEADERS[i] for i in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(row[i] for i in shown) + " |" for row in rows_of(record)]
    return "\n".join(lines)
