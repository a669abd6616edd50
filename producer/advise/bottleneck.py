"""What limited one trial: the tightest of the bounds it measured, and the move that could lift it.

Bounds (tasks/s), each from figures of the same trial:

- cores: the cores free for the lab (the machine's, less what other processes kept busy during the
  batch) ÷ the workers' CPU per task (all their processes, Celery's work included);
- GIL, one core per process: worker processes ÷ CPU per task, in a pool with one GIL per process, for
  a task whose CPU is Python (it holds the GIL, or it waits and its CPU is Celery's own);
- slots: slots ÷ the task's solo time, when slots are what run out (a task that waits, or fewer slots
  than cores);
- consumer ceiling: the no-op throughput measured on the same pool and number of worker processes.

The lowest bound names the bottleneck; below half of it, none explains the figure ("overhead").
"""

from __future__ import annotations

from config import catalogue
from producer.measure.figure_models import TaskClass
from producer.measure.record_models import Bottleneck

CORES = "cores"
GIL = "GIL: one core per process"
SLOTS = "slots"
CEILING = "consumer ceiling"
OVERHEAD = "overhead"
#: However busy the machine, the lab is taken to get at least this many cores.
MIN_FREE_CORES = 0.25
#: Below this share of the tightest bound, no bound explains the throughput.
EXPLAINED_SHARE = 0.5


def bounds(
    *,
    pool: str,
    label: TaskClass,
    concurrency: int,
    workers: int,
    cores: int,
    cpu_per_task_s: float | None,
    task_s: float | None,
    ceiling_tps: float | None,
    others_cores: float = 0.0,
) -> list[tuple[str, float, str]]:
    """(name, tasks/s, the figures behind it) for every bound that applies, the cores first (ties go to them)."""
    found: list[tuple[str, float, str]] = []
    slots = concurrency * workers
    if cpu_per_task_s and cpu_per_task_s > 0:
        per_task = f"{cpu_per_task_s * 1000:,.1f} ms worker CPU per task"
        free = max(MIN_FREE_CORES, cores - others_cores)
        text = f"{cores} cores" if free >= cores - 0.05 else f"{free:.1f} of {cores} cores free (others used the rest)"
        found.append((CORES, free / cpu_per_task_s, f"{text} / {per_task}"))
        python_cpu = label != "releases the GIL while computing"
        if catalogue.pool(pool).gil_per_process and python_cpu and workers < cores:
            found.append((GIL, workers / cpu_per_task_s, f"{workers} process(es) × 1 core / {per_task}"))
    if task_s and task_s > 0 and (label == "waits" or slots < cores):
        found.append((SLOTS, slots / task_s, f"{slots} slots / {task_s * 1000:,.1f} ms per task"))
    if ceiling_tps:
        found.append((CEILING, ceiling_tps, f"no-op on the same {workers} worker process(es): {ceiling_tps:,.0f}/s"))
    return found


def bottleneck(found: list[tuple[str, float, str]], throughput: float) -> Bottleneck | None:
    """The tightest bound and the share of it reached; ``overhead`` when the figure is under half of it."""
    if not found:
        return None
    name, bound, figures = min(found, key=lambda item: item[1])
    share = throughput / bound if bound > 0 else None
    if share is not None and share < EXPLAINED_SHARE:
        return Bottleneck(
            name=OVERHEAD,
            bound=bound,
            share=share,
            figures=f"nearest bound {name}: {figures} → ≤ {bound:,.1f}/s; got only {share:.0%}",
        )
    reached = f"; got {share:.0%}" if share is not None else ""
    return Bottleneck(name=name, bound=bound, share=share, figures=f"{figures} → ≤ {bound:,.1f}/s{reached}")
