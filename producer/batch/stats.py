"""Statistics over task records: percentiles, throughput, per-worker counts. Plain functions, no broker."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    return sum(values) / len(values) if values else math.nan


@dataclass
class BatchSummary:
    """Everything `producer submit` reports about one batch."""

    workload: str
    queue: str
    size: int
    submitted: int
    completed: int
    failed: int
    lost: int
    wall_s: float
    throughput: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    queue_wait_p50_s: float
    run_time_mean_s: float
    run_time_p50_s: float
    thread_cpu_mean_s: float
    pools: list[str] = field(default_factory=list)
    per_worker: dict[str, int] = field(default_factory=dict)
    per_process: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    republished: int = 0
    #: Unfinished but not lost: still in the queue, or held unacknowledged by a worker (``lost`` = vanished).
    queued: int = 0
    unacked: int = 0
    #: When the earliest unacknowledged task goes back to its queue (epoch seconds).
    unacked_back_at: float | None = None
    #: Workers consuming the queue when the batch ended (None: not asked, or nobody could be asked).
    queue_consumers: list[str] | None = None
    #: Broker/result-backend outages the producer rode out, and their total length.
    outages: int = 0
    outage_s: float = 0.0
    #: Which broker carried the batch: ``redis`` or ``rabbitmq``.
    broker: str = "redis"

    @property
    def pending(self) -> int:
        """Tasks still queued or held unacknowledged: they may yet run."""
        return self.queued + self.unacked

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def summarize(
    records: Sequence[dict[str, Any]],
    *,
    workload: str,
    queue: str,
    size: int,
    submitted: int,
    failures: dict[str, str],
    lost: int,
    started_at: float,
    finished_at: float,
    republished: int = 0,
    queued: int = 0,
    unacked: int = 0,
    unacked_back_at: float | None = None,
    queue_consumers: list[str] | None = None,
    outages: int = 0,
    outage_s: float = 0.0,
    broker: str = "redis",
) -> BatchSummary:
    """Summarise one batch. Throughput = completed tasks / (last finish − first enqueue)."""
    latencies = [r["finished"] - r["enqueued"] for r in records if r.get("enqueued") is not None]
    waits = [r["started"] - r["enqueued"] for r in records if r.get("enqueued") is not None]
    run_times = [r["finished"] - r["started"] for r in records]
    first = min((r["enqueued"] or r["started"] for r in records), default=started_at)
    last = max((r["finished"] for r in records), default=finished_at)
    span = max(last - min(first, started_at), 1e-9)
    reasons = Counter(reason.split(":", 1)[0] for reason in failures.values())
    return BatchSummary(
        workload=workload,
        queue=queue,
        size=size,
        submitted=submitted,
        completed=len(records),
        failed=len(failures),
        lost=lost,
        wall_s=span,
        throughput=len(records) / span if records else 0.0,
        latency_p50_s=percentile(latencies, 50),
        latency_p95_s=percentile(latencies, 95),
        latency_p99_s=percentile(latencies, 99),
        queue_wait_p50_s=percentile(waits, 50),
        run_time_mean_s=mean(run_times),
        run_time_p50_s=percentile(run_times, 50),
        thread_cpu_mean_s=mean([r["thread_cpu"] for r in records]),
        pools=sorted({str(r.get("pool")) for r in records}),
        per_worker=dict(Counter(str(r["hostname"]) for r in records).most_common()),
        per_process=len({(r["hostname"], r["pid"]) for r in records}),
        failure_reasons=dict(reasons),
        republished=republished,
        queued=queued,
        unacked=unacked,
        unacked_back_at=unacked_back_at,
        queue_consumers=queue_consumers,
        outages=outages,
        outage_s=outage_s,
        broker=broker,
    )
