"""PNG charts (matplotlib, Agg backend) from compare and sweep records."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

POOL_COLOURS = {"prefork": "#1f77b4", "threads": "#ff7f0e", "solo": "#7f7f7f", "gevent": "#2ca02c",
                "threads_nogil": "#d62728", "inproc-threads": "#ffbb78", "inproc-processes": "#aec7e8"}


def _workloads(record: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(cell["workload"] for cell in record["cells"]))


def throughput_chart(record: dict[str, Any], path: Path) -> Path:
    """One panel per workload: median tasks/s per pool, min–max as error bars; baselines hatched."""
    workloads = _workloads(record)
    figure, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        cells = [c for c in record["cells"] if c["workload"] == workload]
        names = [c["pool"] for c in cells]
        medians = [c["throughput_median"] or 0.0 for c in cells]
        errors = [[max(0.0, m - (c["throughput_min"] or m)) for m, c in zip(medians, cells, strict=True)],
                  [max(0.0, (c["throughput_max"] or m) - m) for m, c in zip(medians, cells, strict=True)]]
        bars = axis.bar(range(len(cells)), medians, yerr=errors, capsize=3,
                        color=[POOL_COLOURS.get(n, "#999999") for n in names])
        for bar, cell in zip(bars, cells, strict=True):
            if cell["kind"] == "in-process":
                bar.set_hatch("//")
        _label_panel(axis, range(len(cells)), names, workload, "tasks/s (median, min–max)")
    return _save(figure, "Throughput per pool (hatched: in-process baselines, no queue)", path)


def latency_chart(record: dict[str, Any], path: Path) -> Path:
    """One panel per workload: box plots of enqueue→finish latency per pool (all measured runs)."""
    workloads = _workloads(record)
    figure, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.2), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        pools = [c["pool"] for c in record["cells"] if c["workload"] == workload]
        samples = [[v * 1000 for r in record["runs"] if r["workload"] == workload and r["pool"] == pool
                    for v in r["latency_samples"]] or [math.nan] for pool in pools]
        axis.boxplot(samples, showfliers=False)
        _label_panel(axis, range(1, len(pools) + 1), pools, workload, "latency, ms (enqueue → finish)")
    return _save(figure, "Latency distribution per pool (box: p25–p75, whiskers: 1.5 IQR)", path)


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


def sweep_chart(record: dict[str, Any], path: Path) -> Path:
    """Measured throughput per sweep point, with the ideal line (and for --workers, the Redis limit)."""
    points = record["points"]
    xs = [p["x"] for p in points]
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    axis.plot(xs, [p["throughput"] for p in points], "o-", label="measured", color="#1f77b4")
    axis.plot(xs, [p["ideal"] for p in points], "--", label=record.get("ideal_label", "ideal"), color="#7f7f7f")
    redis_limit = record.get("redis_limit_tps")
    if redis_limit:
        axis.axhline(redis_limit, color="#d62728", linestyle=":", label=f"Redis probe ≈ {redis_limit:,.0f}/s")
    ceiling = record.get("consumer_ceiling_tps")
    if ceiling and record.get("mode") == "concurrency":
        axis.axhline(ceiling, color="#9467bd", linestyle=":", label=f"one consumer ≈ {ceiling:,.0f}/s")
    axis.set_xscale("log", base=2)
    axis.set_xticks(xs, [str(x) for x in xs])
    axis.set_xlabel(record.get("x_label", "x"))
    axis.set_ylabel("tasks/s")
    measured_top = max([p["throughput"] for p in points] + [1.0])
    if redis_limit:  # tasks/s and the Redis ceiling are orders of magnitude apart: log scale shows both
        axis.set_yscale("log")
        axis.set_ylim(max(1.0, min(p["throughput"] for p in points) / 2), redis_limit * 2)
    else:
        axis.set_ylim(0, max(measured_top * 1.3, (ceiling or 0) * 1.1))
    axis.set_title(record.get("title", "sweep"), fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
