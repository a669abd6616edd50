"""The sliding-window arithmetic of `producer watch`, on hand-made events (no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from producer.watch.rates import SlidingWindow, Throughput


def ev(kind: str, uuid: str = "", hostname: str = "w1@h", t: float | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "hostname": hostname, "uuid": uuid}
    if t is not None:
        event["timestamp"] = t
    return event


def test_window_counts_only_the_last_window_seconds() -> None:
    window = SlidingWindow(10.0)
    for t in (100.0, 101.0, 105.0, 109.9):
        window.add(t)
    assert window.count(110.0) == 3  # 100.0 is exactly one window old: out
    assert window.rate(110.0) == pytest.approx(0.3)
    assert window.count(120.0) == 0
    assert window.rate(200.0) == 0.0


def test_young_watch_divides_by_the_time_covered_but_at_least_one_second() -> None:
    window = SlidingWindow(10.0)
    window.add(100.5, 8)
    assert window.rate(102.0, since=100.0) == pytest.approx(4.0)  # 8 in 2 s, not 8 in 10 s
    assert window.rate(100.6, since=100.5) == pytest.approx(8.0)  # span floored at 1 s
    assert window.rate(130.0, since=100.0) == 0.0


@pytest.mark.parametrize("window_s", [0.0, -1.0, float("inf"), float("nan")])
def test_window_must_be_positive_and_finite(window_s: float) -> None:
    with pytest.raises(ValueError):
        SlidingWindow(window_s)


def test_in_flight_running_and_done_follow_each_task() -> None:
    board = Throughput(window_s=10.0, started_at=0.0)
    board.record(ev("task-received", "a", t=1.0), now=1.0)
    board.record(ev("task-received", "b", t=1.0), now=1.0)
    board.record(ev("task-started", "a", t=1.1), now=1.1)
    row = board.snapshot(2.0).workers[0]
    assert (row.in_flight, row.running, row.succeeded, row.failed) == (2, 1, 0, 0)
    board.record(ev("task-succeeded", "a", t=2.0), now=2.0)
    board.record(ev("task-started", "b", t=2.0), now=2.0)
    board.record(ev("task-failed", "b", t=3.0), now=3.0)
    row = board.snapshot(4.0).workers[0]
    assert (row.in_flight, row.running, row.succeeded, row.failed) == (0, 0, 1, 1)
    assert row.rate == pytest.approx(2 / 4.0)


def test_task_seen_only_from_its_start_or_end_never_goes_negative() -> None:
    board = Throughput(window_s=5.0)
    board.record(ev("task-succeeded", "before-watch", t=1.0), now=1.0)
    board.record(ev("task-started", "x", t=1.0), now=1.0)
    board.record(ev("task-started", "x", t=1.0), now=1.0)  # duplicate: counted once
    row = board.snapshot(1.5).workers[0]
    assert (row.in_flight, row.running, row.succeeded) == (1, 1, 1)


def test_retried_or_revoked_task_leaves_its_worker() -> None:
    board = Throughput()
    board.record(ev("task-received", "r", t=1.0), now=1.0)
    board.record(ev("task-retried", "r", t=1.0), now=1.0)
    board.record(ev("task-received", "v", t=1.0), now=1.0)
    board.record(ev("task-revoked", "v", t=1.0), now=1.0)
    row = board.snapshot(2.0).workers[0]
    assert (row.in_flight, row.succeeded, row.failed) == (0, 0, 0)


def test_rows_per_worker_per_pool_and_total() -> None:
    board = Throughput(window_s=10.0, started_at=0.0)
    board.set_pool("cpu@h", "prefork")
    board.set_pool("io@h", "threads")
    board.set_pool("io2@h", "threads")
    for i in range(30):
        board.record(ev("task-succeeded", f"c{i}", "cpu@h", t=5.0), now=5.0)
        board.record(ev("task-succeeded", f"i{i}", "io@h", t=5.0), now=5.0)
        board.record(ev("task-succeeded", f"j{i}", "io2@h", t=5.0), now=5.0)
    snap = board.snapshot(10.0, online={"cpu@h": True, "io@h": True})
    assert [(r.worker, r.pool, r.online, r.rate) for r in snap.workers] == [
        ("cpu@h", "prefork", 1, 3.0),
        ("io2@h", "threads", 0, 3.0),
        ("io@h", "threads", 1, 3.0),
    ]
    assert [(r.pool, r.online, r.rate, r.succeeded) for r in snap.pools] == [
        ("prefork", 1, 3.0, 30),
        ("threads", 1, 6.0, 60),
    ]
    assert (snap.total.rate, snap.total.succeeded, snap.total.online) == (9.0, 90, 2)
    assert snap.peak_rate == 9.0
    later = board.snapshot(30.0)
    assert later.total.rate == 0.0 and later.peak_rate == 9.0 and later.total.succeeded == 90


def test_worker_events_list_idle_workers_and_unknown_pools() -> None:
    board = Throughput()
    board.record({"type": "worker-heartbeat", "hostname": "idle@h", "timestamp": 1.0}, now=1.0)
    assert board.workers_without_pool() == ["idle@h"]
    assert [r.pool for r in board.snapshot(2.0).workers] == ["?"]


def test_task_sent_events_count_the_producer_side() -> None:
    board = Throughput(window_s=10.0, started_at=0.0)
    for i in range(50):
        board.record(ev("task-sent", f"s{i}", "producer@h", t=2.0), now=2.0)
    snap = board.snapshot(10.0)
    assert (snap.sent, snap.sent_rate, snap.workers) == (50, 5.0, [])


def test_implausible_timestamps_fall_back_to_arrival_time() -> None:
    board = Throughput(window_s=10.0, started_at=0.0)
    board.record(ev("task-succeeded", "far", t=-1e9), now=20.0)
    board.record(ev("task-succeeded", "none"), now=20.0)
    assert board.snapshot(21.0).total.rate == pytest.approx(0.2)


def test_tracking_is_bounded_when_finish_events_are_lost() -> None:
    board = Throughput(max_tracked=100)
    for i in range(1000):
        board.record(ev("task-received", f"t{i}", t=1.0), now=1.0)
    assert board.snapshot(2.0).workers[0].in_flight == 100


def test_snapshot_is_json_ready() -> None:
    board = Throughput(started_at=0.0)
    board.record(ev("task-succeeded", "a", t=1.0), now=1.0)
    data = board.snapshot(2.0).as_dict()
    assert data["total"]["succeeded"] == 1 and data["workers"][0]["worker"] == "w1@h"
