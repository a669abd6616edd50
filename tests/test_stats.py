"""Statistics over task records: plain functions, no broker."""

from __future__ import annotations

import math
from typing import Any

from producer.batch.stats import percentile, summarize


def _record(enqueued: float, started: float, finished: float, host: str = "w@h", pid: int = 1) -> dict:
    return {
        "enqueued": enqueued,
        "started": started,
        "finished": finished,
        "thread_cpu": 0.01,
        "hostname": host,
        "pid": pid,
        "pool": "prefork",
    }


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert math.isnan(percentile([], 50))


def test_summarize_counts_failures_and_lost_and_workers() -> None:
    records = [_record(0.0, 0.5, 1.0), _record(0.0, 1.0, 2.0, host="x@h", pid=2)]
    summary = summarize(
        records,
        workload="cpu",
        queue="prefork",
        size=1,
        submitted=4,
        failures={"t3": "SoftTimeLimitExceeded: slow"},
        lost=1,
        started_at=0.0,
        finished_at=2.0,
    )
    assert (summary.completed, summary.failed, summary.lost) == (2, 1, 1)
    assert summary.throughput == 1.0
    assert summary.latency_p50_s == 1.5
    assert summary.queue_wait_p50_s == 0.75
    assert summary.per_worker == {"w@h": 1, "x@h": 1}
    assert summary.per_process == 2
    assert summary.failure_reasons == {"SoftTimeLimitExceeded": 1}
    assert summary.as_dict()["queue"] == "prefork"
    assert summary.republished == 0


def test_republished_tasks_are_reported_in_json_and_table() -> None:
    from rich.console import Console

    from producer.batch.tables import summary_table

    summary = summarize(
        [_record(0.0, 0.5, 1.0)],
        workload="noop",
        queue="prefork",
        size=0,
        submitted=1,
        failures={},
        lost=0,
        started_at=0.0,
        finished_at=1.0,
        republished=2,
    )
    assert summary.as_dict()["republished"] == 2
    console = Console(record=True, width=120)
    console.print(summary_table(summary))
    assert "re-published (the broker lost them)" in console.export_text()


def test_pending_tasks_are_not_lost_and_the_table_says_where_they_are() -> None:
    from rich.console import Console

    from producer.batch.tables import pending_text, side_by_side_table, summary_table

    summary = summarize(
        [_record(0.0, 0.5, 1.0)],
        workload="io_sleep",
        queue="threads",
        size=50,
        submitted=20,
        failures={},
        lost=1,
        started_at=0.0,
        finished_at=1.0,
        queued=12,
        unacked=6,
        unacked_back_at=4_000_000_000.0,
        queue_consumers=[],
        outages=1,
        outage_s=3.2,
    )
    data = summary.as_dict()
    assert (data["lost"], data["queued"], data["unacked"], data["queue_consumers"]) == (1, 12, 6, [])
    assert summary.pending == 18
    text = pending_text(summary)
    assert text.startswith("12 still queued (no worker consumes queue threads); 6 held unacknowledged by a worker")
    assert "back in the queue at" in text
    console = Console(record=True, width=160)
    console.print(summary_table(summary))
    console.print(side_by_side_table([summary]))
    shown = console.export_text()
    assert "still queued (pending)" in shown and "held unacknowledged (pending)" in shown
    assert "broker outages ridden out" in shown
    assert "pending" in [column.header for column in side_by_side_table([summary]).columns]
    assert "pending" not in [column.header for column in side_by_side_table([base_summary()]).columns]


def base_summary() -> Any:
    """A finished batch: nothing pending."""
    return summarize(
        [_record(0.0, 0.5, 1.0)],
        workload="noop",
        queue="prefork",
        size=0,
        submitted=1,
        failures={},
        lost=0,
        started_at=0.0,
        finished_at=1.0,
    )


def test_nobody_answering_is_not_the_same_as_nobody_consuming() -> None:
    from producer.batch.tables import consumers_text

    base = summarize(
        [],
        workload="noop",
        queue="gevent",
        size=0,
        submitted=3,
        failures={},
        lost=0,
        started_at=0.0,
        finished_at=1.0,
        queued=3,
    )
    assert consumers_text(base) == "no worker answered: maybe none consumes queue gevent"
    base.queue_consumers = ["a@h", "b@h"]
    assert consumers_text(base) == "consumed by a@h, b@h"
