"""The compare record's part of the report: which Celery, verdicts, cells, bottlenecks, memory, classes, stock ÷ lab."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from producer.measure.compare_table import HEADERS, TEXT_COLUMNS, broker_headline, rows_of, shown_columns
from producer.measure.figure_models import Classification, UserTaskInfo
from producer.measure.record_models import Cell, CompareRecord
from producer.measure.record_views import both_modes, brokers, celery_modes, cell_mode, headlines
from producer.measure.report_doc import Bullets, Chart, Section, Table, mib, num, times


def environment_text(record: CompareRecord) -> str:
    """Cores, load, versions and when: the line under a record's heading."""
    env = record.environment
    return (
        f"{env.cores} cores, load {env.load_average}, {env.platform}, Python {env.python} "
        f"({env.python_implementation}), Celery {env.celery}, kombu {env.kombu}, redis-py {env.redis_py} — "
        f"{record.created}"
    )


def task_text(task: UserTaskInfo | None) -> str | None:
    """The user's task as a call (``pkg.mod:fn(1, x=2)``), or None when the record ran the catalogue's workloads."""
    if task is None:
        return None
    args = [json.dumps(a) for a in task.call_args] + [f"{k}={json.dumps(v)}" for k, v in task.call_kwargs.items()]
    return f"user task: {task.function}({', '.join(args)})"


def classification_line(name: str, found: Classification) -> str:
    """What the solo probe measured for one workload or task, and the label it earned."""
    speedup = f", threads {found.threads_speedup:.2f}× solo" if found.threads_speedup is not None else ""
    figures = f" — {found.figures}" if found.figures else ""
    return (
        f"{name}: {found.label} (thread CPU ÷ wall {found.cpu_per_wall:.2f}{speedup}, "
        f"{found.task_s * 1000:,.1f} ms per task over {found.tasks} tasks){figures}"
    )


def _style(cell: Cell) -> str:
    if cell.failed or cell.lost or (cell.kind == "celery" and not cell.checks_agree):
        return "bad"
    return "inproc" if cell.kind == "in-process" else ""


def cells_table(record: CompareRecord) -> Table:
    """One row per cell (the terminal table's columns: celery when both modes ran, broker when both brokers did)."""
    shown = shown_columns(record)
    align = "".join("l" if HEADERS[i] in TEXT_COLUMNS else "r" for i in shown)
    table = Table([HEADERS[i] for i in shown], align=align)
    for cell, row in zip(record.cells, rows_of(record), strict=True):
        table.add([row[i] for i in shown], _style(cell))
    return table


def bottleneck_lines(record: CompareRecord) -> list[str]:
    """Per cell: the bottleneck, the figures behind it and the consumer ceiling measured in the same run."""
    lines = []
    for cell in record.cells:
        mode = cell_mode(record, cell) if both_modes(record) else None
        broker = cell.broker if brokers(record) else None
        where = f"{cell.workload} / {cell.pool}" + "".join(f" ({part})" for part in (mode, broker) if part)
        line = f"{where}: {cell.bottleneck.name} — {cell.bottleneck.figures}"
        if cell.consumer_ceiling_tps:
            line += f"; consumer ceiling measured here: {cell.consumer_ceiling_tps:,.0f}/s (no-op on this pool)"
        lines.append(line)
    return lines


def memory_table(record: CompareRecord) -> Table:
    """Worker memory per Celery cell: processes, slots, PSS/USS at idle and peak, per slot (empty: not measured)."""
    with_mode, with_broker = both_modes(record), bool(brokers(record))
    extra = [*(["celery"] if with_mode else []), *(["broker"] if with_broker else [])]
    headers = ["workload", "pool", *extra, "processes", "slots"]
    headers += ["idle PSS", "peak PSS", "peak USS", "PSS/slot", "USS/slot", "samples"]
    table = Table(headers, align="ll" + "l" * len(extra) + "r" * 8)
    for cell in record.cells:
        memory = cell.memory
        if memory is None:
            continue
        row = [cell.workload, cell.pool, *([cell_mode(record, cell) or "–"] if with_mode else [])]
        row += [cell.broker or "–"] if with_broker else []
        row += [str(memory.processes), str(memory.slots), mib(memory.idle_pss_mb), mib(memory.peak_pss_mb)]
        row += [mib(memory.peak_uss_mb), mib(memory.per_slot_pss_mb), mib(memory.per_slot_uss_mb), str(memory.samples)]
        table.add(row, _style(cell))
    table.caption = (
        "PSS splits shared pages among the processes that map them (fork shares pages: RSS would count "
        "them once per prefork child); USS is what each process alone holds. Per slot = peak ÷ slots."
    )
    return table


