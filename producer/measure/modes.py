"""Stock and lab Celery side by side: which modes a measurement runs, how each is described, lab ÷ stock per cell.

``--celery stock`` (the default: the Celery users deploy), ``lab`` (the lab's transport and consumer)
or ``both`` (every pool cell in each, interleaved, with the ratio). In-process baselines have no mode.
"""

from __future__ import annotations

import math
from typing import Any

from config.celery_mode import describe_mode
from config.settings import CeleryMode, LabSettings
from producer.broker import BrokerKind
from producer.broker.sides import parse_brokers
from producer.errors import BadInput
from producer.measure.figure_models import ModeRatio
from producer.measure.record_models import CeleryMode as CeleryModeInfo

CHOICES: dict[str, list[CeleryMode]] = {"stock": ["stock"], "lab": ["lab"], "both": ["stock", "lab"]}


class CelerySides:
    """What a plan's ``--celery`` and ``--broker`` texts name (compare's and sweep's plans share it)."""

    #: ``--celery``: stock, lab or both.
    celery: str
    #: ``--broker``: redis and/or rabbitmq, comma-separated ("": LAB_BROKER_URL's only).
    broker: str

    @property
    def modes(self) -> list[CeleryMode]:
        """The Celery modes to run, stock first."""
        return parse_celery(self.celery)

    @property
    def brokers(self) -> list[BrokerKind]:
        """The brokers to run on, redis first ([]: LAB_BROKER_URL's only)."""
        return parse_brokers(self.broker)


def parse_celery(text: str) -> list[CeleryMode]:
    """The modes ``--celery`` names, stock first; anything else is :class:`BadInput` (one line, exit 2)."""
    modes = CHOICES.get(text.strip().lower())
    if modes is None:
        raise BadInput(f"--celery must be one of {', '.join(CHOICES)}, got {text!r}")
    return list(modes)


def celery_choice(modes: list[CeleryMode]) -> str:
    """``stock``, ``lab`` or ``both``: what a record's ``celery`` field says ran."""
    return "both" if len(modes) > 1 else modes[0]


def describe(settings: LabSettings, mode: CeleryMode) -> CeleryModeInfo:
    """Which Celery ``mode`` is here: its changes to stock (none in stock) and the versions."""
    return CeleryModeInfo.model_validate(describe_mode(settings.model_copy(update={"celery_mode": mode})))


def describe_all(settings: LabSettings, modes: list[CeleryMode]) -> dict[str, CeleryModeInfo]:
    """Per mode that ran, its description (a record's ``celery_modes``)."""
    return {mode: describe(settings, mode) for mode in modes}


def spread(cell: dict[str, Any]) -> tuple[float, float] | None:
    """(min ÷ median, max ÷ median) of a cell's repeats; None with fewer than 2 runs (no noise estimate)."""
    median, low, high = cell.get("throughput_median"), cell.get("throughput_min"), cell.get("throughput_max")
    if cell.get("runs", 0) < 2 or not median or low is None or high is None or math.isnan(median):
        return None
    return low / median, high / median


def mode_ratios(cells: list[dict[str, Any]]) -> list[ModeRatio]:
    """Lab ÷ stock median per workload × pool measured in both modes.

    Beyond noise: the ratio lies outside both cells' repeat ranges (each as min/median..max/median),
    i.e. the change is larger than either cell's spread; never with fewer than 2 repeats.
    """
    by_key = {(c["workload"], c["pool"], c.get("celery"), c.get("broker")): c for c in cells}
    ratios = []
    for (workload, pool, mode, broker), stock in by_key.items():
        lab = by_key.get((workload, pool, "lab", broker))
        if mode != "stock" or lab is None:
            continue
        stock_tps, lab_tps = stock["throughput_median"], lab["throughput_median"]
        ratio = lab_tps / stock_tps if stock_tps and lab_tps is not None and not math.isnan(lab_tps) else None
        ratios.append(
            ModeRatio(
                workload=workload,
                pool=pool,
                stock_tps=stock_tps,
                lab_tps=lab_tps,
                lab_over_stock=ratio,
                beyond_noise=beyond_noise(ratio, stock, lab),
                broker=broker,
            )
        )
    return ratios


def beyond_noise(ratio: float | None, a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when ``ratio`` (b ÷ a) lies outside both cells' repeat ranges (never with fewer than 2 repeats)."""
    spreads = [spread(a), spread(b)]
    if ratio is None or any(s is None for s in spreads):
        return False
    return ratio > max(s[1] for s in spreads if s) or ratio < min(s[0] for s in spreads if s)
