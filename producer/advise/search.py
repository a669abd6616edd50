"""The adaptive search: start every candidate pool once, then climb the most promising one step at a time.

Each pool starts at its ladder's start (the cores for a task that computes, 16 slots for one that
waits). A step follows the bottleneck the last trial saw: the slots ran out → double the concurrency;
the per-process consumer ceiling or one process's GIL → double the worker processes; the cores → stop
(more slots only add memory). A step that does not beat the trial it started from by more than the
noise (10 %) ends that direction; a trial that breaks a constraint (``--max-p95-ms``, ``--max-memory-mb``)
is ruled out and the climb steps down instead (half the concurrency, then fewer processes). The next
step always goes to the pool whose best figure is highest; a pool under half the best is not climbed.
When the climbs end, the configurations within 40 % of the fastest are measured once more, and each
configuration is judged by the median of its trials. Before each trial its cost is estimated (the
pool's last start-up and shutdown, the batch length, the task's time): a trial that would not fit the
budget is not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config import catalogue
from producer.advise import bottleneck, recommend
from producer.advise.space import Config, Ladder, Space
from producer.advise.trial import CEILING_ROUNDS, CEILING_TASKS_PER_PROCESS, TrialSetup, run_trial
from producer.errors import LabError
from producer.measure.advise_record import Constraints, Trial

#: A step must beat the trial it started from by more than this share: below it, the figures are noise.
NOISE = 0.10
#: A pool whose best is under this share of the best so far is not climbed further.
CLIMB_SHARE = 0.5
#: Start-up, warm-up and shutdown of a trial before one of its pool has run (seconds), and per extra process.
DEFAULT_OVERHEAD_S = 5.0
PER_PROCESS_S = 0.5
#: The cores stop a climb only when they were at least this busy (of what the lab could use).
CORES_BUSY_SHARE = 0.8
#: Configurations within this share of the fastest are measured once more at the end (at most RUNOFF_SIZE):
#: one trial each is one draw of a noisy machine, the pick goes by the median of a configuration's trials.
RUNOFF_SHARE = 0.6
RUNOFF_SIZE = 3
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


def _why(trial: Trial) -> str:
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
    c, w, pool = trial.concurrency, trial.workers, trial.pool
    if trial.ruled_out:
        if any(not line.startswith(LIMITS) for line in trial.ruled_out):
            return []  # tasks failed: a smaller configuration would not mend the task
        floor = memory_floor_mb(trial)
        if constraints.max_memory_mb is not None and floor is not None and floor > constraints.max_memory_mb:
            return []  # even the smallest worker of this pool is over the limit (said in the notes)
        if c > 1:
            return [(Config(pool, c // 2, w), f"halve concurrency ({trial.ruled_out[0]})")]
        return [(Config(pool, c, w // 2), f"fewer worker processes ({trial.ruled_out[0]})")] if w > 1 else []
    name = trial.bottleneck.name if trial.bottleneck else bottleneck.OVERHEAD
    share = trial.bottleneck.share if trial.bottleneck and trial.bottleneck.share is not None else 0.0
    if name == bottleneck.CORES and share < CORES_BUSY_SHARE:
        name = bottleneck.OVERHEAD  # the nearest bound, but the cores were not that busy: other moves may pay
    more_slots = (Config(pool, c * 2, w), f"double concurrency: {_why(trial)}")
    more_processes = (Config(pool, c, w * 2), f"more worker processes: {_why(trial)}")
    if name in (bottleneck.CEILING, bottleneck.GIL):
        return [more_processes]
    if name == bottleneck.SLOTS:
        return [more_slots]
    if name == bottleneck.OVERHEAD and (setup.waits or c * w < setup.cores):
        return [more_slots, more_processes]
    return []  # the cores (or, computing with a slot per core, a busy machine): more slots only add memory


@dataclass
class PoolState:
    """One pool's climb: the trial it continues from, its best valid trial, the moves left."""

    ladder: Ladder
    current: Trial | None = None
    best: Trial | None = None
    moves: list[tuple[Config, str]] = field(default_factory=list)
    tried: set[Config] = field(default_factory=set)
    overhead_s: float | None = None


