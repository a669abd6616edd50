"""The record `producer advise` writes: the task, its measured class, every configuration tried, the pick."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from producer.measure.figure_models import BrokerInfo, Classification, MemoryFigures, UserTaskInfo
from producer.measure.record_base import RecordPart
from producer.measure.record_models import Bottleneck, LabRecord, Timings


class Constraints(RecordPart):
    """What the user asked for: limits a recommendation must meet, and the search's time budget."""

    max_p95_ms: float | None = None
    max_memory_mb: float | None = None
    budget_s: float


class Trial(RecordPart):
    """One configuration measured: pool × concurrency × worker processes (× broker), and what it gave."""

    pool: str
    concurrency: int
    workers: int
    celery: str
    submitted: int
    completed: int
    failed: int
    lost: int
    throughput: float | None
    #: p95 of a task's run time on this configuration (started → finished: what the pool adds, e.g. turns
    #: on the GIL or on the cores); a burst's queue wait is left out, it only measures the batch's size.
    latency_p95_s: float | None
    timings: Timings | None = None
    memory: MemoryFigures | None = None
    #: Worker CPU (all processes) ÷ wall over the batch: cores used.
    cores_used: float | None = None
    consumer_ceiling_tps: float | None = None
    bottleneck: Bottleneck | None = None
    #: Why the search tried it ("start", "double concurrency", "second process", ...).
    reason: str = ""
    #: The constraints it breaks, one line each (empty: it meets them all).
    ruled_out: list[str] = Field(default_factory=list)
    #: Tasks still queued or held unacknowledged when the batch's time ran out (not lost: they may yet run).
    pending: int = 0
    #: The first failed task's reason, when any failed.
    failure_reason: str | None = None
    #: Cores other processes kept busy during the batch (a busy machine makes the figure low and noisy).
    others_cores: float | None = None
    #: Seconds the trial took, from starting its workers to stopping them (what the budget pays).
    duration_s: float | None = None
    #: The broker it ran on with ``--broker`` (redis, rabbitmq); None: LAB_BROKER_URL's (or an older record).
    broker: str | None = None
    #: The broker server's CPU per completed task (ms) during the measured batch (None: not readable from here).
    broker_cpu_ms_per_task: float | None = None


class Recommendation(RecordPart):
    """The pick: the trial, the exact worker command, and the compose scale when more processes win."""

    trial: Trial
    command: str
    compose_scale: str | None = None
    why: str


class AdviseRecord(LabRecord):
    """`producer advise`: the task, its class, the trials in order, the recommendation and runners-up."""

    kind: Literal["advise"] = "advise"
    workload: str
    task: UserTaskInfo | None = None
    size: int = 0
    #: Tasks in a trial's measured batch, the median over the trials (each is sized from its warm-up to last
    #: a few seconds).
    count: int
    classification: Classification
    constraints: Constraints
    trials: list[Trial]
    recommendation: Recommendation | None
    runners_up: list[Trial] = Field(default_factory=list)
    #: Per constraint, the trials it ruled out ("max_p95_ms: threads -c 256, prefork -c 2").
    ruled_out: dict[str, list[str]] = Field(default_factory=dict)
    elapsed_s: float
    notes: list[str] = Field(default_factory=list)
    #: The brokers the trials ran on (``--broker``; else LAB_BROKER_URL's): where, whence, which version.
    brokers: dict[str, BrokerInfo] = Field(default_factory=dict)
    #: ``--broker redis,rabbitmq``: the fastest valid configuration on each broker and their ratio, one line.
    broker_verdict: str | None = None

    def brokers_line(self) -> str | None:
        """``--broker``: each broker the trials ran on, its version, where and whence (None without it)."""
        if not any(trial.broker for trial in self.trials):
            return None
        return "brokers: " + "; ".join(
            f"{b.kind} {b.server_version or '?'} at {b.url} ({b.origin})" for b in self.brokers.values()
        )
