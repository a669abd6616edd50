"""From the trials to the pick: the fastest that meets every constraint, the runners-up, what ruled what out.

A configuration measured more than once (the search's runoff) counts by the median of its trials (of
two, the lower), and only if every one met the constraints. Among configurations within
:data:`TIE_SHARE` of the fastest, the one with the least memory (peak PSS) wins: a difference that
small is noise on a shared machine, and memory is what the extra slots or processes cost.
Runners-up: the best trial of each other pool (× broker, with ``--broker``) first, then the next fastest,
three in all.
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
    """The configuration a trial measured (on its broker when ``--broker`` named one)."""
    return Config(trial.pool, trial.concurrency, trial.workers, trial.broker or "")


def standing(trials: list[Trial]) -> list[tuple[Config, float, Trial]]:
    """Configurations whose every trial met the constraints: (config, median tasks/s, median trial), fastest first."""
    grouped: dict[Config, list[Trial]] = {}
    for trial in trials:
        grouped.setdefault(config_of(trial), []).append(trial)
    found = []
    for config, runs in grouped.items():
        if any(t.ruled_out or not t.throughput for t in runs):
            continue
        middle = sorted(runs, key=lambda t: t.throughput or 0.0)[(len(runs) - 1) // 2]  # of two, the lower
        found.append((config, middle.throughput or 0.0, middle))
    return sorted(found, key=lambda item: -item[1])


def valid(trials: list[Trial]) -> list[Trial]:
    """One trial per configuration that met every constraint (its median one), fastest first."""
    return [trial for _, _, trial in standing(trials)]


def _memory(trial: Trial) -> float:
    peak = trial.memory.peak_pss_mb if trial.memory else None
    return peak if peak is not None else math.inf


def _chosen(trials: list[Trial]) -> tuple[Config, float, Trial] | None:
    ranked = standing(trials)
    if not ranked:
        return None
    top = ranked[0][1]
    close = [item for item in ranked if item[1] >= top * (1 - TIE_SHARE)]
    return min(close, key=lambda item: (_memory(item[2]), item[0].slots))


def pick(trials: list[Trial]) -> Trial | None:
    """The recommended configuration's (median) trial; None when no configuration met the constraints."""
    chosen = _chosen(trials)
    return chosen[2] if chosen else None


def runners_up(trials: list[Trial], chosen: Trial | None) -> list[Trial]:
    """The best of each other pool (on each broker), then the next fastest, up to :data:`RUNNERS_UP` (one trial
    per configuration)."""
    others = [t for t in valid(trials) if chosen is None or config_of(t) != config_of(chosen)]
    first: dict[tuple[str, str | None], Trial] = {}
    for trial in others:
        if chosen is None or (trial.pool, trial.broker) != (chosen.pool, chosen.broker):
            first.setdefault((trial.pool, trial.broker), trial)
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
    trials: list[Trial],
    mode: CeleryMode,
    settings: LabSettings,
    task_env: Mapping[str, str],
    broker_urls: Mapping[str, str] | None = None,
) -> Recommendation | None:
    """The pick with its worker command, compose scale and the reason (None when nothing met the constraints);
    ``broker_urls`` (``--broker``: each broker's URL by kind) puts the pick's broker in its command."""
    best = _chosen(trials)
    if best is None:
        return None
    config, median, chosen = best
    ranked = standing(trials)
    runs = sum(1 for t in trials if config_of(t) == config)
    figure = f"{median:,.1f} tasks/s" + (f" (median of {runs} trials)" if runs > 1 else "")
    why = f"fastest of {len(ranked)} configuration(s) meeting the constraints: {figure}"
    if ranked[0][0] != config:
        why = (
            f"within {TIE_SHARE:.0%} of the fastest ({ranked[0][0].label}, {ranked[0][1]:,.1f}/s) "
            f"with the least memory: {figure}"
        )
    if chosen.bottleneck is not None:
        why += f"; bottleneck {chosen.bottleneck.name}: {chosen.bottleneck.figures}"
    extra = command.how_to_run(config)
    if extra:
        why += f"; {extra}"
    return Recommendation(
        trial=chosen,
        command=command.worker_command(config, mode, settings, task_env, (broker_urls or {}).get(config.broker, "")),
        compose_scale=command.compose_scale(config, mode, settings, task_env),
        why=why,
    )
