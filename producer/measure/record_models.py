"""Typed models of the JSON records `producer compare` and `producer sweep` write, with a schema version.

A record on disk is ``model_dump`` of one of these (NaN/inf written as null), so the JSON keeps the
shape it had before the models existed (schema 1, no ``schema_version``) plus ``schema_version``.
Reading validates the whole record: a file of the wrong shape fails at load with the first problem
named, instead of as a ``TypeError`` deep in the report. Unknown extra keys are kept (a newer field
is not a malformed record). Parts allow ``part["name"]`` as well as ``part.name``, so code that read
the old dicts keeps working.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import Field

from producer.measure.figure_models import (
    BrokerInfo,
    BrokerRatio,
    Classification,
    MemoryFigures,
    ModeRatio,
    UserTaskInfo,
)
from producer.measure.record_base import RecordPart, clean, utc_now

#: The schema written now. 1: the untyped records (no ``schema_version``); 2: the same shape, validated,
#: with ``schema_version`` and the environment's optional ``celery_mode``; 3: adds (all optional, so 1 and 2
#: still read) which Celery ran each run and cell, memory, measured consumer ceilings, the task's measured
#: class, stock-vs-lab ratios, user tasks, and the ``advise`` kind.
SCHEMA_VERSION: Final = 3


class CeleryMode(RecordPart):
    """Which Celery ran: stock or the lab's classes, what the lab changes, and the versions."""

    mode: str
    changes: list[str] = Field(default_factory=list)
    python: str | None = None
    celery: str | None = None
    kombu: str | None = None
    redis_py: str | None = None

    def headline(self) -> str:
        """One line for a table or report header: which Celery, with what, on which versions."""
        what = "stock Celery" if self.mode == "stock" else f"lab mode ({len(self.changes)} changes to stock)"
        return f"{what}: Celery {self.celery}, kombu {self.kombu}, redis-py {self.redis_py}, Python {self.python}"


class InterpreterInfo(RecordPart):
    """A pool on another interpreter (free-threaded): which Python, and whether its GIL was really off."""

    interpreter: str
    python: str | None
    gil_enabled: bool | None


class Environment(RecordPart):
    """Where a run happened: cores, load, versions, the settings (no secrets), and per-kind extras."""

    cores: int | None
    load_average: list[float | None]
    platform: str
    python: str
    python_implementation: str
    #: The installed versions (strings, as in schema 1); :attr:`celery_mode` says which Celery ran.
    celery: str
    kombu: str
    redis_py: str
    settings: dict[str, Any]
    celery_mode: CeleryMode | None = None
    # compare only
    interpreters: dict[str, InterpreterInfo] | None = None
    load_before: float | None = None
    busy_before: bool | None = None


class Percentiles(RecordPart):
    """p50/p95/p99 and mean of one timing over a run's tasks (None: no task had it)."""

    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None


class Timings(RecordPart):
    """Per-task timings of one run or sweep point, in seconds."""

    latency_s: Percentiles
    queue_wait_s: Percentiles
    run_time_s: Percentiles
    thread_cpu_s: Percentiles


class RunCheck(RecordPart):
    """A run's cross-check: the backend's independent count and the producer's clock against the records."""

    backend_results: int | None
    producer_throughput: float | None
    agree: bool
    note: str


class Run(RecordPart):
    """One measured batch of one workload on one pool (or in-process baseline)."""

    workload: str
    pool: str
    repeat: int
    submitted: int
    completed: int
    failed: int
    lost: int
    throughput: float | None
    wall_s: float | None
    processes: int
    worker_cpu_s: float | None
    others_cores: float | None = 0.0
    timings: Timings
    latency_samples: list[float] = Field(default_factory=list)
    reported_pools: list[str] = Field(default_factory=list)
    check: RunCheck
    #: Which Celery ran the batch ("stock" or "lab"; None for an in-process baseline or a schema-2 record).
    celery: str | None = None
    #: The worker processes' memory at idle and at peak during the batch (None: not local, or a baseline).
    memory: MemoryFigures | None = None
    #: The broker the batch went through ("redis", "rabbitmq"; None: a baseline or an older record) and the
    #: broker server's CPU seconds during it (None where it cannot be read from here).
    broker: str | None = None
    broker_cpu_s: float | None = None


