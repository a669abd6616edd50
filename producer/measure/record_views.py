"""Read-only views over records that the report, the charts and `producer diff` share.

Schema 1/2 records carry no per-cell Celery mode: a Celery cell's mode is then the environment's
(schema 2), or unknown (schema 1, ``None``). In-process baselines ran no Celery: their mode is ``None``.
"""

from __future__ import annotations

import math

from producer.measure.record_models import CeleryMode, Cell, CompareRecord, Run

#: The mode shown for a baseline (no Celery ran) in tables and diff keys.
IN_PROCESS = "in-process"


def cell_mode(record: CompareRecord, cell: Cell) -> str | None:
    """Which Celery ran the cell: its own field, else the environment's; None for baselines or unknown."""
    if cell.kind == "in-process":
        return None
    if cell.celery:
        return cell.celery
    mode = record.environment.celery_mode
    return mode.mode if mode else None


def run_mode(record: CompareRecord, run: Run) -> str | None:
    """Which Celery ran the run (as :func:`cell_mode`)."""
    if run.celery:
        return run.celery
    if any(c.pool == run.pool and c.kind == "in-process" for c in record.cells):
        return None
    mode = record.environment.celery_mode
    return mode.mode if mode else None


def modes(record: CompareRecord) -> list[str | None]:
    """The Celery modes of the record's Celery cells, in the order they appear (``[None]``: unknown)."""
    found = list(dict.fromkeys(cell_mode(record, c) for c in record.cells if c.kind == "celery"))
    return found or [None]


def brokers(record: CompareRecord) -> list[str]:
    """The brokers the record's Celery cells ran on (``--broker``), in order; [] for one broker or older records."""
    found = list(dict.fromkeys(c.broker for c in record.cells if c.kind == "celery" and c.broker))
    return found if len(found) > 1 else []


def side_of(record: CompareRecord, mode: str | None, broker: str | None) -> str | None:
    """A chart group: the Celery mode, with ``on <broker>`` when the record ran more than one broker."""
    if not brokers(record) or not broker:
        return mode
    return f"{mode} on {broker}" if mode else f"on {broker}"


def cell_side(record: CompareRecord, cell: Cell) -> str | None:
    """The cell's chart group (:func:`side_of`); None for baselines."""
    return None if cell.kind == "in-process" else side_of(record, cell_mode(record, cell), cell.broker)


def run_side(record: CompareRecord, run: Run) -> str | None:
    """The run's chart group (as :func:`cell_side`)."""
    return side_of(record, run_mode(record, run), run.broker)


def sides(record: CompareRecord) -> list[str | None]:
    """The chart groups of the record's Celery cells, in order (``[None]``: unknown)."""
    found = list(dict.fromkeys(cell_side(record, c) for c in record.cells if c.kind == "celery"))
    return found or [None]


def both_modes(record: CompareRecord) -> bool:
    """True when the compare ran more than one Celery mode (``--celery both``)."""
    return len([m for m in modes(record) if m]) > 1


def celery_modes(record: CompareRecord) -> dict[str, CeleryMode]:
    """Per mode that ran: which Celery, with what changes, on which versions (the environment's for schema 2)."""
    if record.celery_modes:
        return dict(record.celery_modes)
    mode = record.environment.celery_mode
    return {mode.mode: mode} if mode else {}


def headlines(record: CompareRecord) -> list[str]:
    """One line per Celery mode that ran; for a record that does not say, a line saying so."""
    found = celery_modes(record)
    if not found:
        env = record.environment
        return [
            f"which Celery ran is not recorded (schema 1 record): Celery {env.celery}, kombu {env.kombu}, "
            f"redis-py {env.redis_py}, Python {env.python}"
        ]
    return [mode.headline() for mode in found.values()]


def finite(value: float | None) -> float | None:
    """The value, or None when it is missing or NaN/inf."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def ratio(new: float | None, old: float | None) -> float | None:
    """new ÷ old, or None when either is missing or old is zero."""
    new, old = finite(new), finite(old)
    if new is None or old is None or old == 0:
        return None
    return new / old
