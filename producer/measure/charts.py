"""PNG charts (matplotlib, Agg backend) from compare and sweep records.

matplotlib is the ``charts`` extra: import this module only when charts are drawn (the report does,
and writes its pages without charts when the import fails).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

from config import catalogue
from producer.measure.record_models import CompareRecord, SweepRecord

matplotlib.use("Agg")
import matplotlib.pyplot as plt

#: A name no catalogue entry has (a record from an extension not loaded now) is drawn grey.
UNKNOWN_COLOUR = "#999999"


def colour(pool: str) -> str:
    """The pool's chart colour from the catalogue."""
    entry = catalogue.find_pool(pool)
    return entry.colour if entry else UNKNOWN_COLOUR


def _workloads(record: CompareRecord) -> list[str]:
    return list(dict.fromkeys(cell.workload for cell in record.cells))


def throughput_chart(record: CompareRecord, path: Path) -> Path:
    """One panel per workload: median tasks/s per pool, min–max as error bars; baselines hatched."""
    workloads = _workloads(record)
    figure, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        cells = [c for c in record.cells if c.workload == workload]
        names = [_label(c, record) for c in cells]
        medians = [_number(c.throughput_median) for c in cells]
        errors = [
            [max(0.0, m - _number(c.throughput_min, m)) for m, c in zip(medians, cells, strict=True)],
            [max(0.0, _number(c.throughput_max, m) - m) for m, c in zip(medians, cells, strict=True)],
        ]
        bars = axis.bar(range(len(cells)), medians, yerr=errors, capsize=3, color=[colour(c.pool) for c in cells])
        for bar, cell in zip(bars, cells, strict=True):
            if cell.kind == "in-process":
                bar.set_hatch("//")
        _label_panel(axis, range(len(cells)), names, workload, "tasks/s (median, min–max)")
    return _save(figure, "Throughput per pool (hatched: in-process baselines, no queue)", path)


def latency_chart(record: CompareRecord, path: Path) -> Path:
    """One panel per workload: box plots of enqueue→finish latency per pool (all measured runs)."""
    workloads = _workloads(record)
    figure, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        cells = [c for c in record.cells if c.workload == workload]
        samples = [
            [
                v * 1000
                for r in record.runs
                if r.workload == workload and r.pool == cell.pool and r.celery == cell.celery
                for v in r.latency_samples
            ]
            or [math.nan]
            for cell in cells
        ]
        axis.boxplot(samples, showfliers=False)
        names = [_label(c, record) for c in cells]
        _label_panel(axis, range(1, len(cells) + 1), names, workload, "latency, ms (enqueue → finish)")
    return _save(figure, "Latency distribution per pool (box: p25–p75, whiskers: 1.5 IQR)", path)


def _label(cell: Any, record: CompareRecord) -> str:
    """The cell's pool, with its Celery mode when the record has both (``--celery both``)."""
    return f"{cell.pool} ({cell.celery})" if cell.celery and len(record.celery_modes) > 1 else cell.pool


def _number(value: float | None, missing: float = 0.0) -> float:
    """A figure to draw: ``missing`` for a value the record lacks (null, NaN)."""
    return missing if value is None or math.isnan(value) else value


def _label_panel(axis: Any, ticks: range, names: list[str], title: str, ylabel: str) -> None:
    """Pool names under the ticks, a title and a y label, horizontal grid lines."""
    axis.set_xticks(ticks, names, rotation=35, ha="right", fontsize=8)
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    axis.grid(axis="y", alpha=0.3)


def _save(figure: Any, title: str, path: Path) -> Path:
    """Title, lay out, write the PNG and free the figure."""
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def sweep_chart(record: SweepRecord, path: Path) -> Path:
    """Measured throughput per sweep point, with the ideal line (and for --workers, the Redis limit)."""
    points = record.points
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    modes = list(dict.fromkeys(p.celery for p in points))  # --celery both: one line per mode
    for mode, line_colour in zip(modes, ("#1f77b4", "#ff7f0e"), strict=False):
        own = [p for p in points if p.celery == mode]
        label = f"measured ({mode})" if len(modes) > 1 else "measured"
        axis.plot([p.x for p in own], [p.throughput for p in own], "o-", label=label, color=line_colour)
    points = [p for p in points if p.celery == modes[0]]  # the ideal and the ticks: one mode's points
    xs = [p.x for p in points]
    axis.plot(xs, [_number(p.ideal, math.nan) for p in points], "--", label=record.ideal_label, color="#7f7f7f")
    redis_limit = record.redis_limit_tps
    if redis_limit:
        axis.axhline(redis_limit, color="#d62728", linestyle=":", label=f"Redis probe ≈ {redis_limit:,.0f}/s")
    ceiling = record.consumer_ceiling_tps
    if ceiling and record.mode == "concurrency":
        axis.axhline(ceiling, color="#9467bd", linestyle=":", label=f"one consumer ≈ {ceiling:,.0f}/s")
    axis.set_xscale("log", base=2)
    axis.set_xticks(xs, [str(x) for x in xs])
    axis.set_xlabel(record.x_label)
    axis.set_ylabel("tasks/s")
    measured_top = max([p.throughput for p in record.points] + [1.0])
    if redis_limit:  # tasks/s and the Redis ceiling are orders of magnitude apart: log scale shows both
        axis.set_yscale("log")
        axis.set_ylim(max(1.0, min(p.throughput for p in record.points) / 2), redis_limit * 2)
    else:
        axis.set_ylim(0, max(measured_top * 1.3, (ceiling or 0) * 1.1))
    axis.set_title(record.title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