def mode_ratio_table(record: CompareRecord) -> Table:
    """``--celery both``: stock and lab medians per workload × pool and lab ÷ stock (empty: one mode ran)."""
    table = Table(["workload", "pool", "stock tasks/s", "lab tasks/s", "lab ÷ stock", "beyond noise"], align="llrrrl")
    for found in record.mode_ratios:
        table.add(
            [
                found.workload,
                found.pool,
                num(found.stock_tps),
                num(found.lab_tps),
                times(found.lab_over_stock),
                "yes" if found.beyond_noise else "no (within the repeats' min–max)",
            ]
        )
    table.caption = "beyond noise: the two cells' repeat ranges (min–max) do not overlap."
    return table


def broker_ratio_table(record: CompareRecord) -> Table:
    """``--broker redis,rabbitmq``: each broker's median per workload × pool, rabbitmq ÷ redis, broker CPU per task."""
    headers = ["workload", "pool", "celery", "redis tasks/s", "rabbitmq tasks/s", "rabbitmq ÷ redis", "beyond noise"]
    headers += ["worker CPU/task redis", "rabbitmq", "broker CPU/task redis", "rabbitmq"]
    table = Table(headers, align="lllrrrlrrrr")
    for found in record.broker_ratios:
        table.add(
            [
                found.workload,
                found.pool,
                found.celery or "–",
                num(found.redis_tps),
                num(found.rabbitmq_tps),
                times(found.rabbitmq_over_redis),
                "yes" if found.beyond_noise else "no (within the repeats' min–max)",
                num(found.redis_worker_cpu_ms_per_task, ",.2f", " ms"),
                num(found.rabbitmq_worker_cpu_ms_per_task, ",.2f", " ms"),
                num(found.redis_cpu_ms_per_task, ",.3f", " ms"),
                num(found.rabbitmq_cpu_ms_per_task, ",.3f", " ms"),
            ]
        )
    table.caption = (
        "CPU/task: the worker processes' and the broker server's CPU during the batches ÷ tasks (Redis' "
        "includes the result backend's writes when they share the server; RabbitMQ's does not)."
    )
    return table


def pool_notes(record: CompareRecord) -> list[str]:
    """Slots per pool and the rule behind them, other interpreters, and each mode's changes to stock Celery."""
    notes = []
    for pool, info in record.pools.items():
        origin = "started by compare" if info.started_here else "already running"
        notes.append(f"{pool}: {info.concurrency} slots ({origin}) — {info.concurrency_rule}")
    for pool, found in (record.environment.interpreters or {}).items():
        notes.append(f"{pool}: {found.interpreter} interpreter {found.python}: GIL enabled = {found.gil_enabled}")
    for mode in celery_modes(record).values():
        if mode.changes:
            notes.append(f"Celery {mode.mode} mode changes: " + "; ".join(mode.changes))
    return notes


def compare_section(path: Path, record: CompareRecord, charts: ModuleType | None) -> Section:
    """The compare's section: header lines, tables, lists and (with matplotlib) its charts."""
    section = Section("Compare", "compare")
    plan = record.plan
    section.add(
        f"{environment_text(record)}. Record: {path.name}. {plan.count} tasks × {plan.repeat} repeat(s) per cell.",
        task_text(plan.task),
        Bullets([*headlines(record), *broker_headline(record)]),
    )
    if record.environment.busy_before:
        section.add(f"Note: load {record.environment.load_before} before the run: others competed for the CPU.")
    section.add(
        "Verdicts:",
        Bullets(list(record.verdicts.values())),
        cells_table(record),
        "Bottleneck per cell:",
        Bullets(bottleneck_lines(record)),
    )
    if record.classifications:
        lines = [classification_line(name, found) for name, found in record.classifications.items()]
        section.add("What each task does with its time (solo probe):", Bullets(lines))
    if any(cell.memory for cell in record.cells):
        section.add("Worker memory per cell:", memory_table(record))
    if record.mode_ratios:
        section.add("Stock vs lab Celery, per cell:", mode_ratio_table(record))
    if record.broker_ratios:
        section.add("RabbitMQ vs Redis, per cell:", broker_ratio_table(record))
    section.add("Concurrency per pool:", Bullets(pool_notes(record)))
    if charts is not None:
        section.add(
            Chart("Throughput per pool", charts.throughput_chart(record)),
            Chart("Latency per pool", charts.latency_chart(record)),
        )
        memory_png = charts.memory_chart(record)
        if memory_png is not None:
            section.add(Chart("Worker memory per pool", memory_png))
    return section
