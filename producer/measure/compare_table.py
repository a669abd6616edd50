"""The compare table for the terminal (rich) and as Markdown: one row per workload × pool."""

from __future__ import annotations

import math

from rich.table import Table

from producer.measure.cpu_share import BUSY_OTHERS_CORES
from producer.measure.record_models import Cell, CompareRecord

HEADERS = (
    "workload",
    "pool",
    "slots",
    "tasks/s median [min–max]",
    "latency p50/p95",
    "thread CPU/run",
    "× solo",
    "vs ideal",
    "bottleneck",
    "fail/lost",
    "check",
)


def _num(value: float | None, fmt: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:{fmt}}{suffix}"


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _ms(seconds: float | None) -> str:
    return _num(None if seconds is None else seconds * 1000, ",.0f", " ms")


def cell_row(cell: Cell) -> list[str]:
    """The table cells of one workload × pool."""
    tp = (
        f"{_num(cell.throughput_median, ',.1f')} "
        f"[{_num(cell.throughput_min, ',.1f')}–{_num(cell.throughput_max, ',.1f')}]"
    )
    cpu = (
        f"{_num(_times(cell.thread_cpu_mean_s, 1000), ',.0f')}/{_ms(cell.run_time_mean_s)}"
        f" {_num(_times(cell.cpu_share, 100), '.0f', '%')}"
    )
    check = "ok" if cell.checks_agree else "DISAGREE"
    if cell.kind == "in-process":
        check = "n/a"
    others = cell.others_cores or 0.0
    if others >= BUSY_OTHERS_CORES:
        check += f", busy {others:.1f}"
    latency = f"{_num(_times(cell.latency_p50_s, 1000), ',.0f')}/{_ms(cell.latency_p95_s)}"
    return [
        cell.workload,
        cell.pool,
        str(cell.concurrency),
        tp,
        latency,
        cpu,
        _num(cell.speedup_vs_solo, ".2f", "×"),
        _num(_times(cell.efficiency, 100), ".0f", "%"),
        cell.bottleneck.name,
        f"{cell.failed}/{cell.lost}",
        check,
    ]


def compare_table(record: CompareRecord) -> Table:
    """The rich table of a compare record (cells in run order, baselines after the pools)."""
    mode = record.environment.celery_mode
    table = Table(
        title=f"compare: {record.plan.count} tasks × {record.plan.repeat} repeat(s) per cell, "
        f"{record.environment.cores} cores" + (f"\n{mode.headline()}" if mode else ""),
        caption=caption(record),
    )
    for header in HEADERS:
        table.add_column(
            header,
            justify="left" if header in ("workload", "pool", "bottleneck", "check") else "right",
            overflow="fold",
        )
    previous = None
    for cell in record.cells:
        if previous is not None and cell.workload != previous:
            table.add_section()
        previous = cell.workload
        row = cell_row(cell)
        style = (
            "dim"
            if cell.kind == "in-process"
            else ("red" if row[-1].startswith("DISAGREE") or cell.failed or cell.lost else None)
        )
        table.add_row(*row, style=style)
    return table


def caption(record: CompareRecord) -> str:
    """Verdicts, then how to read the columns."""
    verdict_lines = "\n".join(record.verdicts.values())
    env = record.environment
    if env.busy_before:
        verdict_lines += (
            f"\nNOTE: load {env.load_before} on {env.cores} cores before the run: others competed for the CPU"
        )
    return (
        f"{verdict_lines}\nCPU/run = mean thread CPU time / mean run time per task (under threads on "
        f"`cpu`, well below 100%: the GIL made visible). vs ideal: CPU min(slots, cores)/t, "
        f"I/O slots/latency. check: backend SCAN count and producer clock agree with the records; "
        f"busy N: other processes kept N cores busy meanwhile (CPU figures low and noisy)."
    )


def bottleneck_lines(record: CompareRecord) -> list[str]:
    """One line per cell: the bottleneck and the figures that show it."""
    return [f"{c.workload} / {c.pool}: {c.bottleneck.name} — {c.bottleneck.figures}" for c in record.cells]


def markdown_table(record: CompareRecord) -> str:
    """The same table in Markdown."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell_row(cell)) + " |" for cell in record.cells]
    return "\n".join(lines)
