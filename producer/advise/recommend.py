"""From the trials to the pick: the fastest that meets every constraint, the runners-up, what ruled what out.

Among trials within :data:`TIE_SHARE` of the fastest, the one with the least memory (peak PSS) wins:
a difference that small is noise on a shared machine, and memory is what the extra slots or processes
cost. Runners-up: the best trial of each other pool first, then the next fastest, three in all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from config.settings import CeleryMode, LabSettings
from producer.advise import command
from producer.advise.space import Config
from producer.measure.advise_record import Recommendation, Trial

#: Trials this close to the fastest count as equally fast; the least memory among them wins.
TIE_SHARE = 0.05
RUNNERS_UP = 3


def config_of(trial: Trial) -> Config:
    """The configuration a trial measured."""
    return Config(trial.pool, trial.concurrency, trial.workers)


def valid(trials: list[Trial]) -> list[Trial]:
    """Trials that meet every constraint and finished every task, fastest first."""
    return sorted((t for t in trials if not t.ruled_out and t.throughput), key=lambda t: -(t.throughput or 0.0))


def _memory(trial: Trial) -> float:
    peak = trial.memory.peak_pss_mb if trial.memory else None
    return peak if peak is not None else math.inf


def pick(trials: list[Trial]) -> Trial | None:
    """The recommended trial (None when no trial meets the constraints)."""
    ranked = valid(trials)
    if not ranked:
        return None
    top = ranked[0].throughput or 0.0
    close = [t for t in ranked if (t.throughput or 0.0) >= top * (1 - TIE_SHARE)]
    return min(close, key=lambda t: (_memory(t), t.concurrency * t.workers))


def runners_up(trials: list[Trial], chosen: Trial | None) -> list[Trial]:
    """The best of each other pool, then the next fastest, up to :data:`RUNNERS_UP`."""
    others = [t for t in valid(trials) if t is not chosen]
    first: dict[str, Trial] = {}
    for trial in others:
        if chosen is None or trial.pool != chosen.pool:
            first.setdefault(trial.pool, trial)
    ordered = list(first.values()) + [t for t in others if t not in first.values()]
    return ordered[:RUNNERS_UP]


def ruled_out(trials: list[Trial]) -> dict[str, list[str]]:
    """Per constraint (or ``tasks failed``), the configurations it ruled out, in trial order."""
    found: dict[str, list[str]] = {}
    for trial in trials:
        for line in trial.ruled_out:
            found.setdefault(line.split(":", 1)[0], []).append(config_of(trial).label)
    return found


def nearest(trials: list[Trial], limit: int = RUNNERS_UP) -> list[Trial]:
    """When none meets the constraints: those breaking the fewest, fastest first."""
    return sorted(trials, key=lambda t: (len(t.ruled_out), -(t.throughput or 0.0)))[:limit]


def recommendation(
    trials: list[Trial], mode: CeleryMode, settings: LabSettings, task_env: Mapping[str, str]
) -> Recommendation | None:
    """The pick with its worker command, compose scale and the reason (None when nothing met the constraints)."""
    chosen = pick(trials)
    if chosen is None:
        return None
    config = config_of(chosen)
    ranked = valid(trials)
    found = chosen.bottleneck
    why = f"fastest of {len(ranked)} configuration(s) meeting the constraints: {chosen.throughput:,.1f} tasks/s"
    if ranked[0] is not chosen:
        why = (
            f"within {TIE_SHARE:.0%} of the fastest ({config_of(ranked[0]).label}, {ranked[0].throughput:,.1f}/s) "
            f"with the least memory: {chosen.throughput:,.1f} tasks/s"
        )
    if found is not None:
        why += f"; bottleneck {found.name}: {found.figures}"
    extra = command.how_to_run(config)
    if extra:
        why += f"; {extra}"
    return Recommendation(
        trial=chosen,
        command=command.worker_command(config, mode, settings, task_env),
        compose_scale=command.compose_scale(config, mode, settings, task_env),
        why=why,
    )
