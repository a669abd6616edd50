"""The adaptive search: start every candidate pool once, then climb the most promising one step at a time.

Each pool starts at its ladder's start (the cores for a task that computes, 16 slots for one that
waits); with ``--broker redis,rabbitmq`` each pool starts, and climbs, on each broker (one climb per
pool × broker, interleaved as the pools are; one budget for all). A step follows the bottleneck the
last trial saw (producer/advise/moves.py). A step that does not beat the trial it started from by more
than the noise (10 %) ends that direction; a trial that breaks a constraint is ruled out and the climb
steps down instead. The next step always goes to the climb whose best figure is highest; a climb under
half the best on its broker is not continued (each broker's fastest is what the brokers' verdict
compares, producer/advise/brokers.py). When the climbs end, the configurations within 40 % of the
fastest, and each broker's fastest, are measured once more; each configuration is judged by the median
of its trials. Before each trial its cost is estimated (the
pool's last start-up and shutdown, the batch length, the task's time): a trial that would not fit the
budget is not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from producer.advise import recommend
from producer.advise.moves import PoolState, judge, memory_floor_mb, next_moves, why
from producer.advise.space import Config, Space
from producer.advise.trial import CEILING_ROUNDS, CEILING_TASKS_PER_PROCESS, TrialSetup, run_trial
from producer.errors import LabError
from producer.measure.advise_record import Constraints, Trial

__all__ = ["Search", "judge", "memory_floor_mb", "next_moves"]

#: A step must beat the trial it started from by more than this share: below it, the figures are noise.
NOISE = 0.10
#: A pool whose best is under this share of the best so far is not climbed further.
CLIMB_SHARE = 0.5
#: Start-up, warm-up and shutdown of a trial before one of its pool has run (seconds), and per extra process.
DEFAULT_OVERHEAD_S = 5.0
PER_PROCESS_S = 0.5
#: Configurations within this share of the fastest are measured once more at the end (at most RUNOFF_SIZE):
#: one trial each is one draw of a noisy machine, the pick goes by the median of a configuration's trials.
RUNOFF_SHARE = 0.6
RUNOFF_SIZE = 3


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
    #: One climb per (pool, broker); the broker is "" without ``--broker``.
    states: dict[tuple[str, str], PoolState] = field(default_factory=dict)

    def run(self) -> list[Trial]:
        """Start every pool on every broker, then climb until no move is left or the budget is spent."""
        for ladder in self.space.ladders:
            for broker in self.setup.brokers:
                fresh = self.states[(ladder.pool, broker)] = PoolState(ladder, broker)
                self._try(fresh, fresh.start, f"start: {ladder.why_start}")
        while (state := self._next_pool()) is not None:
            config, reason = state.moves.pop(0)
            self._try(state, config, reason)
        self._runoff()
        self._budget_notes()
        return self.trials

    def _budget_notes(self) -> None:
        """With several brokers: which broker's climbs the budget stopped, and the trials each got."""
        brokers = self.setup.brokers
        if len(brokers) < 2:
            return
        counts = ", ".join(f"{b} {sum(1 for t in self.trials if t.broker == b)}" for b in brokers)
        for broker in brokers:
            cut = [state.ladder.pool for state in self.states.values() if state.broker == broker and state.cut]
            if cut:
                self.notes.append(
                    f"budget: the climb on {broker} was cut short ({', '.join(cut)}); trials per broker: {counts}"
                )

    def _best_tp(self, broker: str) -> float:
        """The best valid figure so far on ``broker`` (each broker's climbs are judged among themselves)."""
        on_it = (t.throughput or 0.0 for t in self.trials if not t.ruled_out and (t.broker or "") == broker)
        return max(on_it, default=0.0)

    def _next_pool(self) -> PoolState | None:
        """The climb with moves left whose figure is highest (one stepping down to meet a limit first)."""
        ready = []
        for state in self.states.values():
            state.moves = [(c, r) for c, r in state.moves if c not in state.tried and state.ladder.holds(c)]
            if not state.moves or state.current is None:
                continue
            own = state.best.throughput if state.best and state.best.throughput else 0.0
            best = self._best_tp(state.broker)
            if state.best is not None and own < CLIMB_SHARE * best:
                where = f" on {state.broker}" if state.broker else ""
                self.notes.append(
                    f"{state.name}: not climbed past {state.best.concurrency} slots: "
                    f"{own:,.1f}/s is under half the best{where} ({best:,.1f}/s)"
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
        if self.setup.ceiling_key(config) not in self.setup.ceilings:
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
        self.say(f"  {config.label}: {shown}, bottleneck {why(trial)}{out}")
        return trial

    def _try(self, state: PoolState, config: Config, reason: str) -> None:
        state.tried.add(config)
        if not self._affordable(state, config):
            state.moves.clear()
            state.cut = True
            return
        trial = self._measure(state, config, reason)
        if trial is None:
            state.moves.clear()
            return
        self._advance(state, trial)

    def _runoff(self) -> None:
        """Re-measure the configurations within reach of the fastest (and each broker's fastest) once more."""
        standing = recommend.standing(self.trials)
        if not standing:
            return
        top = standing[0][1]
        contenders = [config for config, throughput, _ in standing if throughput >= RUNOFF_SHARE * top]
        contenders = contenders[:RUNOFF_SIZE]
        for config, _, _ in standing:  # the brokers' verdict compares each one's fastest: measure it twice too
            if all(other.broker != config.broker for other in contenders):
                contenders.append(config)
        if len(contenders) < 2:
            return
        for config in contenders:
            state = self.states[(config.pool, config.broker)]
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
