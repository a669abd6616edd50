"""An advise record for the terminal: every trial in order, then the recommendation, runners-up and notes.

With ``--broker`` every configuration says its broker, the brokers are listed (version, where, whence)
and a verdict line says which was faster, each with its best configuration.
"""

from __future__ import annotations

from rich.table import Table

from producer.advise.recommend import config_of
from producer.measure.advise_record import AdviseRecord, Trial

HEADERS = (
    "#",
    "configuration",
    "tasks/s",
    "p95 run",
    "peak PSS (per slot)",
    "cores used",
    "bottleneck",
    "why tried",
    "ruled out",
)


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "–"


def trial_cells(trial: Trial) -> list[str]:
    """One trial as table cells (everything but its number)."""
    memory = trial.memory
    found = trial.bottleneck
    return [
        config_of(trial).label,
        f"{trial.throughput:,.1f}" if trial.throughput else "–",
        f"{trial.latency_p95_s * 1000:,.0f} ms" if trial.latency_p95_s is not None else "–",
        f"{_mb(memory.peak_pss_mb)} MiB ({_mb(memory.per_slot_pss_mb)})" if memory else "–",
        f"{trial.cores_used:.2f}" if trial.cores_used is not None else "–",
        f"{found.name} ({found.share:.0%})" if found and found.share is not None else (found.name if found else "–"),
        trial.reason,
        "; ".join(trial.ruled_out),
    ]


def trials_table(record: AdviseRecord) -> Table:
    """Every trial in the order the search ran them."""
    what = record.task.function if record.task else f"{record.workload} (size {record.size})"
    mode = record.environment.celery_mode
    title = f"advise: {what} — {record.classification.label}, {record.environment.cores} cores"
    table = Table(title=title + (f"\n{mode.headline()}" if mode else ""))
    for header in HEADERS:
        table.add_column(header, justify="right" if header in ("#", "tasks/s", "p95 run", "cores used") else "left")
    chosen = record.recommendation.trial if record.recommendation else None
    for index, trial in enumerate(record.trials, 1):
        style = "bold green" if chosen is not None and trial == chosen else ("dim" if trial.ruled_out else None)
        table.add_row(str(index), *trial_cells(trial), style=style)
    return table


def _figures(trial: Trial) -> str:
    memory = trial.memory
    mem = (
        f"peak PSS {_mb(memory.peak_pss_mb)} MiB ({_mb(memory.per_slot_pss_mb)} MiB per slot)" if memory else "memory –"
    )
    p95 = f"p95 run {trial.latency_p95_s * 1000:,.0f} ms" if trial.latency_p95_s is not None else "p95 –"
    cores = f"{trial.cores_used:.2f} cores used" if trial.cores_used is not None else "cores used –"
    broker = trial.broker_cpu_ms_per_task
    on_broker = f", broker CPU {broker:.3f} ms/task" if trial.broker and broker is not None else ""
    return f"{trial.throughput or 0:,.1f} tasks/s, {p95}, {mem}, {cores}{on_broker}"


def summary_lines(record: AdviseRecord) -> list[str]:
    """The recommendation (command, compose scale, figures, why), runners-up, ruled-out lists, notes."""
    lines = [f"task class: {record.classification.figures}"]
    lines += [line for line in (record.brokers_line(),) if line]
    chosen = record.recommendation
    if chosen is None:
        lines.append("NO RECOMMENDATION: no configuration met the constraints (see the notes for the nearest)")
    else:
        lines += [
            f"recommended: {config_of(chosen.trial).label} — {_figures(chosen.trial)}",
            f"  {chosen.command}",
        ]
        if chosen.compose_scale:
            lines.append(f"  compose: {chosen.compose_scale}")
        lines.append(f"  why: {chosen.why}")
    if record.broker_verdict:
        lines.append(record.broker_verdict)
    for trial in record.runners_up:
        lines.append(f"runner-up: {config_of(trial).label} — {_figures(trial)}")
    for constraint, labels in record.ruled_out.items():
        lines.append(f"ruled out by {constraint}: {', '.join(labels)}")
    limits = record.constraints
    asked = [f"budget {limits.budget_s:g} s (took {record.elapsed_s:g} s)"]
    if limits.max_p95_ms is not None:
        asked.append(f"p95 ≤ {limits.max_p95_ms:g} ms")
    if limits.max_memory_mb is not None:
        asked.append(f"peak PSS ≤ {limits.max_memory_mb:g} MiB")
    lines.append("constraints: " + ", ".join(asked))
    lines += [f"note: {note}" for note in record.notes]
    return lines
