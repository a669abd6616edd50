"""The sweep table for the terminal: one row per point (and Celery mode), with memory and the measured ceiling."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

from producer.measure.compare_table import TABLE_WIDTH, fit_widths, memory_text
from producer.measure.sweep_record import SweepPoint, SweepRecord

HEADERS = (
    "workers × slots",
    "tasks/s",
    "ideal",
    "vs ideal",
    "producer clock",
    "worker CPU/task",
    "cores lab / broker",
    "machine CPU",
    "PSS MiB peak / slot",
    "no-op ceiling",
    "saturated",
    "failed/lost",
)


def _row(p: SweepPoint, both: bool, brokers: bool = False) -> list[str]:
    ideal = p.ideal
    ok = ideal is not None and math.isfinite(ideal) and ideal > 0
    per_task = p.worker_cpu_s / p.completed * 1000 if p.worker_cpu_s and p.completed else None
    return [
        f"{p.workers} × {p.concurrency}"
        + (f" {p.celery}" if both and p.celery else "")
        + (f" {p.broker}" if brokers and p.broker else ""),
        f"{p.throughput:,.1f}",
        f"{ideal:,.1f}" if ok and ideal is not None else "–",
        f"{p.throughput / ideal:.0%}" if ok and ideal else "–",
        f"{p.producer_throughput:,.1f}" + ("" if p.check_agree else " DISAGREE"),
        f"{per_task:,.2f} ms" if per_task is not None else "–",
        f"{p.lab_cores_used:.2f} / {p.redis_cores_used:.2f}",
        f"{p.machine_cpu_percent:.0f}%",
        memory_text(p.memory),
        f"{p.consumer_ceiling_tps:,.1f}" if p.consumer_ceiling_tps else "–",
        p.saturated,
        f"{p.failed}/{p.lost}",
    ]


def _broker_headline(record: SweepRecord) -> list[str]:
    if len(record.brokers) <= 1:
        return []
    return [
        "brokers: " + "; ".join(f"{b.kind} {b.server_version or '?'} ({b.origin})" for b in record.brokers.values())
    ]


def sweep_table(record: SweepRecord) -> Any:
    """The rich table of a sweep record; the title says which Celery ran (each mode, with versions)."""
    modes = record.celery_modes or (
        {record.environment.celery_mode.mode: record.environment.celery_mode} if record.environment.celery_mode else {}
    )
    title = "\n".join([record.title, *(mode.headline() for mode in modes.values()), *_broker_headline(record)])
    caption = [
        *record.notes,
        "PSS: the workers' memory at the batch's peak, shared pages split among the processes sharing them; "
        "/slot = ÷ slots. cores lab / broker: cores the workers and the broker server used, and the broker alone.",
        "no-op ceiling: a no-op batch on the same workers right after the point (a no-op point is its own).",
    ]
    if record.redis_limit_tps:
        first = next(iter(record.brokers), "redis")
        what = "pipelined LPUSH+RPOP pairs/s" if first == "redis" else "confirmed publishes consumed/s"
        caption.append(f"{first} probe: {record.redis_limit_tps:,.0f} {what}")
    table = Table(
        title=title,
        caption="\n".join(caption),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    rows = [_row(point, len(modes) > 1, len(record.brokers) > 1) for point in record.points]
    columns = [[header, *(row[i] for row in rows)] for i, header in enumerate(HEADERS)]
    widths = fit_widths(columns, [99] * len(HEADERS), TABLE_WIDTH - len(HEADERS) + 1)
    for header, width in zip(HEADERS, widths, strict=True):
        left = header in ("workers × slots", "saturated")
        table.add_column(header, justify="left" if left else "right", overflow="fold", width=width)
    for row in rows:
        table.add_row(*row)
    return table
