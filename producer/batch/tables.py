"""Rich tables for batch summaries: one batch in detail, several side by side."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.table import Table

from producer.batch.stats import BatchSummary


def _ms(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds * 1000:,.1f} ms"


def consumers_text(summary: BatchSummary) -> str:
    """Who consumes the batch's queue: the answer to "will the pending tasks ever run?"."""
    if summary.queue_consumers is None:
        return f"no worker answered: maybe none consumes queue {summary.queue}"
    if not summary.queue_consumers:
        return f"no worker consumes queue {summary.queue}"
    return "consumed by " + ", ".join(summary.queue_consumers)


def back_at_text(back_at: float | None, now: float | None = None, broker: str = "redis") -> str:
    """When unacknowledged tasks go back to their queue: clock time and how long from ``now``."""
    if broker == "rabbitmq":
        return "RabbitMQ requeues them when that worker's connection closes"
    if back_at is None:
        return "back when a worker restores them"
    wait = back_at - (time.time() if now is None else now)
    clock = time.strftime("%H:%M:%S", time.localtime(back_at))
    return f"back in the queue at {clock}, in {wait:,.0f} s" if wait > 0 else f"back in the queue since {clock}"


def pending_text(summary: BatchSummary) -> str:
    """The unfinished tasks that are not lost, in one line: queued (who consumes?), unacknowledged (back when?)."""
    parts = []
    if summary.queued:
        parts.append(f"{summary.queued} still queued ({consumers_text(summary)})")
    if summary.unacked:
        back = back_at_text(summary.unacked_back_at, broker=summary.broker)
        parts.append(f"{summary.unacked} held unacknowledged by a worker ({back})")
    return "; ".join(parts)


def summary_table(summary: BatchSummary) -> Table:
    """Every figure of one batch, a row each."""
    title = f"{summary.workload} (size {summary.size}) on queue {summary.queue} ({summary.broker})"
    table = Table(title=title, show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("submitted / completed", f"{summary.submitted} / {summary.completed}"),
        ("failed / lost", f"{summary.failed} / {summary.lost}"),
        *([("still queued (pending)", f"{summary.queued} ({consumers_text(summary)})")] if summary.queued else []),
        *(
            [
                (
                    "held unacknowledged (pending)",
                    f"{summary.unacked} ({back_at_text(summary.unacked_back_at, broker=summary.broker)})",
                )
            ]
            if summary.unacked
            else []
        ),
        ("wall time", f"{summary.wall_s:.2f} s"),
        ("throughput", f"{summary.throughput:,.1f} tasks/s"),
        (
            "latency p50 / p95 / p99",
            " / ".join(_ms(v) for v in (summary.latency_p50_s, summary.latency_p95_s, summary.latency_p99_s)),
        ),
        ("queue wait p50", _ms(summary.queue_wait_p50_s)),
        ("run time mean / p50", f"{_ms(summary.run_time_mean_s)} / {_ms(summary.run_time_p50_s)}"),
        ("thread CPU mean", _ms(summary.thread_cpu_mean_s)),
        ("pool(s)", ", ".join(summary.pools) or "–"),
        ("worker processes used", str(summary.per_process)),
    ]
    rows += [(f"tasks on {worker}", str(n)) for worker, n in summary.per_worker.items()]
    rows += [(f"failures: {reason}", str(n)) for reason, n in summary.failure_reasons.items()]
    if summary.republished:
        rows.append(("re-published (the broker lost them)", str(summary.republished)))
    if summary.lost and summary.broker == "rabbitmq":
        rows.append(("lost: re-published", "no (Redis only; RabbitMQ requeues what a dead worker held)"))
    if summary.outages:
        rows.append(("broker outages ridden out", f"{summary.outages} ({summary.outage_s:.1f} s in all)"))
    for name, value in rows:
        table.add_row(name, value)
    return table


def side_by_side_table(summaries: Sequence[BatchSummary], title: str = "Side by side") -> Table:
    """One row per batch: the figures that tell the pools apart."""
    table = Table(title=title)
    # Pending (queued or unacknowledged, not lost) gets a column only when some batch has any.
    show_pending = any(s.pending for s in summaries)
    for column in (
        "workload",
        "pool",
        "tasks",
        "failed",
        "lost",
        *(["pending"] if show_pending else []),
        "tasks/s",
        "p50",
        "p95",
        "run time",
        "thread CPU",
        "CPU/run",
    ):
        table.add_column(column, justify="left" if column in ("workload", "pool") else "right")
    for s in summaries:
        cpu_share = s.thread_cpu_mean_s / s.run_time_mean_s if s.run_time_mean_s > 0 else math.nan
        table.add_row(
            s.workload,
            s.queue,
            str(s.completed),
            str(s.failed),
            str(s.lost),
            *([str(s.pending)] if show_pending else []),
            f"{s.throughput:,.1f}",
            _ms(s.latency_p50_s),
            _ms(s.latency_p95_s),
            _ms(s.run_time_mean_s),
            _ms(s.thread_cpu_mean_s),
            "–" if math.isnan(cpu_share) else f"{cpu_share:.0%}",
        )
    return table
