"""Broker faults with real processes: Redis killed and restarted mid-batch, Redis gone for good.

The restart runs in both modes (config/celery_mode.py): the lab mode must lose nothing and keep
consuming; stock Celery and kombu are counted under the same fault (test-artifacts/fault-counts.jsonl),
the evidence for what the lab's transport changes.

The Redis here is this module's own (AOF on, a password, stopped and started by PID), so the session
Redis that other tests use stays up.
"""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from producer.batch.collect import Collected
from producer.batch.outage import OutageGuard
from producer.batch.recovery import collect_with_recovery
from producer.batch.run import redis_clients
from producer.batch.submit import submit_batch
from producer.errors import LabError
from producer.processes import children as processes
from tests.faults import (
    FaultCounts,
    FaultRedis,
    collect,
    count_outcome,
    fault_app,
    fault_redis,
    fault_settings,
    fault_worker,
)
from worker.task_args import WorkloadArgs

OUTAGE_S = 1.5
#: The producer pipelines (one LPUSH per chunk): rounds of 5 make the outage fall between rounds.
CHUNK = 5


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[FaultRedis]:
    """A private redis-server with AOF and a password, for one test."""
    with fault_redis(tmp_path / "redis", appendonly=True, password=secrets.token_hex(16)) as running:
        _fsync_always(running)
        yield running


def _fsync_always(server: FaultRedis) -> None:
    # fsync every write: a SIGKILL of Redis then loses nothing it acknowledged (the default,
    # everysec, may lose the last second: see README, Guarantees).
    redis.Redis.from_url(server.url(0)).config_set("appendfsync", "always")


def _restart_later(server: FaultRedis, sig: int) -> threading.Thread:
    """Stop Redis now by ``sig`` and start it again on the same port (AOF replayed) after ``OUTAGE_S``."""
    server.stop(sig)

    def restart() -> None:
        time.sleep(OUTAGE_S)
        server.start()
        _fsync_always(server)

    thread = threading.Thread(target=restart, name="redis-restart")
    thread.start()
    return thread


#: How Redis goes away. Either way a worker's BRPOP may just have popped a message (already in the AOF)
#: whose reply never reaches the worker: kombu pops, then records the message as unacked, in two round
#: trips, and Redis does not flush replies on shutdown. No consumer can recover a message it never got,
#: so the producer re-publishes what the broker provably lost (producer/recovery.py). At most one per
#: consuming worker connection (two here).
STOPS = {"restart (SIGTERM)": signal.SIGTERM, "crash (kill -9)": signal.SIGKILL}
CONSUMING_WORKERS = 2
COUNT = 30


@dataclass
class RestartOutcome:
    """What one Redis restart mid-batch left: counts per batch, consumption afterwards, the workers' logs."""

    counts: dict[str, FaultCounts]
    after: dict[str, Collected]
    logs: dict[str, str]
    alive: dict[str, bool]


def _restart_mid_batch(server: FaultRedis, stop: str, mode: str) -> RestartOutcome:
    """Two workers of ``mode`` (prefork and threads); Redis stops inside the 10th send and comes back."""
    settings = fault_settings(server, visibility_timeout_s=5, celery_mode=mode)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    sent: list[int] = []
    restarts: list[threading.Thread] = []

    def stop_at_ten(n: int) -> None:
        sent.append(n)
        if sum(sent) >= 10 and not restarts:
            restarts.append(_restart_later(server, STOPS[stop]))

    with (
        fault_worker(app, settings, "prefork", 2, "prefork", label=f"broker-{mode}-prefork") as (prefork, _),
        fault_worker(app, settings, "threads", 8, "threads", label=f"broker-{mode}-threads") as (threads, _),
    ):
        in_flight = submit_batch(app, WorkloadArgs("io_sleep", 200), COUNT, "threads")
        # Redis stops inside the 10th send's callback, so the next publish meets a dead broker: the batch
        # completes only because the producer's publish retry policy waits for Redis to come back.
        publishing = submit_batch(
            app, WorkloadArgs("io_sleep", 200), COUNT, "prefork", on_sent=stop_at_ten, chunk=CHUNK
        )
        restarts[0].join(60)
        recovered = {
            queue: collect_with_recovery(app, backend, broker, batch, timeout_s=90, idle_grace_s=5)
            for queue, batch in (("prefork", publishing), ("threads", in_flight))
        }
        # After the restart both workers must still consume new work (Celery #10205).
        after = {queue: submit_batch(app, WorkloadArgs("noop", 0), 10, queue) for queue in ("prefork", "threads")}
        # Stock Celery's prefork worker may have exited (the evidence): don't wait the lab's full minute for it.
        wait_s = 60 if mode == "lab" else 20
        collected_after = {
            queue: collect(backend, broker, b.task_ids, queue, wait_s, idle_grace_s=min(20, wait_s))
            for queue, b in after.items()
        }
        alive = {child.role: processes.is_running(child) for child in (prefork, threads)}
    counts = {}
    for queue, batch, what in (("prefork", publishing, "publishing"), ("threads", in_flight, "in flight")):
        collected, again = recovered[queue]
        counts[queue], _ = count_outcome(
            f"Redis {stop} mid-batch ({what})", batch, collected, backend, again, mode=mode
        )
    for queue, outcome in collected_after.items():
        count_outcome(f"new work after Redis {stop} ({queue})", after[queue], outcome, backend, mode=mode)
    logs = {child.role: Path(child.log).read_text() for child in (prefork, threads)}
    return RestartOutcome(counts, collected_after, logs, alive)