@dataclass
class Search:
    """One search over a space: the trials in order, notes, and the clock the budget is counted on."""

    setup: TrialSetup
    space: Space
    constraints: Constraints
    started: float
    say: Callable[[str], None] = lambda _: None
    trials: list[Trial] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    states: dict[str, PoolState] = field(default_factory=dict)

    def run(self) -> list[Trial]:
        """Start every pool, then climb until no move is left or the budget is spent."""
        for ladder in self.space.ladders:
            self.states[ladder.pool] = PoolState(ladder)
            start = Config(ladder.pool, ladder.start, 1)
            self._try(self.states[ladder.pool], start, f"start: {ladder.why_start}")
        while (state := self._next_pool()) is not None:
            config, reason = state.moves.pop(0)
            self._try(state, config, reason)
        self._runoff()
        return self.trials

    def _best_tp(self) -> float:
        return max((t.throughput or 0.0 for t in self.trials if not t.ruled_out), default=0.0)

    def _next_pool(self) -> PoolState | None:
        """The pool with moves left whose figure is highest (a pool stepping down to meet a limit first)."""
        best = self._best_tp()
        ready = []
        for state in self.states.values():
            state.moves = [(c, r) for c, r in state.moves if c not in state.tried and state.ladder.holds(c)]
            if not state.moves or state.current is None:
                continue
            own = state.best.throughput if state.best and state.best.throughput else 0.0
            if state.best is not None and own < CLIMB_SHARE * best:
                self.notes.append(
                    f"{state.ladder.pool}: not climbed past {state.best.concurrency} slots: "
                    f"{own:,.1f}/s is under half the best ({best:,.1f}/s)"
                )
                state.moves.clear()
                continue
            ready.append((state.best is not None, own, state))
        if not ready:
            return None
        return max(ready, key=lambda item: (not item[0], item[1]))[2]

    def estimate_s(self, state: PoolState, config: Config) -> float:
        """A trial's expected length: its pool's last overhead (or a default), the batch, the warm-up, the ceiling."""
        known = [s.overhead_s for s in self.states.values() if s.overhead_s is not None]
        overhead = state.overhead_s or (max(known) if known else DEFAULT_OVERHEAD_S)
        overhead += PER_PROCESS_S * (config.workers - 1)
        ceiling = 0.0
        if (config.pool, config.workers) not in self.setup.ceilings:
            ceiling = CEILING_ROUNDS * (0.3 + CEILING_TASKS_PER_PROCESS * config.workers / 500.0)
        return overhead + ceiling + 1.2 * self.setup.batch_s + 2 * (self.setup.task_s or 0.0)

    def _affordable(self, state: PoolState, config: Config) -> bool:
        """True when the trial fits what is left of the budget (the first trial always does); else a note."""
        elapsed = time.monotonic() - self.started
        cost = self.estimate_s(state, config)
        if not self.trials or elapsed + cost <= self.constraints.budget_s:
            return True
        left = self.constraints.budget_s - elapsed
        self.notes.append(f"budget: {config.label} not started (~{cost:.0f} s; {max(left, 0):.0f} s left)")
        return False

    def _measure(self, state: PoolState, config: Config, reason: str) -> Trial | None:
        """Run one trial and judge it against the constraints (None: its workers did not start; noted)."""
        self.say(f"trying {config.label} ({reason})")
        try:
            measured = run_trial(self.setup, config, reason)
        except LabError as error:
            self.notes.append(f"{config.label}: not measured: {error}")
            return None
        trial = measured.trial
        trial.ruled_out = judge(trial, self.constraints)
        floor = memory_floor_mb(trial)
        limit = self.constraints.max_memory_mb
        if limit is not None and floor is not None and floor > limit:
            self.notes.append(
                f"{config.pool}: its smallest worker takes ~{floor:,.0f} MiB at idle, over the {limit:g} MiB limit"
            )
        self.trials.append(trial)
        state.overhead_s = max(0.0, (trial.duration_s or 0.0) - measured.batch_wall_s)
        shown = f"{trial.throughput:,.1f} tasks/s" if trial.throughput else "no throughput"
        out = f"; ruled out: {'; '.join(trial.ruled_out)}" if trial.ruled_out else ""
        self.say(f"  {config.label}: {shown}, bottleneck {_why(trial)}{out}")
        return trial

    def _try(self, state: PoolState, config: Config, reason: str) -> None:
        state.tried.add(config)
        if not self._affordable(state, config):
            state.moves.clear()
            return
        trial = self._measure(state, config, reason)
        if trial is None:
            state.moves.clear()
            return
        self._advance(state, trial)

    def _runoff(self) -> None:
        """Re-measure the configurations within reach of the fastest once more, one after the other."""
        standing = recommend.standing(self.trials)
        if not standing:
            return
        top = standing[0][1]
        contenders = [config for config, throughput, _ in standing if throughput >= RUNOFF_SHARE * top]
        contenders = contenders[:RUNOFF_SIZE]
        if len(contenders) < 2:
            return
        for config in contenders:
            state = self.states[config.pool]
            if not self._affordable(state, config):
                return
            others = ", ".join(other.label for other in contenders if other != config)
            self._measure(state, config, f"runoff: again, beside {others}")

    def _advance(self, state: PoolState, trial: Trial) -> None:
        """Move the climb to ``trial`` when it is better (or a step down still breaking a limit); else keep on."""
        valid = not trial.ruled_out
        if valid and (state.best is None or (trial.throughput or 0.0) > (state.best.throughput or 0.0)):
            state.best = trial
        previous = state.current
        stepping_down = previous is not None and bool(previous.ruled_out) and _slots(trial) < _slots(previous)
        improved = (
            previous is None
            or (valid and bool(previous.ruled_out))
            or (valid and (trial.throughput or 0.0) > (previous.throughput or 0.0) * (1 + NOISE))
            or (stepping_down and not valid)
        )
        if improved:
            state.current = trial
            state.moves = next_moves(trial, self.setup, self.constraints)


def _slots(trial: Trial) -> int:
    return trial.concurrency * trial.workers
