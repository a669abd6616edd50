"""PNG charts (matplotlib, Agg backend) from compare, sweep and advise records, returned as bytes.

matplotlib is the ``charts`` extra: import this module only when charts are drawn (the report does,
and writes its pages without charts when the import fails).

Readability choices: the in-process baselines (no queue, no Celery: 60× a pool on no-op) get their
own row of panels on their own linear scale, each bar labelled with its ratio to the best pool, so the
pools above stay full height; both Celery modes of a ``--celery both`` compare are grouped bars side
by side (lab hatched); every bar carries its value.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import matplotlib

from producer.measure.advise_record import AdviseRecord
from producer.measure.chart_style import colour, side_hatch
from producer.measure.record_models import Cell, CompareRecord
from producer.measure.record_views import brokers, cell_side, run_side, sides
from producer.measure.report_runs import trial_label
from producer.measure.sweep_record import SweepRecord

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch


def _number(value: float | None, missing: float = 0.0) -> float:
    """A figure to draw: ``missing`` for a value the record lacks (null, NaN)."""
    return missing if value is None or math.isnan(value) else value


def _short(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"


def _grid(rows: int, columns: int, ratios: list[int] | None = None) -> tuple[Any, Any]:
    return plt.subplots(
        rows,
        columns,
        figsize=(max(4.6 * columns, 6.0), 3.4 * rows + 0.8),
        squeeze=False,
        gridspec_kw={"height_ratios": ratios} if ratios else None,
    )


def _bars(
    axis: Any,
    record: CompareRecord,
    cells: list[Cell],
    value: Callable[[Cell], float | None],
    spread: Callable[[Cell], tuple[float | None, float | None]] | None = None,
    labels: Callable[[Cell, float], str] | None = None,
    marks: Callable[[Cell], float | None] | None = None,
) -> None:
    """Bars per pool; one bar per Celery mode (and broker) side by side (grouped) when the compare ran several."""
    pools = list(dict.fromkeys(c.pool for c in cells))
    groups = sides(record) if any(c.kind == "celery" for c in cells) else [None]
    width = 0.8 / len(groups)
    for index, mode in enumerate(groups):
        found = [
            (i, c) for i, pool in enumerate(pools) for c in cells if c.pool == pool and cell_side(record, c) == mode
        ]
        if not found:
            continue
        xs = [i - 0.4 + width * (index + 0.5) for i, _ in found]
        heights = [_number(value(c)) for _, c in found]
        errors = None
        if spread is not None:
            lows, highs = zip(*(spread(c) for _, c in found), strict=True)
            errors = [
                [max(0.0, h - _number(low, h)) for h, low in zip(heights, lows, strict=True)],
                [max(0.0, _number(high, h) - h) for h, high in zip(heights, highs, strict=True)],
            ]
        hatch = "//" if found[0][1].kind == "in-process" else side_hatch(mode)
        bars = axis.bar(xs, heights, width, yerr=errors, capsize=3, color=[colour(c.pool) for _, c in found])
        for bar in bars:
            bar.set_hatch(hatch)
            bar.set_edgecolor("#333333" if hatch else bar.get_facecolor())
        texts = [labels(c, h) if labels else _short(h) for (_, c), h in zip(found, heights, strict=True)]
        axis.bar_label(bars, labels=texts, fontsize=7, padding=2)
        marked = [(x, marks(c)) for x, (_, c) in zip(xs, found, strict=True) if marks and marks(c)]
        if marked:
            axis.scatter(*zip(*marked, strict=True), marker="_", s=260 * width, color="black", zorder=3, label="idle")
    axis.set_xticks(range(len(pools)), pools, rotation=30, ha="right", fontsize=8)
    axis.set_xlim(-0.6, max(len(pools), 2) - 0.4)
    axis.margins(y=0.15)
    axis.grid(axis="y", alpha=0.3)
    handles = axis.get_legend_handles_labels()[0][:1] if marks else []
    if len(groups) > 1:
        handles += [Patch(facecolor="#cccccc", edgecolor="#333333", hatch=side_hatch(m), label=m) for m in groups]
    if handles:
        title = ("Celery, broker" if brokers(record) else "Celery") if len(groups) > 1 else None
        axis.legend(handles=handles, fontsize=7, title=title, title_fontsize=7)


def _png(figure: Any, title: str) -> bytes:
    """Title, lay out, render the PNG and free the figure."""
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _workloads(record: CompareRecord) -> list[str]:
    return list(dict.fromkeys(cell.workload for cell in record.cells))


def throughput_chart(record: CompareRecord) -> bytes:
    """Per workload: median tasks/s per pool with min–max whiskers; baselines in a second row, own scale."""
    workloads = _workloads(record)
    with_baselines = any(c.kind == "in-process" for c in record.cells)
    figure, axes = _grid(2 if with_baselines else 1, len(workloads), [3, 2] if with_baselines else None)
    for column, workload in enumerate(workloads):
        pools = [c for c in record.cells if c.workload == workload and c.kind == "celery"]
        spread = lambda c: (c.throughput_min, c.throughput_max)  # noqa: E731
        _bars(axes[0][column], record, pools, lambda c: c.throughput_median, spread)
        axes[0][column].set_title(workload)
        axes[0][column].set_ylabel("Celery pools: tasks/s")
        if not with_baselines:
            continue
        best = max([_number(c.throughput_median) for c in pools] + [0.0])
        inproc = [c for c in record.cells if c.workload == workload and c.kind == "in-process"]

        def versus_best(cell: Cell, height: float, best: float = best) -> str:
            return f"{_short(height)}/s = {height / best:,.1f}× best pool" if best else _short(height)

        _bars(axes[1][column], record, inproc, lambda c: c.throughput_median, spread, versus_best)
        axes[1][column].set_ylabel("in-process: tasks/s\n(own scale)")
    title = "Throughput per pool (median; whiskers: min–max over the repeats)"
    if with_baselines:
        title += "\nlower row: in-process baselines (no queue, no Celery) on their own scale"
    return _png(figure, title)


def latency_chart(record: CompareRecord) -> bytes:
    """Per workload: box plots of enqueue→finish latency per pool (and per Celery mode), all measured runs."""
    workloads = _workloads(record)
    figure, axes = _grid(1, len(workloads))
    split = len([side for side in sides(record) if side]) > 1
    for axis, workload in zip(axes[0], workloads, strict=True):
        cells = [c for c in record.cells if c.workload == workload]
        samples = [
            [
                v * 1000
                for r in record.runs
                if r.workload == workload and r.pool == c.pool and run_side(record, r) == cell_side(record, c)
                for v in r.latency_samples
            ]
            or [math.nan]
            for c in cells
        ]
        names = [c.pool + (f"\n{cell_side(record, c)}" if split and cell_side(record, c) else "") for c in cells]
        boxes = axis.boxplot(samples, showfliers=False, patch_artist=True, medianprops={"color": "black"})
        for box, cell in zip(boxes["boxes"], cells, strict=True):
            box.set_facecolor(colour(cell.pool))
            box.set_alpha(0.6)
            box.set_hatch("//" if cell.kind == "in-process" else side_hatch(cell_side(record, cell)))
        axis.set_xticks(range(1, len(cells) + 1), names, rotation=30, ha="right", fontsize=8)
        axis.set_title(workload)
        axis.set_ylabel("latency, ms (enqueue → finish)")
        axis.grid(axis="y", alpha=0.3)
    return _png(figure, "Latency per pool (box: p25–p75, whiskers: 1.5 IQR; hatched //: in-process)")


def memory_chart(record: CompareRecord) -> bytes | None:
    """Per workload: peak PSS of the workers (idle marked) and peak PSS per slot; None when nothing was measured."""
    cells = [c for c in record.cells if c.memory is not None and c.memory.peak_pss_mb is not None]
    if not cells:
        return None
    workloads = list(dict.fromkeys(c.workload for c in cells))
    figure, axes = _grid(2, len(workloads))
    for column, workload in enumerate(workloads):
        mine = [c for c in cells if c.workload == workload]
        total, per_slot = axes[0][column], axes[1][column]
        idle = lambda c: c.memory.idle_pss_mb if c.memory else None  # noqa: E731
        _bars(total, record, mine, lambda c: c.memory.peak_pss_mb if c.memory else None, marks=idle)
        total.set_title(workload)
        total.set_ylabel("peak PSS, MiB\n(all worker processes)")
        _bars(per_slot, record, mine, lambda c: c.memory.per_slot_pss_mb if c.memory else None)
        per_slot.set_ylabel("peak PSS per slot, MiB")
    return _png(figure, "Worker memory per pool (bars: peak PSS; — idle)\nPSS splits shared pages among the processes")


def sweep_chart(record: SweepRecord) -> bytes:
    """Measured throughput per point with the ideal line (and limits); a memory panel when points carry memory."""
    points = record.points
    with_memory = any(p.memory is not None and p.memory.peak_pss_mb for p in points)
    figure, axes = plt.subplots(1, 2 if with_memory else 1, figsize=(12.0 if with_memory else 6.4, 4.4), squeeze=False)
    axis = axes[0][0]
    # --celery both / --broker redis,rabbitmq: one line per mode and broker
    sides = list(dict.fromkeys((p.celery, p.broker) for p in points))
    shown = [len({side[i] for side in sides}) > 1 for i in (0, 1)]
    for side, line_colour in zip(sides, ("#1f77b4", "#ff7f0e", "#2ca02c", "#8c564b"), strict=False):
        own = [p for p in points if (p.celery, p.broker) == side]
        label = ", ".join(str(v) for v, show in zip(side, shown, strict=True) if show and v)
        axis.plot(
            [p.x for p in own],
            [p.throughput for p in own],
            "o-",
            label=f"measured ({label})" if label else "measured",
            color=line_colour,
        )
    points = [p for p in points if (p.celery, p.broker) == sides[0]]  # the ideal and the ticks: one side's points
    xs = [p.x for p in points]
    axis.plot(xs, [_number(p.ideal, math.nan) for p in points], "--", label=record.ideal_label, color="#7f7f7f")
    redis_limit = record.redis_limit_tps
    if redis_limit:
        first = next(iter(record.brokers), "redis")
        axis.axhline(redis_limit, color="#d62728", linestyle=":", label=f"{first} probe ≈ {redis_limit:,.0f}/s")
    ceilings = [_number(p.consumer_ceiling_tps, math.nan) for p in points]
    ceiling = record.consumer_ceiling_tps
    if any(not math.isnan(c) for c in ceilings):
        axis.plot(xs, ceilings, ":", color="#9467bd", label="consumer ceiling (measured no-op)")
    elif ceiling and record.mode == "concurrency":
        axis.axhline(ceiling, color="#9467bd", linestyle=":", label=f"one consumer ≈ {ceiling:,.0f}/s")
    axis.set_xscale("log", base=2)
    axis.set_xticks(xs, [str(x) for x in xs])
    axis.set_xlabel(record.x_label)
    axis.set_ylabel("tasks/s")
    if redis_limit:  # tasks/s and the Redis ceiling are orders of magnitude apart: log scale shows both
        axis.set_yscale("log")
        axis.set_ylim(max(1.0, min(p.throughput for p in record.points) / 2), redis_limit * 2)
        axis.set_ylabel("tasks/s (log scale)")
    else:
        top = max([p.throughput for p in points] + [1.0] + [c for c in ceilings if not math.isnan(c)])
        axis.set_ylim(0, max(top * 1.3, (ceiling or 0) * 1.1))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    if with_memory:
        _sweep_memory(axes[0][1], record)
    return _png(figure, record.title)


def _sweep_memory(axis: Any, record: SweepRecord) -> None:
    xs = [p.x for p in record.points]
    total = [_number(p.memory.peak_pss_mb if p.memory else None, math.nan) for p in record.points]
    per_slot = [_number(p.memory.per_slot_pss_mb if p.memory else None, math.nan) for p in record.points]
    axis.plot(xs, total, "o-", color="#2ca02c", label="peak PSS, all processes")
    axis.set_ylabel("peak PSS, MiB (all worker processes)")
    axis.set_xscale("log", base=2)
    axis.set_xticks(xs, [str(x) for x in xs])
    axis.set_xlabel(record.x_label)
    axis.set_ylim(0, max([t for t in total if not math.isnan(t)] + [1.0]) * 1.25)
    axis.grid(alpha=0.3)
    slots = axis.twinx()
    slots.plot(xs, per_slot, "s--", color="#8c564b", label="peak PSS per slot")
    slots.set_ylabel("peak PSS per slot, MiB")
    slots.set_ylim(0, max([s for s in per_slot if not math.isnan(s)] + [0.1]) * 1.25)
    lines = axis.get_legend_handles_labels()[0] + slots.get_legend_handles_labels()[0]
    axis.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper left")
    axis.set_title("Worker memory per point", fontsize=10)


def advise_chart(record: AdviseRecord) -> bytes:
    """Every trial's tasks/s, in the order tried: the pick outlined, those a constraint ruled out faded."""
    trials = record.trials
    pick = record.recommendation.trial if record.recommendation else None
    figure, axis = plt.subplots(figsize=(9.0, 1.2 + 0.42 * len(trials)))
    ys = list(range(len(trials)))[::-1]
    values = [_number(t.throughput) for t in trials]
    bars = axis.barh(ys, values, color=[colour(t.pool) for t in trials], height=0.7)
    for bar, trial in zip(bars, trials, strict=True):
        if trial.ruled_out:
            bar.set_alpha(0.35)
            bar.set_hatch("xx")
        if pick is not None and trial.model_dump() == pick.model_dump():
            bar.set_edgecolor("black")
            bar.set_linewidth(2.5)
    texts = []
    for trial, value in zip(trials, values, strict=True):
        p95 = f", p95 {trial.latency_p95_s * 1000:,.0f} ms" if trial.latency_p95_s is not None else ""
        memory = trial.memory.peak_pss_mb if trial.memory else None
        texts.append(f"{_short(value)}/s{p95}" + (f", {memory:,.0f} MiB" if memory else ""))
    axis.bar_label(bars, labels=texts, fontsize=7, padding=3)
    axis.set_yticks(ys, [f"{trial_label(t)} ({t.celery})" for t in trials], fontsize=8)
    axis.set_xlabel("tasks/s")
    axis.margins(x=0.35)
    axis.grid(axis="x", alpha=0.3)
    return _png(figure, "Advise: every trial (outlined: the recommendation; faded ×: ruled out by a constraint)")
