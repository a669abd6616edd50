"""`producer advise` end to end: classify the task, lay out the space, search it, pick, and build the record.

With ``--broker redis,rabbitmq`` the search runs on each broker's side (producer/broker/sides.py: the
other broker found or started for the run, stopped after it); the record lists the brokers and says
which is faster, each with its best configuration (producer/advise/brokers.py).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

from celery import Celery

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.advise import recommend
from producer.advise.brokers import broker_verdict
from producer.advise.search import Search
from producer.advise.space import search_space
from producer.advise.trial import TrialSetup
from producer.broker import BrokerKind
from producer.broker.sides import broker_sides, describe
from producer.measure.advise_record import AdviseRecord, Constraints
from producer.measure.cpu_share import BUSY_OTHERS_CORES
from producer.measure.figure_models import Classification, UserTaskInfo
from producer.measure.records import environment
from producer.processes import fleet
from worker.task_args import WorkloadArgs

#: A measured batch lasts budget ÷ this, within [MIN_BATCH_S, MAX_BATCH_S] seconds.
BATCH_SHARE_OF_BUDGET = 45
MIN_BATCH_S = 1.0
MAX_BATCH_S = 4.0


@dataclass(frozen=True)
class AdviseRequest:
    """What to advise on: the task and its arguments, the constraints and budget, which Celery."""

    args: WorkloadArgs
    constraints: Constraints
    mode: CeleryMode = "stock"
    task: UserTaskInfo | None = None
    #: Environment a worker needs to run the task (``LAB_TASK_MODULES`` for a user's task).
    task_env: dict[str, str] = field(default_factory=dict)
    #: ``--broker``: the brokers to search on, redis first (empty: LAB_BROKER_URL's only, no broker in labels).
    brokers: tuple[BrokerKind, ...] = ()


def batch_seconds(budget_s: float) -> float:
    """How long each trial's measured batch should last for this budget."""
    return min(MAX_BATCH_S, max(MIN_BATCH_S, budget_s / BATCH_SHARE_OF_BUDGET))


def trial_setup(
    app: Celery, settings: LabSettings, request: AdviseRequest, classification: Classification, cores: int
) -> TrialSetup:
    """What every trial of this request shares (the benchmark's exhaustive sweep uses the same)."""
    return TrialSetup(
        app,
        settings,
        request.args,
        classification.label,
        request.mode,
        cores,
        batch_seconds(request.constraints.budget_s),
        classification.task_s or None,
        dict(request.task_env),
    )


def _notes(trials: list, left_out: list[str], search_notes: list[str], elapsed: float, budget: float) -> list[str]:
    notes = [*left_out, *dict.fromkeys(search_notes)]
    busy = [recommend.config_of(t).label for t in trials if (t.others_cores or 0.0) >= BUSY_OTHERS_CORES]
    if busy:
        notes.append(
            f"noisy: other processes kept ≥ {BUSY_OTHERS_CORES} core busy during {', '.join(busy)}; "
            "their figures are low"
        )
    if elapsed > budget:
        notes.append(f"took {elapsed:.0f} s, over the {budget:.0f} s budget (the first trial always runs)")
    return notes


def run_advise(
    app: Celery,
    settings: LabSettings,
    request: AdviseRequest,
    classify: Callable[[], Classification],
    say: Callable[[str], None] = lambda _: None,
) -> AdviseRecord:
    """Classify (``classify``), search within the budget, and return the record with the recommendation."""
    started = time.monotonic()
    entry = catalogue.workload(request.args.workload)
    cores = os.cpu_count() or 1
    classification = classify()
    say(f"task class: {classification.figures}")
    space = search_space(classification.label, entry, settings, cores)
    setup = trial_setup(app, settings, request, classification, cores)
    with broker_sides(app, settings, list(request.brokers)) as sides:
        if request.brokers:
            setup.sides = {side.kind: side for side in sides}
            for side in sides:
                say(f"broker {side.kind}: {side.url} ({side.origin})")
        brokers = {side.kind: describe(side) for side in sides}
        search = Search(setup, space, request.constraints, started, say)
        with fleet.latency_target(settings) if entry.takes_url else nullcontext():
            trials = search.run()
    urls = {kind: side.settings.broker_url for kind, side in setup.sides.items()}
    chosen = recommend.recommendation(trials, request.mode, settings, request.task_env, urls)
    elapsed = time.monotonic() - started
    notes = _notes(trials, space.left_out, search.notes, elapsed, request.constraints.budget_s)
    if chosen is None and trials:
        near = "; ".join(
            f"{recommend.config_of(t).label} ({', '.join(t.ruled_out)})" for t in recommend.nearest(trials)
        )
        notes.append(f"no configuration met the constraints; nearest: {near}")
    return AdviseRecord(
        environment=environment(settings.model_copy(update={"celery_mode": request.mode})),
        workload=request.args.workload,
        task=request.task,
        size=request.args.size,
        count=int(statistics.median(t.submitted for t in trials)) if trials else 0,
        classification=classification,
        constraints=request.constraints,
        trials=trials,
        recommendation=chosen,
        runners_up=recommend.runners_up(trials, recommend.pick(trials)),
        ruled_out=recommend.ruled_out(trials),
        elapsed_s=round(elapsed, 1),
        notes=notes,
        brokers=brokers,
        broker_verdict=broker_verdict(trials, list(setup.sides)),
    )
