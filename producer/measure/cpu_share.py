"""Whose CPU was it? The machine's busy CPU time during a batch, split into the lab's and everyone else's.

On a shared machine the cores a measurement needs may be busy with other work; a CPU-bound figure
is only as good as the share of the cores it actually had. ``others`` = machine busy time − the
producer (and its reaped children, e.g. ProcessPoolExecutor workers) − the local workers − the broker
(Redis' ``INFO cpu``; a local RabbitMQ's ``beam.smp``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil
import redis

from producer.broker import Broker, as_broker

#: Other processes using at least this many cores during a batch make its figure "busy" (noisy).
BUSY_OTHERS_CORES = 0.5


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds at one instant: the whole machine, the lab's processes, the broker server."""

    at: float
    machine: float
    lab: float
    redis: float
    #: False when the broker server's CPU could not be read (``redis`` is then 0).
    server_read: bool = True


def _machine_busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + getattr(t, "steal", 0.0)


def _process_tree(pid: int, include_reaped: bool) -> float:
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system
        if include_reaped:
            total += times.children_user + times.children_system
        for child in process.children(recursive=True):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
        return total
    except psutil.Error:
        return 0.0


def snapshot(worker_pids: list[int], broker: Broker | redis.Redis | None) -> CpuSnapshot:
    """CPU seconds so far: machine, producer + local workers, the broker server (0 when it cannot be read)."""
    lab = _process_tree(os.getpid(), include_reaped=True) + sum(_process_tree(pid, False) for pid in worker_pids)
    server = as_broker(broker).server_cpu_seconds() if broker is not None else None
    return CpuSnapshot(time.monotonic(), _machine_busy(), lab, server or 0.0, server is not None)


def server_seconds(before: CpuSnapshot, after: CpuSnapshot) -> float | None:
    """The broker server's CPU seconds between two snapshots (None when either could not read it)."""
    return max(0.0, after.redis - before.redis) if before.server_read and after.server_read else None


def others_cores(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """Cores other processes kept busy between two snapshots (never below 0)."""
    wall = max(after.at - before.at, 1e-9)
    others = (after.machine - before.machine) - (after.lab - before.lab) - (after.redis - before.redis)
    return max(0.0, others / wall)
