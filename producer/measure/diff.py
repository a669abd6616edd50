"""`producer diff A B`: per cell (workload × pool × Celery mode), B against A, with noise bounds from the repeats.

Each side's noise is its repeats' range: throughput min–max of the cell, and the runs' own p95 latency
and peak PSS min–max. The rule, for a threshold t (10 % by default):

- throughput is **worse** when B's best repeat is below A's worst × (1 − t)  (``B.max < A.min × (1 − t)``),
  **better** when B's worst is above A's best × (1 + t);
- p95 latency and peak memory (lower is better) are worse when ``B.min > A.max × (1 + t)``.

So a change counts only when it is bigger than the threshold *and* no pair of repeats overlaps it.
Cells found in one record only are listed and never fail the gate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from producer.measure.record_models import Cell, CompareRecord, Run
from producer.measure.record_views import IN_PROCESS, cell_side, finite, ratio, run_side

#: The metrics compared, and whether a higher value is better.
METRICS: dict[str, bool] = {"throughput": True, "latency_p95": False, "peak_pss": False}
UNKNOWN_MODE = "?"
RULE = (
    "worse: throughput B.max < A.min × (1 − t); p95 latency or peak PSS B.min > A.max × (1 + t) "
    "(min/max over each side's repeats)"
)


@dataclass
class Change:
    """One metric of one cell on both sides: medians, repeat ranges, B ÷ A and its noise bounds, the verdict."""

    a: float | None
    a_low: float | None
    a_high: float | None
    b: float | None
    b_low: float | None
    b_high: float | None
    ratio: float | None
    #: B ÷ A at its most pessimistic and optimistic pairing of repeats (B.min ÷ A.max, B.max ÷ A.min).
    ratio_low: float | None
    ratio_high: float | None
    verdict: str  # "worse", "better", "within noise", "missing"


@dataclass
class CellDiff:
    """A cell's key, where it was found ("both", "only in A", "only in B") and its changes by metric."""

    workload: str
    pool: str
    mode: str
    found: str
    changes: dict[str, Change] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``cpu / prefork (stock)``."""
        return f"{self.workload} / {self.pool} ({self.mode})"

    def worse(self, gate: list[str]) -> list[str]:
        """The gated metrics that got worse beyond the threshold and the noise."""
        return [metric for metric in gate if metric in self.changes and self.changes[metric].verdict == "worse"]


@dataclass
class Diff:
    """Every cell of A and B, what differs between the two runs' setups, and the rule's parameters."""

    a_path: Path
    b_path: Path
    threshold: float
    gate: list[str]
    cells: list[CellDiff]
    notes: list[str]

    def worse(self) -> list[CellDiff]:
        """Cells a gated metric of which got worse: the gate fails when there is any."""
        return [cell for cell in self.cells if cell.worse(self.gate)]

    def as_json(self) -> dict[str, Any]:
        """The diff as plain JSON values (``--json``)."""
        return {
            "a": str(self.a_path),
            "b": str(self.b_path),
            "threshold": self.threshold,
            "gate": self.gate,
            "rule": RULE,
            "cells": [asdict(cell) | {"worse": cell.worse(self.gate)} for cell in self.cells],
            "worse": [cell.name for cell in self.worse()],
            "notes": self.notes,
        }


def _spread(values: list[float | None], central: float | None) -> tuple[float | None, float | None]:
    found = [v for v in (finite(x) for x in values) if v is not None]
    if not found:
        return central, central
    return min(found), max(found)


def _runs(record: CompareRecord, cell: Cell) -> list[Run]:
    side = cell_side(record, cell)
    return [
        r for r in record.runs if r.workload == cell.workload and r.pool == cell.pool and run_side(record, r) == side
    ]


def figures(record: CompareRecord, cell: Cell, metric: str) -> tuple[float | None, float | None, float | None]:
    """(median, low, high) of a metric for a cell: the cell's own figure and its repeats' range."""
    if metric == "throughput":
        median = finite(cell.throughput_median)
        low, high = finite(cell.throughput_min), finite(cell.throughput_max)
        return median, median if low is None else low, median if high is None else high
    runs = _runs(record, cell)
    if metric == "latency_p95":
        median = finite(cell.latency_p95_s)
        return (median, *_spread([r.timings.latency_s.p95 for r in runs], median))
    median = finite(cell.memory.peak_pss_mb) if cell.memory else None
    return (median, *_spread([r.memory.peak_pss_mb for r in runs if r.memory], median))


def judge(a: tuple[float | None, ...], b: tuple[float | None, ...], higher_is_better: bool, t: float) -> Change:
    """The change of one metric, and whether it is worse or better beyond ``t`` and both sides' noise."""
    (a_mid, a_low, a_high), (b_mid, b_low, b_high) = a, b
    change = Change(a_mid, a_low, a_high, b_mid, b_low, b_high, ratio(b_mid, a_mid), None, None, "missing")
    if None in (a_mid, a_low, a_high, b_mid, b_low, b_high):
        return change
    assert a_low is not None and a_high is not None and b_low is not None and b_high is not None
    change.ratio_low, change.ratio_high = ratio(b_low, a_high), ratio(b_high, a_low)
    if higher_is_better:
        worse, better = b_high < a_low * (1 - t), b_low > a_high * (1 + t)
    else:
        worse, better = b_low > a_high * (1 + t), b_high < a_low * (1 - t)
    change.verdict = "worse" if worse else "better" if better else "within noise"
    return change


