"""A compare's verdict lines: per workload (and mode, and broker), the fastest Celery pool and by how much."""

from __future__ import annotations

from typing import Any

from config import catalogue
from producer.measure.cpu_share import BUSY_OTHERS_CORES


def verdicts(cells: list[dict[str, Any]]) -> dict[str, str]:
    """Per workload (and Celery mode, and broker, when more than one ran): the fastest Celery pool and by how much."""
    lines = {}
    for workload in dict.fromkeys(c["workload"] for c in cells):
        celery = [c for c in cells if c["workload"] == workload and c["kind"] == "celery"]
        sides = list(dict.fromkeys((c.get("celery"), c.get("broker")) for c in celery))
        many_modes = len({mode for mode, _ in sides}) > 1
        many_brokers = len({broker for _, broker in sides}) > 1
        for mode, broker in sides:
            parts = [str(p) for p, shown in ((mode, many_modes), (broker, many_brokers)) if shown]
            label = f"{workload} ({', '.join(parts)})" if parts else workload
            ranked = sorted(
                (c for c in celery if (c.get("celery"), c.get("broker")) == (mode, broker)),
                key=lambda c: -c["throughput_median"],
            )
            lines[label] = _verdict(label, workload, ranked, cells)
    return lines


def _verdict(label: str, workload: str, ranked: list[dict[str, Any]], cells: list[dict[str, Any]]) -> str:
    best = ranked[0]
    others = [
        f"{best['throughput_median'] / c['throughput_median']:.1f}× {c['pool']}"
        for c in ranked[1:]
        if c["throughput_median"] > 0
    ]
    line = f"{label}: {best['pool']} " + (", ".join(others) if others else "only pool measured")
    baseline = next(
        (
            c
            for c in cells
            if c["workload"] == workload
            and c["kind"] == "in-process"
            and catalogue.any_pool(c["pool"]).in_process == "threads"
        ),
        None,
    )
    if baseline and baseline["throughput_median"] > 0:
        line += f" (in-process threads: {baseline['throughput_median']:,.1f}/s)"
    busy = list(
        dict.fromkeys(
            c["pool"] for c in cells if c["workload"] == workload and c.get("others_cores", 0) >= BUSY_OTHERS_CORES
        )
    )
    if busy:
        line += f" — noisy: other processes kept ≥ {BUSY_OTHERS_CORES} core busy during {', '.join(busy)}"
    return line
