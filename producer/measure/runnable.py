"""CPU time and run-queue wait of a local process's threads, from Linux's ``/proc/<pid>/task/*/schedstat``.

A thread's wall time is running, *runnable* (on the run queue, waiting for a core) or blocked
(sleeping, I/O, a lock — the GIL included). On a busy machine the runnable part grows with other
processes' load; taking it out leaves what the task itself does with its time, so the probe's
labels (``producer/measure/probe.py``) hold on a machine others keep busy. Elsewhere (no ``/proc``),
:func:`snapshot` gives None and the probe falls back to the plain ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ThreadTimes:
    """Seconds on a core and seconds runnable but waiting for one (one thread, or a sum)."""

    cpu_s: float
    runq_s: float


def snapshot(pid: int) -> dict[int, ThreadTimes] | None:
    """Every thread of ``pid`` now; None when the system does not say (not Linux, not local, gone)."""
    folder = PROC / str(pid) / "task"
    try:
        tids = [entry.name for entry in folder.iterdir()]
    except OSError:
        return None
    found: dict[int, ThreadTimes] = {}
    for tid in tids:
        try:
            on_cpu, waiting, _slices = (folder / tid / "schedstat").read_text().split()
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        found[int(tid)] = ThreadTimes(int(on_cpu) / 1e9, int(waiting) / 1e9)
    return found or None


def delta(before: dict[int, ThreadTimes] | None, after: dict[int, ThreadTimes] | None) -> dict[int, ThreadTimes] | None:
    """What each thread used between two snapshots (a thread born meanwhile counts from zero)."""
    if before is None or after is None:
        return None
    zero = ThreadTimes(0.0, 0.0)
    return {
        tid: ThreadTimes(times.cpu_s - before.get(tid, zero).cpu_s, times.runq_s - before.get(tid, zero).runq_s)
        for tid, times in after.items()
    }


def computing_at_once(spans: list[tuple[dict[int, ThreadTimes], float]], only: set[int] | None = None) -> float:
    """Threads computing at once over measured spans: Σ per thread of CPU ÷ (span − its waits for a core).

    Each thread's share of the time it *could* run (its run-queue waits taken out): ≈1 for a thread that
    computes whenever it can, ≈1/n for one of n threads taking turns on a lock (the GIL), ≈0 for one that
    is blocked (sleeping, waiting for I/O, idle). Summed, ≈1 when only one computes at a time and ≈n when n
    compute together, whatever load other processes put on the machine. ``only``: these threads (the
    ones that ran the tasks), leaving out the process's own housekeeping.
    """
    total_s = sum(span for _, span in spans)
    cpu: dict[int, float] = {}
    runq: dict[int, float] = {}
    for used, _ in spans:
        for tid, times in used.items():
            if only is not None and tid not in only:
                continue
            cpu[tid] = cpu.get(tid, 0.0) + times.cpu_s
            runq[tid] = runq.get(tid, 0.0) + times.runq_s
    could_run = {tid: total_s - runq[tid] for tid in cpu}
    return sum(min(max(cpu[tid] / could_run[tid], 0.0), 1.0) for tid in cpu if could_run[tid] > 0)


def cores_used(spans: list[tuple[dict[int, ThreadTimes], float]], only: set[int] | None = None) -> float:
    """CPU seconds ÷ wall seconds over the spans: cores the threads used. Threads that take turns on one
    lock (the GIL) cannot pass 1, whatever the load; only work outside the lock can."""
    total_s = sum(span for _, span in spans)
    cpu = sum(t.cpu_s for used, _ in spans for tid, t in used.items() if only is None or tid in only)
    return cpu / total_s if total_s > 0 else 0.0
