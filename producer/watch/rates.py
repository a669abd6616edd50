"""Throughput over a sliding window, computed from Celery events given as plain dicts.

Pure: no broker, no Celery import, no clock of its own (every call takes ``now``), so the arithmetic is
tested on hand-made events. :mod:`producer.watch.view` feeds it from the live event stream.

A task counts as *done* when its worker reports ``task-succeeded`` or ``task-failed``; tasks/s is the
number done in the last ``window_s`` seconds divided by the time covered (the window, or less while
the watch is younger than one window). *In flight* is received by a worker and not finished yet
(prefetched + running); *running* is started and not finished.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

FINISHED = ("task-succeeded", "task-failed")
#: Events after which a task is no longer held by its worker (a retried task is received again).
RELEASED = (*FINISHED, "task-rejected", "task-revoked", "task-retried")
UNKNOWN_POOL = "?"


class SlidingWindow:
    """Event counts in time buckets of ``resolution_s``; what is older than ``window_s`` is dropped."""

    def __init__(self, window_s: float, resolution_s: float = 0.1) -> None:
        if not (window_s > 0 and resolution_s > 0 and math.isfinite(window_s)):
            raise ValueError("window and resolution must be positive")
        self.window_s = window_s
        self.resolution_s = resolution_s
        self._buckets: dict[int, int] = {}

    def _key(self, t: float) -> int:
        return math.floor(t / self.resolution_s)

    def add(self, t: float, n: int = 1) -> None:
        """Count ``n`` events at time ``t``."""
        key = self._key(t)
        self._buckets[key] = self._buckets.get(key, 0) + n

    def count(self, now: float) -> int:
        """Events in the window ending at ``now`` (older buckets are discarded)."""
        cutoff = self._key(now - self.window_s)
        for key in [k for k in self._buckets if k <= cutoff]:
            del self._buckets[key]
        return sum(self._buckets.values())

    def rate(self, now: float, since: float | None = None) -> float:
        """Events per second over the window, or over ``now - since`` while that is shorter (≥ 1 s)."""
        span = self.window_s
        if since is not None:
            span = max(min(span, now - since), min(1.0, self.window_s))
        return self.count(now) / span


@dataclass
class Row:
    """One line of the view: a worker, a pool (``worker`` empty) or the total (both empty)."""

    worker: str
    pool: str
    online: int
    rate: float
    in_flight: int
    running: int
    succeeded: int
    failed: int


@dataclass
class Snapshot:
    """Everything the view shows at one moment."""

    at: float
    elapsed_s: float
    window_s: float
    workers: list[Row]
    pools: list[Row]
    total: Row
    sent: int
    sent_rate: float
    peak_rate: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``producer watch --json``)."""
        return asdict(self)


@dataclass
class _Worker:
    pool: str
    window: SlidingWindow
    in_flight: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass
class _Held:
    worker: str
    started: bool


@dataclass
class Throughput:
    """Per-worker counters and windows, fed one event at a time."""

    window_s: float = 10.0
    started_at: float = 0.0
    max_tracked: int = 200_000
    sent: int = 0
    peak_rate: float = 0.0
    _workers: dict[str, _Worker] = field(default_factory=dict)
    _held: dict[str, _Held] = field(default_factory=dict)
    _sent_window: SlidingWindow | None = None

    def __post_init__(self) -> None:
        self._sent_window = SlidingWindow(self.window_s)

    def worker(self, hostname: str) -> _Worker:
        """The counters of ``hostname`` (created on first sight)."""
        if hostname not in self._workers:
            self._workers[hostname] = _Worker(UNKNOWN_POOL, SlidingWindow(self.window_s))
        return self._workers[hostname]

    def set_pool(self, hostname: str, pool: str) -> None:
        """Record which pool ``hostname`` runs."""
        self.worker(hostname).pool = pool

    def workers_without_pool(self) -> list[str]:
        """Workers whose pool is not known yet."""
        return [name for name, w in self._workers.items() if w.pool == UNKNOWN_POOL]

    def event_time(self, event: Mapping[str, Any], now: float) -> float:
        """The event's own timestamp when plausible (within a window of ``now``), else ``now``."""
        stamp = event.get("timestamp")
        if isinstance(stamp, int | float) and math.isfinite(stamp) and abs(stamp - now) <= self.window_s:
            return float(stamp)
        return now

    def record(self, event: Mapping[str, Any], now: float) -> None:
        """Account one Celery event (``type``, ``hostname``, ``uuid``, ``timestamp``) received at ``now``."""
        kind = str(event.get("type", ""))
        hostname = str(event.get("hostname", ""))
        if kind == "task-sent":
            self.sent += 1
            assert self._sent_window is not None
            self._sent_window.add(self.event_time(event, now))
            return
        if not hostname:
            return
        worker = self.worker(hostname)
        uuid = str(event.get("uuid", ""))
        if not kind.startswith("task-") or not uuid:
            return
        if kind in ("task-received", "task-started"):
            self._hold(uuid, hostname, started=kind == "task-started")
        elif kind in RELEASED:
            self._release(uuid)
        if kind in FINISHED:
            worker.window.add(self.event_time(event, now))
            if kind == "task-succeeded":
                worker.succeeded += 1
            else:
                worker.failed += 1

    def _hold(self, uuid: str, hostname: str, *, started: bool) -> None:
        held = self._held.get(uuid)
        if held is None or held.worker != hostname:
            if held is not None:
                self._release(uuid)
            self._held[uuid] = _Held(hostname, started)
            self._workers[hostname].in_flight += 1
            self._workers[hostname].running += started
            if len(self._held) > self.max_tracked:  # lost events must not grow memory without bound
                self._release(next(iter(self._held)))
        elif started and not held.started:
            held.started = True
            self._workers[hostname].running += 1

    def _release(self, uuid: str) -> None:
        held = self._held.pop(uuid, None)
        if held is not None:
            worker = self._workers[held.worker]
            worker.in_flight -= 1
            worker.running -= held.started

    def snapshot(self, now: float, online: Mapping[str, bool] | None = None) -> Snapshot:
        """Rows per worker (by name), per pool and in total at ``now``; ``online`` maps worker → alive."""
        online = online or {}
        rows = []
        for name in sorted(self._workers):
            w = self._workers[name]
            rows.append(
                Row(
                    name,
                    w.pool,
                    int(online.get(name, False)),
                    w.window.rate(now, self.started_at),
                    w.in_flight,
                    w.running,
                    w.succeeded,
                    w.failed,
                )
            )
        pools = [_sum_rows([r for r in rows if r.pool == pool], pool=pool) for pool in sorted({r.pool for r in rows})]
        total = _sum_rows(rows, pool="")
        self.peak_rate = max(self.peak_rate, total.rate)
        assert self._sent_window is not None
        return Snapshot(
            now,
            max(0.0, now - self.started_at),
            self.window_s,
            rows,
            pools,
            total,
            self.sent,
            self._sent_window.rate(now, self.started_at),
            self.peak_rate,
        )


def _sum_rows(rows: list[Row], *, pool: str) -> Row:
    return Row(
        "",
        pool,
        sum(r.online for r in rows),
        sum(r.rate for r in rows),
        sum(r.in_flight for r in rows),
        sum(r.running for r in rows),
        sum(r.succeeded for r in rows),
        sum(r.failed for r in rows),
    )