def _key(record: CompareRecord, cell: Cell) -> tuple[str, str, str]:
    # the mode, and "on <broker>" when the record ran several brokers (record_views.side_of)
    mode = IN_PROCESS if cell.kind == "in-process" else cell_side(record, cell) or UNKNOWN_MODE
    return cell.workload, cell.pool, mode


def _pairs(a: CompareRecord, b: CompareRecord) -> list[tuple[tuple[str, str, str], Cell | None, Cell | None]]:
    """A's cells in order with their B match, then B's unmatched; an unknown mode (schema 1) matches one alike."""
    left = {_key(a, c): c for c in a.cells}
    right = {_key(b, c): c for c in b.cells}
    matched: dict[tuple[str, str, str], tuple[str, str, str]] = {k: k for k in left if k in right}
    for key in [k for k in left if k not in matched]:
        alike = [k for k in right if k[:2] == key[:2] and k not in matched.values()]
        if len(alike) == 1 and UNKNOWN_MODE in (key[2], alike[0][2]):
            matched[key] = alike[0]
    pairs: list[tuple[tuple[str, str, str], Cell | None, Cell | None]] = [
        (key, cell, right[matched[key]] if key in matched else None) for key, cell in left.items()
    ]
    pairs += [(key, None, cell) for key, cell in right.items() if key not in matched.values()]
    return pairs


def diff(a_path: Path, a: CompareRecord, b_path: Path, b: CompareRecord, threshold: float, gate: list[str]) -> Diff:
    """Compare B with A cell by cell under :data:`RULE` with ``threshold`` (a fraction, 0.1 = 10 %)."""
    cells = []
    for (workload, pool, mode), old, new in _pairs(a, b):
        found = "both" if old and new else "only in A" if old else "only in B"
        entry = CellDiff(workload, pool, mode, found)
        if old is not None and new is not None:
            for metric, higher_is_better in METRICS.items():
                entry.changes[metric] = judge(
                    figures(a, old, metric), figures(b, new, metric), higher_is_better, threshold
                )
        cells.append(entry)
    return Diff(a_path, b_path, threshold, gate, cells, setup_notes(a, b))


def setup_notes(a: CompareRecord, b: CompareRecord) -> list[str]:
    """What differs between the two runs besides the results: sizes, batch, versions, machine, load."""
    notes = []
    facts: dict[str, Callable[[CompareRecord], object]] = {
        "tasks per batch": lambda r: r.plan.count,
        "repeats": lambda r: r.plan.repeat,
        "cores": lambda r: r.environment.cores,
        "Python": lambda r: r.environment.python,
        "Celery": lambda r: r.environment.celery,
        "kombu": lambda r: r.environment.kombu,
        "redis-py": lambda r: r.environment.redis_py,
        "user task": lambda r: r.plan.task.function if r.plan.task else None,
    }
    for name, fact in facts.items():
        if fact(a) != fact(b):
            notes.append(f"{name} differs: {fact(a)} → {fact(b)}")
    for workload in dict.fromkeys([*a.plan.sizes, *b.plan.sizes]):
        old, new = a.plan.sizes.get(workload), b.plan.sizes.get(workload)
        if old is not None and new is not None and old != new:
            notes.append(f"size of {workload} differs: {old} → {new} (the cells measure different work)")
    for side, record in (("A", a), ("B", b)):
        if record.environment.busy_before:
            notes.append(f"{side} ran on a busy machine (load {record.environment.load_before} before the run)")
    return notes