@pytest.mark.parametrize("stop", list(STOPS))
def test_redis_restart_mid_batch_lab_workers_reconnect_and_lose_nothing(server: FaultRedis, stop: str) -> None:
    outcome = _restart_mid_batch(server, stop, "lab")
    for role, log in outcome.logs.items():
        assert "Connection to broker lost" in log, f"{role} saw the broker go away"
        assert "Unrecoverable error" not in log, role
    for queue, counts in outcome.counts.items():
        assert (counts.submitted, counts.completed, counts.failed, counts.lost) == (COUNT, COUNT, 0, 0), queue
    republished = sum(counts.republished for counts in outcome.counts.values())
    assert republished <= CONSUMING_WORKERS, "only a message in flight at the stop can be lost by the broker"
    for queue, after in outcome.after.items():
        assert (len(after.records), len(after.lost)) == (10, 0), queue
    assert all(outcome.alive.values()), outcome.alive


@pytest.mark.parametrize("stop", list(STOPS))
def test_redis_restart_mid_batch_on_stock_celery_is_counted(server: FaultRedis, stop: str) -> None:
    """Stock Celery and kombu under the same fault: the counts are the evidence for the lab mode (recorded,
    printed); only what holds on every run is asserted, since where Redis stops varies from run to run."""
    outcome = _restart_mid_batch(server, stop, "stock")
    for counts in outcome.counts.values():
        assert counts.submitted == COUNT
        assert counts.completed + counts.failed + counts.lost <= COUNT
    print("stock workers alive after the restart:", outcome.alive)


def test_redis_gone_for_good_makes_publishing_fail_with_a_count(server: FaultRedis) -> None:
    settings = fault_settings(server, publish_retries=2)
    app = fault_app(settings)

    def crash_at_five(sent: int) -> None:
        progress.append(sent)
        if sum(progress) == 5:
            server.stop(signal.SIGKILL)

    progress: list[int] = []
    with pytest.raises(LabError) as failure:
        submit_batch(
            app, WorkloadArgs("noop", 0), 20, "prefork", on_sent=crash_at_five, chunk=CHUNK, outage=OutageGuard(2.0)
        )  # LAB_OUTAGE_RETRY_S=2: the producer gives up after 2 s
    message = str(failure.value)
    assert message.startswith("publishing failed after 5 of 20 tasks:"), message
    assert server.password not in message


def test_a_task_the_broker_popped_but_never_delivered_is_republished_by_the_producer(server: FaultRedis) -> None:
    settings = fault_settings(server, visibility_timeout_s=5)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    batch = submit_batch(app, WorkloadArgs("noop", 0), 5, "threads")
    # What a BRPOP whose reply died with Redis leaves behind: gone from the queue, in no unacked hash.
    popped = json.loads(broker.rpop("threads"))["headers"]["id"]
    with fault_worker(app, settings, "threads", 4, "threads", label="republish"):
        collected, republished = collect_with_recovery(app, backend, broker, batch, timeout_s=90, idle_grace_s=2)
    counts, executions = count_outcome(
        "popped by Redis, never delivered (simulated)", batch, collected, backend, republished
    )
    assert republished == 1 and executions.starts[popped] == 1
    assert (counts.completed, counts.lost, counts.duplicated) == (5, 0, 0)
