"""One climb of advise's search: a pool's (on one broker) state, the judge of a trial, and the next moves.

A step follows the bottleneck the last trial saw: the slots ran out → double the concurrency; the
per-process consumer ceiling or one process's GIL → double the worker processes; the cores → stop
(more slots only add memory). A trial that breaks a constraint (``--max-p95-ms``, ``--max-memory-mb``)
is ruled out and the climb steps down instead (half the concurrency, then fewer processes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config import catalogue
from producer.advise import bottleneck
from producer.advise.recommend import config_of
from producer.advise.space import Config, Ladder
from producer.advise.trial import TrialSetup
from producer.measure.advise_record import Constraints, Trial

#: The cores stop a climb only when they were at least this busy (of what the lab could use).
CORES_BUSY_SHARE = 0.8
#: Keys of :attr:`Trial.ruled_out` lines that a smaller configuration may satisfy.
LIMITS = ("max_p95_ms", "max_memory_mb")


def judge(trial: Trial, constraints: Constraints) -> list[str]:
    """The lines saying which constraints (or failures) rule this trial out; empty when it meets them all."""
    lines = []
    unfinished = trial.failed + trial.lost + trial.pending
    if unfinished or not trial.throughput:
        why = f" ({trial.failure_reason})" if trial.failure_reason else ""
        lines.append(
            f"tasks failed: {trial.failed} failed, {trial.lost} lost, {trial.pending} unfinished "
            f"of {trial.submitted}{why}"
        )
    if constraints.max_p95_ms is not None:
        p95 = trial.latency_p95_s
        if p95 is None or p95 * 1000 > constraints.max_p95_ms:
            shown = f"{p95 * 1000:,.0f} ms" if p95 is not None else "not measured"
            lines.append(f"max_p95_ms: p95 {shown} > {constraints.max_p95_ms:g} ms")
    if constraints.max_memory_mb is not None:
        peak = trial.memory.peak_pss_mb if trial.memory else None
        if peak is None or peak > constraints.max_memory_mb:
            shown = f"{peak:,.0f} MiB" if peak is not None else "not measured"
            lines.append(f"max_memory_mb: peak PSS {shown} > {constraints.max_memory_mb:g} MiB")
    return lines


def why(trial: Trial) -> str:
    """The bottleneck a trial saw, with its share of the bound: ``slots, 93% of 160/s``."""
    found = trial.bottleneck
    if found is None:
        return "no bound measured"
    share = f", {found.share:.0%} of {found.bound:,.0f}/s" if found.share is not None and found.bound else ""
    return f"{found.name}{share}"


def memory_floor_mb(trial: Trial) -> float | None:
    """The idle PSS of the smallest worker of this pool (one process; a process-per-slot pool: parent + one child)."""
    memory = trial.memory
    if memory is None or memory.idle_pss_mb is None or not memory.processes:
        return None
    smallest = 2 if catalogue.pool(trial.pool).process_per_slot else 1
    return memory.idle_pss_mb / memory.processes * smallest


def next_moves(trial: Trial, setup: TrialSetup, constraints: Constraints) -> list[tuple[Config, str]]:
    """Where to go from ``trial``, in order of promise, from the bottleneck it saw (or the limit it broke)."""
    here = config_of(trial)
    c, w = here.concurrency, here.workers
    if trial.ruled_out:
        if any(not line.startswith(LIMITS) for line in trial.ruled_out):
            return []  # tasks failed: a smaller configuration would not mend the task
        floor = memory_floor_mb(trial)
        if constraints.max_memory_mb is not None and floor is not None and floor > constraints.max_memory_mb:
            return []  # even the smallest worker of this pool is over the limit (said in the notes)
        if c > 1:
            return [(here.moved(c // 2, w), f"halve concurrency ({trial.ruled_out[0]})")]
        return [(here.moved(c, w // 2), f"fewer worker processes ({trial.ruled_out[0]})")] if w > 1 else []
    name = trial.bottleneck.name if trial.bottleneck else bottleneck.OVERHEAD
    share = trial.bottleneck.share if trial.bottleneck and trial.bottleneck.share is not None else 0.0
    if name == bottleneck.CORES and share < CORES_BUSY_SHARE:
        name = bottleneck.OVERHEAD  # the nearest bound, but the cores were not that busy: other moves may pay
    more_slots = (here.moved(c * 2, w), f"double concurrency: {why(trial)}")
    more_processes = (here.moved(c, w * 2), f"more worker processes: {why(trial)}")
    if name in (bottleneck.CEILING, bottleneck.GIL):
        return [more_processes]
    if name == bottleneck.SLOTS:
        return [more_slots]
    if name == bottleneck.OVERHEAD and (setup.waits or c * w < setup.cores):
        return [more_slots, more_processes]
    return []  # the cores (or, computing with a slot per core, a busy machine): more slots only add memory


@dataclass
class PoolState:
    """One pool's climb on one broker: the trial it continues from, its best valid trial, the moves left."""

    ladder: Ladder
    #: ``--broker``'s redis or rabbitmq ("": LAB_BROKER_URL's).
    broker: str = ""
    current: Trial | None = None
    best: Trial | None = None
    moves: list[tuple[Config, str]] = field(default_factory=list)
    tried: set[Config] = field(default_factory=set)
    overhead_s: float | None = None
    #: True when the budget stopped this climb with moves left.
    cut: bool = False

    @property
    def name(self) -> str:
        """``threads`` or ``threads on rabbitmq``."""
        return self.ladder.pool + (f" on {self.broker}" if self.broker else "")

    @property
    def start(self) -> Config:
        """Where the climb starts: the ladder's start, one worker process, on this broker."""
        return Config(self.ladder.pool, self.ladder.start, 1, self.broker)
