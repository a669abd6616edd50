"""`producer sweep`'s record: its points and the record itself (schema 3, as every record)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from producer.measure.figure_models import BrokerInfo, Classification, MemoryFigures, UserTaskInfo
from producer.measure.record_base import RecordPart
from producer.measure.record_models import CeleryMode, LabRecord, Timings


class SweepPoint(RecordPart):
    """One sweep point: its workers × slots, the measured throughput, the ideal and what ran out."""

    concurrency: int
    workers: int
    submitted: int
    completed: int
    failed: int
    lost: int
    throughput: float
    span_s: float
    producer_throughput: float
    check_agree: bool
    worker_cpu_s: float | None
    machine_cpu_percent: float
    redis_cpu_s: float
    lab_cores_used: float
    redis_cores_used: float
    tasks_per_worker: list[int]
    timings: Timings
    #: Which Celery the point's workers ran ("stock" or "lab"; None: an older record).
    celery: str | None = None
    memory: MemoryFigures | None = None
    #: The no-op throughput of this point's workers, measured in the same run.
    consumer_ceiling_tps: float | None = None
    #: The broker the point ran on (None: an older record; ``redis_cpu_s`` is that broker's server CPU).
    broker: str | None = None
    x: int
    label: str
    ideal: float | None
    efficiency: float | None = None
    saturated: str


class SweepRecord(LabRecord):
    """`producer sweep`: throughput per point against concurrency or worker processes, with the ideal."""

    kind: Literal["sweep"] = "sweep"
    mode: Literal["concurrency", "workers"]
    workload: str
    pool: str
    size: int
    count: int
    points: list[SweepPoint]
    title: str
    x_label: str
    ideal_label: str
    redis_limit_tps: float | None
    #: Median over points of the measured no-op ceiling per worker process (each point has its own).
    consumer_ceiling_tps: float | None
    notes: list[str] = Field(default_factory=list)
    #: Which Celery the points ran: "stock", "lab" or "both" (each point says its own in ``celery``).
    celery: str | None = None
    #: Per mode that ran: which Celery, its changes and versions.
    celery_modes: dict[str, CeleryMode] = Field(default_factory=dict)
    task: UserTaskInfo | None = None
    classification: Classification | None = None
    #: ``--broker``: the brokers the points ran on ("redis", "rabbitmq", "redis,rabbitmq"), and each one's entry.
    broker: str | None = None
    brokers: dict[str, BrokerInfo] = Field(default_factory=dict)
