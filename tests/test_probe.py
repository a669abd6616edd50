"""The probe labels a task by measurement (solo thread CPU ÷ wall, then threads ÷ solo), on workers of its own.

Real workers on private queues; the labels are what the figures mean, with wide margins (≈1× against
≈cores× for the GIL), so the machine's noise moves the figures but not the label.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from config import catalogue
from producer.measure.probe import HOLDS, RELEASES, WAITS, classify, label_for
from producer.measure.runnable import ThreadTimes, computing_at_once
from producer.measure.user_tasks import user_task
from worker.task_args import WorkloadArgs

SAMPLE = "tests.user_tasks_sample"


@pytest.fixture
def user_settings(settings: Any) -> Iterator[Any]:
    """The session's settings allowing the sample module; user workloads added to the catalogue are removed after."""
    before = dict(catalogue.WORKLOADS)
    yield settings.model_copy(update={"task_modules": SAMPLE})
    catalogue.WORKLOADS.clear()
    catalogue.WORKLOADS.update(before)


@pytest.mark.parametrize(
    ("function", "kwargs", "expected"),
    [
        ("hold_gil", '{"n": 800000}', HOLDS),
        ("release_gil", '{"rounds": 6}', RELEASES),
        ("wait", '{"ms": 40}', WAITS),
    ],
)
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="releasing the GIL shows only on two cores or more")
def test_each_sample_task_is_labelled_by_measurement(
    celery_app: Any, user_settings: Any, function: str, kwargs: str, expected: str
) -> None:
    args = user_task(f"{SAMPLE}:{function}", None, kwargs, user_settings)
    found = classify(celery_app, user_settings, args)
    assert found.label == expected, found.figures
    assert found.tasks >= 4 and found.task_s > 0
    assert "solo: thread CPU ÷ wall" in found.figures
    assert (found.threads_speedup is None) == (expected == WAITS)
    entry = catalogue.workload(args.workload)  # the user task's entry took the measured class
    assert entry.kind == ("wait" if expected == WAITS else "cpu")
    assert entry.releases_gil == (expected != HOLDS)


@pytest.mark.parametrize(("workload", "first"), [("io_sleep", "solo"), ("io_sleep_async", "asyncio")])
def test_a_built_in_workload_gets_the_same_probe(celery_app: Any, settings: Any, workload: str, first: str) -> None:
    found = classify(celery_app, settings, WorkloadArgs(workload, 30), tasks=3)
    assert found.label == WAITS and found.cpu_per_wall < 0.3 and found.tasks == 3
    assert found.figures.startswith(f"{first}: thread CPU ÷ wall")  # async def: probed on the pool with a loop


def test_the_label_reads_the_two_figures() -> None:
    assert label_for(0.05, None, 2) == WAITS
    assert label_for(0.95, 1.02, 2) == HOLDS
    assert label_for(0.95, 1.9, 2) == RELEASES
    assert label_for(0.95, 13.0, 16) == RELEASES
    assert label_for(0.95, 2.0, 16) == HOLDS
    assert label_for(0.95, None, 1) == HOLDS
    # waits for a core taken out (Linux): a higher line, or more than one core used outright
    assert label_for(0.95, 1.16, 2, 0.82, corrected=True) == HOLDS
    assert label_for(0.95, 1.3, 2, 1.3, corrected=True) == RELEASES
    assert label_for(0.95, 1.3, 2, 1.3) == HOLDS
    assert label_for(0.95, 1.8, 2, 0.9, corrected=True) == RELEASES


def test_threads_computing_at_once_takes_out_the_waits_for_a_core() -> None:
    both = {1: ThreadTimes(cpu_s=0.5, runq_s=0.5), 2: ThreadTimes(cpu_s=0.5, runq_s=0.5)}  # busy machine, no GIL
    turns = {1: ThreadTimes(cpu_s=0.25, runq_s=0.25), 2: ThreadTimes(cpu_s=0.25, runq_s=0.25)}  # taking turns
    blocked = {1: ThreadTimes(cpu_s=0.01, runq_s=0.0), 2: ThreadTimes(cpu_s=0.0, runq_s=0.0)}  # sleeping
    assert computing_at_once([(both, 1.0)]) == pytest.approx(2.0)
    assert computing_at_once([(turns, 1.0)]) == pytest.approx(2 / 3)
    assert computing_at_once([(blocked, 1.0)]) == pytest.approx(0.01)
