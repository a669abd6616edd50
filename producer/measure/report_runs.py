"""The sweep and advise records' parts of the report: points, trials, the recommendation with its command."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from producer.measure.advise_record import AdviseRecord, Trial
from producer.measure.record_models import LabRecord
from producer.measure.report_compare import classification_line, task_text
from producer.measure.report_doc import Bullets, Chart, Command, Section, Table, mib, ms, num, percent
from producer.measure.sweep_record import SweepRecord


def headline(record: LabRecord, mode: str | None = None) -> str:
    """Which Celery ran ``mode`` (default: the environment's), with what, on which versions."""
    env = record.environment
    found = env.celery_mode
    if found is not None and (mode is None or found.mode == mode):
        return found.headline()
    versions = f"Celery {env.celery}, kombu {env.kombu}, redis-py {env.redis_py}, Python {env.python}"
    if mode is None:
        return f"which Celery ran is not recorded (schema 1 record): {versions}"
    return f"{'stock Celery' if mode == 'stock' else f'{mode} mode'}: {versions}"


def headlines(record: AdviseRecord) -> list[str]:
    """One headline per Celery mode the advise trials ran."""
    ran: list[str | None] = list(dict.fromkeys(trial.celery for trial in record.trials))
    return [headline(record, mode) for mode in ran or [None]]


def sweep_table(record: SweepRecord) -> Table:
    """One row per sweep point: throughput against the ideal, p95, memory, the measured ceiling, what ran out."""
    headers = ["workers × slots", "tasks/s", "ideal", "vs ideal", "latency p95", "peak PSS", "PSS/slot"]
    headers += ["consumer ceiling", "saturated", "fail/lost"]
    table = Table(headers, align="lrrrrrrrlr")
    for p in record.points:
        memory = p.memory
        table.add(
            [
                f"{p.workers} × {p.concurrency}",
                num(p.throughput),
                num(p.ideal),
                percent(p.throughput / p.ideal) if p.ideal and p.ideal > 0 else "–",
                ms(p.timings.latency_s.p95),
                mib(memory.peak_pss_mb) if memory else "–",
                mib(memory.per_slot_pss_mb) if memory else "–",
                num(p.consumer_ceiling_tps, ",.0f", "/s"),
                p.saturated,
                f"{p.failed}/{p.lost}",
            ],
            "bad" if p.failed or p.lost or not p.check_agree else "",
        )
    return table.drop_empty("peak PSS", "PSS/slot", "consumer ceiling")


def sweep_section(path: Path, record: SweepRecord, charts: ModuleType | None) -> Section:
    """One sweep: header lines, its points, notes and (with matplotlib) its chart."""
    section = Section(record.title, path.stem, level=3)
    section.add(
        f"Record: {path.name}, {record.created}; {record.count} tasks per point, size {record.size}.",
        headline(record, record.celery),
        task_text(record.task),
        classification_line(record.workload, record.classification) if record.classification else None,
        sweep_table(record),
        Bullets(
            [f"Redis probe (pipelined LPUSH+RPOP pairs): {record.redis_limit_tps:,.0f}/s"]
            if record.redis_limit_tps
            else []
        ),
        Bullets(list(record.notes)),
    )
    if charts is not None:
        section.add(Chart(record.title, charts.sweep_chart(record)))
    return section


def trial_label(trial: Trial) -> str:
    """``threads -c 16``, ``prefork -c 2 × 2 workers``, ``threads -c 64 on rabbitmq`` (``--broker``)."""
    more = f" × {trial.workers} workers" if trial.workers > 1 else ""
    return f"{trial.pool} -c {trial.concurrency}{more}" + (f" on {trial.broker}" if trial.broker else "")


def _same(one: Trial, other: Trial) -> bool:
    return (one.pool, one.concurrency, one.workers, one.celery, one.broker) == (
        other.pool,
        other.concurrency,
        other.workers,
        other.celery,
        other.broker,
    )


def _figures(trial: Trial) -> list[str]:
    memory = trial.memory
    return [
        num(trial.throughput),
        ms(trial.latency_p95_s),
        mib(memory.peak_pss_mb) if memory else "–",
        mib(memory.per_slot_pss_mb) if memory else "–",
        num(trial.cores_used, ".2f"),
        trial.bottleneck.name if trial.bottleneck else "–",
    ]


FIGURE_HEADERS = ["tasks/s", "latency p95", "peak PSS", "PSS/slot", "cores used", "bottleneck"]


def trials_table(record: AdviseRecord) -> Table:
    """Every configuration tried, in order: why, what it gave, what ruled it out; the pick marked."""
    table = Table(["#", "configuration", "celery", "why tried", *FIGURE_HEADERS, "fail/lost", "ruled out by"])
    table.align = "rlll" + "rrrrrl" + "rl"
    pick = record.recommendation.trial if record.recommendation else None
    for index, trial in enumerate(record.trials, 1):
        style = "pick" if pick is not None and _same(trial, pick) else ""
        if trial.failed or trial.lost:
            style = "bad"
        elif trial.ruled_out and not style:
            style = "inproc"
        row = [str(index), trial_label(trial), trial.celery, trial.reason, *_figures(trial)]
        table.add([*row, f"{trial.failed}/{trial.lost}", "; ".join(trial.ruled_out) or "–"], style)
    return table.drop_empty("peak PSS", "PSS/slot", "cores used")


def runners_up_table(record: AdviseRecord) -> Table:
    """The pick, then the runners-up, with the same figures."""
    table = Table(["", "configuration", "celery", *FIGURE_HEADERS], align="lll" + "rrrrrl")
    if record.recommendation:
        trial = record.recommendation.trial
        table.add(["recommended", trial_label(trial), trial.celery, *_figures(trial)], "pick")
    for rank, trial in enumerate(record.runners_up, 2):
        table.add([f"#{rank}", trial_label(trial), trial.celery, *_figures(trial)])
    return table.drop_empty("peak PSS", "PSS/slot", "cores used")


def constraints_text(record: AdviseRecord) -> str:
    """The limits asked for and the search's budget and time."""
    limits = record.constraints
    asked = [f"p95 ≤ {limits.max_p95_ms:,.0f} ms" if limits.max_p95_ms is not None else ""]
    asked.append(f"memory ≤ {limits.max_memory_mb:,.0f} MiB" if limits.max_memory_mb is not None else "")
    wanted = ", ".join(a for a in asked if a) or "no limits on p95 or memory"
    return (
        f"Constraints: {wanted}; budget {limits.budget_s:,.0f} s. Searched {len(record.trials)} configuration(s) "
        f"in {record.elapsed_s:,.0f} s, {record.count} tasks per trial."
    )


def advise_section(path: Path, record: AdviseRecord, charts: ModuleType | None) -> Section:
    """One advise record: the recommendation and its command first, then the evidence."""
    subject = record.task.function if record.task else record.workload
    section = Section(f"Advise: {subject}", path.stem, level=3)
    section.add(
        f"Record: {path.name}, {record.created}.",
        Bullets(headlines(record)),
        task_text(record.task),
        classification_line(record.workload, record.classification),
        constraints_text(record),
    )
    found = record.recommendation
    if found is None:
        section.add("No configuration met the constraints: see what ruled each out below.")
    else:
        section.add(f"Recommendation: {trial_label(found.trial)} — {found.why}", Command(found.command))
        if found.compose_scale:
            section.add(Command(found.compose_scale))
    if record.broker_verdict:
        section.add(Bullets([line for line in (record.brokers_line(), record.broker_verdict) if line]))
    section.add(runners_up_table(record))
    ruled = [f"{name}: {', '.join(trials)}" for name, trials in record.ruled_out.items() if trials]
    if ruled:
        section.add("Ruled out by the constraints:", Bullets(ruled))
    section.add("Every trial, in the order tried:", trials_table(record), Bullets(list(record.notes)))
    if charts is not None and record.trials:
        section.add(Chart(f"Advise trials: {subject}", charts.advise_chart(record)))
    return section
