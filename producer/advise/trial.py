"""One advise trial: start a configuration's workers on a private queue, warm up, measure one batch, stop.

A trial starts ``workers`` worker processes of the pool with ``-c concurrency`` (``fleet.running_workers``;
``LAB_CELERY_MODE`` in their environment picks stock or lab Celery), runs a warm-up batch (every slot
for a task that waits, one per core otherwise), measures the consumer ceiling of that pool and process
count once (no-op batches on the same warm workers, first start → last finish, the best of two, as
``producer/measure/ceiling.py`` measures warm workers but with longer batches; cached), then one batch
sized from the warm-up to last about ``batch_s`` seconds, while sampling the workers' memory (PSS/USS),
their CPU, everyone else's and the broker server's. A configuration on a ``--broker`` side runs on that
broker: its workers get its ``LAB_BROKER_URL``, its batches, probes and purges go through its app and
settings; the trial's queue is deleted after it (RabbitMQ keeps a per-run queue for ever).
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.advise import bottleneck
from producer.advise.space import Config
from producer.batch.collect import collect_results
from producer.batch.run import BatchOutcome, broker_and_backend, run_batch
from producer.batch.stats import percentile
from producer.batch.submit import submit_batch
from producer.broker import open_broker
from producer.measure import batch_watch, ceiling
from producer.measure.advise_record import Trial
from producer.measure.figure_models import TaskClass
from producer.measure.record_models import Timings
from producer.measure.records import timing_summary
from producer.processes import fleet
from worker.task_args import WorkloadArgs

if TYPE_CHECKING:
    from producer.broker.sides import BrokerSide

#: The consumer ceiling: the best of CEILING_ROUNDS no-op batches of this many tasks per worker process
#: (long enough for the prefetch pipeline to fill: a 100-task batch read ~20 % low against long batches).
CEILING_TASKS_PER_PROCESS = 300
CEILING_ROUNDS = 2
#: Fewest tasks in a measured batch, and most (whatever the estimate says).
MIN_TASKS = 20
MAX_TASKS = 20_000
#: A failure reason quoted in a trial's ruled-out line is cut to this length.
REASON_CHARS = 120


@dataclass
class TrialSetup:
    """What every trial of one advise run shares: the task, the Celery, the machine, and the ceilings found."""

    app: Celery
    settings: LabSettings
    args: WorkloadArgs
    label: TaskClass
    mode: CeleryMode
    cores: int
    #: How long a measured batch should last (seconds).
    batch_s: float
    #: The task's solo time (the probe's), or None until a trial measures it.
    task_s: float | None
    #: Extra environment for the workers (e.g. ``LAB_TASK_MODULES`` for a user's task).
    worker_env: dict[str, str] = field(default_factory=dict)
    #: Measured consumer ceilings (tasks/s) by (pool, worker processes, broker); None: not measurable there.
    ceilings: dict[tuple[str, int, str], float | None] = field(default_factory=dict)
    log_dir: Path | None = None
    #: ``--broker``: each broker's side (its app and settings) by kind; empty: ``app`` and ``settings`` only.
    sides: dict[str, BrokerSide] = field(default_factory=dict)

    @property
    def brokers(self) -> list[str]:
        """The brokers the search runs on, in order ([""]: LAB_BROKER_URL's, without ``--broker``)."""
        return list(self.sides) or [""]

    def side(self, config: Config) -> tuple[Celery, LabSettings]:
        """The app and settings of the configuration's broker."""
        if config.broker:
            found = self.sides[config.broker]
            return found.app, found.settings
        return self.app, self.settings

    @staticmethod
    def ceiling_key(config: Config) -> tuple[str, int, str]:
        """The ceilings' key: the consumer ceiling depends on the pool, the worker processes and the broker."""
        return config.pool, config.workers, config.broker

    @property
    def waits(self) -> bool:
        """The task waits: every slot gets a task in the warm-up, and slots beyond the cores help."""
        return self.label == "waits"

    def timeout_s(self) -> float:
        """How long one batch may take before its unfinished tasks are reported."""
        return max(60.0, 10 * self.batch_s + 20 * (self.task_s or 0.0))


@dataclass
class Measured:
    """A trial's record part and the measured batch's own length (for the budget's cost model)."""

    trial: Trial
    batch_wall_s: float


def run_trial(setup: TrialSetup, config: Config, reason: str) -> Measured:
    """Measure one configuration; :class:`~producer.errors.LabError` if its workers do not start."""
    began = time.monotonic()
    queue = f"advise-{uuid.uuid4().hex[:8]}"
    app, settings = setup.side(config)
    env = fleet.measured_env(settings, setup.mode, **setup.worker_env)
    try:
        with fleet.running_workers(
            app,
            settings,
            config.pool,
            config.concurrency,
            queue,
            count=config.workers,
            tag="advise",
            env=env,
            log_dir=setup.log_dir,
        ) as workers:
            measured = _measure(setup, config, workers, queue, reason)
    finally:
        with contextlib.closing(open_broker(settings)) as broker:
            broker.drop_queue(queue)  # a per-trial queue: RabbitMQ would keep it for ever
    measured.trial.duration_s = round(time.monotonic() - began, 2)
    return measured


def _batch(setup: TrialSetup, config: Config, args: WorkloadArgs, count: int, queue: str) -> BatchOutcome:
    app, settings = setup.side(config)
    return run_batch(app, settings, args, count, queue, timeout_s=setup.timeout_s())


def _consumer_ceiling(setup: TrialSetup, config: Config, queue: str) -> float | None:
    """The no-op rate of these warm workers, the best of :data:`CEILING_ROUNDS` batches (cached per pool ×
    worker processes × broker); None where no-op cannot run."""
    key = setup.ceiling_key(config)
    if key not in setup.ceilings:
        if catalogue.pool(config.pool).refuses(catalogue.workload(ceiling.NOOP.workload)):
            setup.ceilings[key] = None
        else:
            rates = [
                _noop_rate(setup, config, queue, CEILING_TASKS_PER_PROCESS * config.workers)
                for _ in range(CEILING_ROUNDS)
            ]
            setup.ceilings[key] = max((rate for rate in rates if rate), default=None)
    return setup.ceilings[key]


def _noop_rate(setup: TrialSetup, config: Config, queue: str, count: int) -> float | None:
    """No-op tasks/s of the warm workers consuming ``queue``: completed ÷ (last finish − first start)."""
    app, settings = setup.side(config)
    broker, backend = broker_and_backend(settings)
    try:
        batch = submit_batch(app, ceiling.NOOP, count, queue)
        timeout = setup.timeout_s()
        records = collect_results(backend, batch.task_ids, timeout_s=timeout, broker=broker, queue=queue).records
    finally:
        broker.close()
    if len(records) < 2:
        return None
    span = max(r["finished"] for r in records) - min(r["started"] for r in records)
    return len(records) / max(span, 1e-9)


def _estimate(warm: BatchOutcome, ceiling_tps: float | None) -> float:
    """Tasks/s expected from the warm-up: tasks run at once ÷ their median run time, at most the ceiling."""
    records = warm.collected.records
    run_time = percentile([r["finished"] - r["started"] for r in records], 50)
    guess = len(records) / run_time if records and run_time > 0 else math.inf
    return min(guess, ceiling_tps or math.inf, 2_000.0)


def _measure(setup: TrialSetup, config: Config, workers: fleet.PoolWorkers, queue: str, reason: str) -> Measured:
    warm_count = config.slots if setup.waits else min(config.slots, setup.cores)
    warm = _batch(setup, config, setup.args, warm_count, queue)
    ceiling_tps = _consumer_ceiling(setup, config, queue)
    estimate = _estimate(warm, ceiling_tps)
    count = int(min(MAX_TASKS, setup.settings.max_count, max(MIN_TASKS, 2 * config.slots, estimate * setup.batch_s)))
    with (
        contextlib.closing(open_broker(setup.side(config)[1])) as broker,
        batch_watch.watched(workers.pids, config.slots, workers.pids, broker) as cost,
    ):
        outcome = _batch(setup, config, setup.args, count, queue)
    others, worker_cpu = cost.others_cores, cost.worker_cpu_s
    summary = outcome.summary
    records = outcome.collected.records
    cpu_per_task = worker_cpu / summary.completed if worker_cpu is not None and summary.completed else None
    broker_s = cost.broker_cpu_s
    broker_ms = 1000 * broker_s / summary.completed if broker_s is not None and summary.completed else None
    timings = timing_summary(records)
    if setup.task_s is None and records and not setup.waits:
        setup.task_s = timings["thread_cpu_s"]["p50"]  # until a probe's solo time is known
    found = bottleneck.bounds(
        pool=config.pool,
        label=setup.label,
        concurrency=config.concurrency,
        workers=config.workers,
        cores=setup.cores,
        cpu_per_task_s=cpu_per_task,
        task_s=setup.task_s,
        ceiling_tps=ceiling_tps,
        others_cores=others,
    )
    trial = Trial(
        pool=config.pool,
        concurrency=config.concurrency,
        workers=config.workers,
        celery=setup.mode,
        submitted=summary.submitted,
        completed=summary.completed,
        failed=summary.failed,
        lost=summary.lost,
        throughput=summary.throughput if records else None,
        latency_p95_s=timings["run_time_s"]["p95"],
        timings=Timings.model_validate(timings),
        memory=cost.memory,
        cores_used=round(worker_cpu / summary.wall_s, 3) if worker_cpu is not None and summary.wall_s else None,
        consumer_ceiling_tps=ceiling_tps,
        bottleneck=bottleneck.bottleneck(found, summary.throughput),
        reason=reason,
        others_cores=round(others, 3),
        pending=summary.pending,
        failure_reason=_first_reason(outcome),
        broker=config.broker or None,
        broker_cpu_ms_per_task=round(broker_ms, 4) if broker_ms is not None else None,
    )
    return Measured(trial, summary.wall_s)


def _first_reason(outcome: BatchOutcome) -> str | None:
    reasons = list(outcome.collected.failures.values())
    if not reasons:
        return None
    first = " ".join(reasons[0].split())
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 1] + "…"