class ComparePlanInfo(RecordPart):
    """What the compare was asked to run."""

    workloads: list[str]
    pools: list[str]
    count: int
    repeat: int
    sizes: dict[str, int]
    baselines: bool
    timeout_s: float
    #: Which Celery the compare ran: "stock", "lab" or "both".
    celery: str = "lab"
    #: A user's task (``--task``) instead of / beside the catalogue's workloads.
    task: UserTaskInfo | None = None
    #: ``--broker``: the brokers it ran on ("" = LAB_BROKER_URL's only).
    broker: str = ""


class PoolInfo(RecordPart):
    """The slots a pool had in the compare (per mode), where its workers came from, the rule, the measured ceiling."""

    concurrency: int
    nodes: list[str]
    started_here: bool
    concurrency_rule: str
    #: The Celery mode its workers run ("stock", "lab"; None: an in-process baseline or an older record).
    celery: str | None = None
    #: The queue the batches went to (``<pool>.<mode>`` for workers started here).
    queue: str | None = None
    #: What was reused or started, and why.
    origin: str | None = None
    #: The no-op throughput of these workers, measured before the batches: the best probe batch
    #: (producer/measure/ceiling.py), and every probe batch's figure.
    consumer_ceiling_tps: float | None = None
    consumer_probes_tps: list[float] = Field(default_factory=list)
    #: The broker its workers consume from (None: a baseline or an older record).
    broker: str | None = None


class Bottleneck(RecordPart):
    """The tightest bound on a cell's throughput and the figures behind it."""

    name: str
    bound: float | None
    share: float | None
    figures: str


class Cell(RecordPart):
    """One workload × pool of a compare: the runs' medians, the ideal, the bottleneck. None/NaN: no value."""

    workload: str
    pool: str
    kind: Literal["celery", "in-process"]
    concurrency: int
    runs: int
    throughput_median: float | None
    throughput_min: float | None
    throughput_max: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    thread_cpu_mean_s: float | None
    run_time_mean_s: float | None
    cpu_share: float | None
    ideal_throughput: float | None
    efficiency: float | None
    submitted: int
    completed: int
    failed: int
    lost: int
    checks_agree: bool
    others_cores: float | None = 0.0
    check_notes: list[str] = Field(default_factory=list)
    bottleneck: Bottleneck
    speedup_vs_solo: float | None = None
    #: Which Celery ran this cell ("stock" or "lab"; None for in-process baselines and schema-2 records).
    celery: str | None = None
    #: Median over the cell's runs of each memory figure.
    memory: MemoryFigures | None = None
    #: The no-op throughput of this cell's workers, measured in the same run (the consumer ceiling).
    consumer_ceiling_tps: float | None = None
    #: The broker (None: a baseline or an older record), its server's and the workers' median CPU ms per task.
    broker: str | None = None
    broker_cpu_ms_per_task: float | None = None
    worker_cpu_ms_per_task: float | None = None


class LabRecord(RecordPart):
    """What every record has: its schema, its kind, when it was written and where it ran."""

    schema_version: Literal[3] = SCHEMA_VERSION
    #: ``compare`` or ``sweep`` (each subclass fixes it): also the file name's prefix.
    kind: str
    created: str = Field(default_factory=utc_now)
    environment: Environment

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON values (NaN/inf become null): what is written to disk."""
        return dict(clean(self.model_dump(mode="json", warnings=False)))  # write_record validates it

    def to_json(self, indent: int = 2) -> str:
        """The record as JSON text (``--json``)."""
        return json.dumps(self.as_json(), indent=indent)


class CompareRecord(LabRecord):
    """`producer compare`: the plan, the pools, every run, the cells and a verdict per workload."""

    kind: Literal["compare"] = "compare"
    plan: ComparePlanInfo
    #: By pool; ``pool/mode`` when both modes ran, ``…/broker`` when both brokers did (compare_setup.info_key).
    pools: dict[str, PoolInfo]
    runs: list[Run]
    cells: list[Cell]
    verdicts: dict[str, str]
    #: Per mode that ran ("stock", "lab"): which Celery, its changes and versions.
    celery_modes: dict[str, CeleryMode] = Field(default_factory=dict)
    #: ``--celery both``: lab ÷ stock throughput per workload × pool.
    mode_ratios: list[ModeRatio] = Field(default_factory=list)
    #: Per workload: what the solo probe measured (holds the GIL, releases it, waits).
    classifications: dict[str, Classification] = Field(default_factory=dict)
    #: Per broker that ran ("redis", "rabbitmq"): where it was and its version.
    brokers: dict[str, BrokerInfo] = Field(default_factory=dict)
    #: ``--broker redis,rabbitmq``: rabbitmq ÷ redis throughput per workload × pool (× mode).
    broker_ratios: list[BrokerRatio] = Field(default_factory=list)
