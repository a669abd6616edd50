"""``advise --broker redis,rabbitmq``: the fastest valid configuration on each broker, and their ratio, in one line.

Each broker's best is its fastest configuration that met every constraint (by its median trial, as the
pick is judged: producer/advise/recommend.py), whatever its pool: the question is which broker, each
with the pool and sizes that suit it. A ratio under the search's noise (10 %) is said to be within it;
the broker server's CPU per task, where it could be read, is the reason for the difference.
"""

from __future__ import annotations

from producer.advise.recommend import standing
from producer.advise.space import Config
from producer.measure.advise_record import Trial

#: A ratio under 1 + this is within a single trial's noise (the search's NOISE).
NOISE = 0.10


def fastest_per_broker(trials: list[Trial]) -> dict[str, tuple[Config, float, Trial]]:
    """Per broker, its fastest valid configuration: (config, median tasks/s, median trial)."""
    found: dict[str, tuple[Config, float, Trial]] = {}
    for config, throughput, trial in standing(trials):
        found.setdefault(config.broker, (config, throughput, trial))
    return found


def broker_verdict(trials: list[Trial], brokers: list[str]) -> str | None:
    """``brokers: rabbitmq 1.40× redis (best: threads -c 64 on rabbitmq 1,105/s; …)``; None for one broker."""
    if len(brokers) < 2:
        return None
    best = fastest_per_broker(trials)
    ranked = sorted((best[b] for b in brokers if b in best), key=lambda item: -item[1])
    shown = "; ".join(f"{config.label} {throughput:,.0f}/s" for config, throughput, _ in ranked)
    missing = [b for b in brokers if b not in best]
    if missing:
        return f"brokers: no configuration met the constraints on {', '.join(missing)}" + (
            f" (best: {shown})" if shown else ""
        )
    (top, top_tps, top_trial), (low, low_tps, low_trial) = ranked[0], ranked[-1]
    ratio = top_tps / low_tps if low_tps > 0 else float("inf")
    noise = f" (within the search's {NOISE:.0%} noise)" if ratio < 1 + NOISE else ""
    text = f"brokers: {top.broker} {ratio:.2f}× {low.broker}{noise} (best: {shown})"
    cpu = {top.broker: top_trial.broker_cpu_ms_per_task, low.broker: low_trial.broker_cpu_ms_per_task}
    if None not in cpu.values():
        text += "; broker CPU per task: " + ", ".join(f"{kind} {ms:.3f} ms" for kind, ms in cpu.items())
    return text
