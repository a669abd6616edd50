"""Worker memory as PSS and USS (``/proc/<pid>/smaps_rollup`` via psutil), at idle and at the peak of a batch.

RSS counts a page once per process that maps it, so a prefork worker's forked children (sharing the
parent's pages) look N times bigger than they are; PSS splits shared pages among the processes, USS
counts only what a process alone holds. A batch is sampled in a background thread.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from producer.measure.figure_models import MemoryFigures

MIB = 1024 * 1024
#: Seconds between samples during a batch (reading smaps_rollup costs ~0.1 ms per process).
SAMPLE_INTERVAL_S = 0.2


def tree_memory(pids: list[int]) -> tuple[float, float, int] | None:
    """(PSS MiB, USS MiB, processes) of these processes and all their descendants; None if one cannot be read."""
    pss = uss = 0.0
    seen: set[int] = set()
    try:
        for pid in pids:
            root = psutil.Process(pid)
            for member in [root, *root.children(recursive=True)]:
                if member.pid in seen:
                    continue
                seen.add(member.pid)
                info = member.memory_full_info()
                pss += getattr(info, "pss", 0.0)
                uss += info.uss
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return (pss / MIB, uss / MIB, len(seen)) if seen else None


@dataclass
class MemorySampler:
    """Samples a set of worker processes: one idle reading at start, then the peak until stopped."""

    pids: list[int]
    slots: int
    idle: tuple[float, float, int] | None = None
    peak_pss: float | None = None
    peak_uss: float | None = None
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        """Take one reading and keep the maxima."""
        reading = tree_memory(self.pids)
        if reading is None:
            return
        self.samples += 1
        self.peak_pss = max(self.peak_pss or 0.0, reading[0])
        self.peak_uss = max(self.peak_uss or 0.0, reading[1])

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self.sample()

    def figures(self) -> MemoryFigures | None:
        """The readings as a record part (None when no process could be read: remote workers)."""
        if self.idle is None and self.samples == 0:
            return None
        processes = self.idle[2] if self.idle else 0
        slots = max(1, self.slots)

        def per_slot(value: float | None) -> float | None:
            return round(value / slots, 2) if value is not None else None

        return MemoryFigures(
            processes=processes,
            slots=self.slots,
            idle_pss_mb=round(self.idle[0], 2) if self.idle else None,
            idle_uss_mb=round(self.idle[1], 2) if self.idle else None,
            peak_pss_mb=round(self.peak_pss, 2) if self.peak_pss is not None else None,
            peak_uss_mb=round(self.peak_uss, 2) if self.peak_uss is not None else None,
            per_slot_pss_mb=per_slot(self.peak_pss),
            per_slot_uss_mb=per_slot(self.peak_uss),
            samples=self.samples,
        )


@contextmanager
def sampled(pids: list[int], slots: int) -> Iterator[MemorySampler]:
    """Read idle memory now, sample until the block ends (at least once more), yield the sampler."""
    sampler = MemorySampler(list(pids), slots)
    if not pids:
        yield sampler
        return
    sampler.idle = tree_memory(sampler.pids)
    thread = threading.Thread(target=sampler._loop, name="memory-sampler", daemon=True)
    thread.start()
    try:
        yield sampler
    finally:
        sampler._stop.set()
        thread.join()
        sampler.sample()


def median_figures(readings: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Per field, the median over runs' memory figures (a cell's memory); None when no run had any."""
    present = [r for r in readings if r]
    if not present:
        return None
    merged: dict[str, Any] = {}
    for name in MemoryFigures.model_fields:
        values = [r[name] for r in present if r.get(name) is not None]
        middle = statistics.median(values) if values else None
        merged[name] = round(middle) if name in ("processes", "slots", "samples") and middle is not None else middle
    return merged
