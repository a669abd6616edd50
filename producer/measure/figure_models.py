"""Measured parts of records added in schema 3: memory, the task's measured class, stock ÷ lab, user tasks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from producer.measure.record_base import RecordPart

#: What the solo probe found a task to do with its time and the GIL.
TaskClass = Literal["holds the GIL", "releases the GIL while computing", "waits"]


class MemoryFigures(RecordPart):
    """Worker processes' memory in MiB (main process + pool children), at idle and the peak during a batch.

    PSS splits each shared page among the processes that map it (fork shares pages, so RSS counts them
    once per child); USS is what each process alone holds. Per slot = total ÷ the workers' slots.
    """

    processes: int
    slots: int
    idle_pss_mb: float | None
    idle_uss_mb: float | None
    peak_pss_mb: float | None
    peak_uss_mb: float | None
    #: Peak ÷ slots.
    per_slot_pss_mb: float | None
    per_slot_uss_mb: float | None
    #: Samples taken during the batch (the peak is their maximum).
    samples: int = 0


class Classification(RecordPart):
    """A task measured by the probe: thread CPU ÷ wall on solo, and the speedup on threads over solo."""

    label: TaskClass
    #: Median thread CPU time ÷ wall time per task on a solo worker (≈1 computing, ≈0 waiting).
    cpu_per_wall: float
    #: Median wall time per task on solo, seconds.
    task_s: float
    #: Throughput on a threads worker with one thread per core ÷ solo (≈1 holds the GIL, ≈cores releases it).
    threads_speedup: float | None
    tasks: int
    figures: str
    #: Solo CPU ÷ the time the task could run (its waits for a core taken out; None where the system does not say).
    solo_cpu_share: float | None = None
    #: Threads computing at once on the threads worker, waits for a core taken out (≈1 GIL held … ≈cores released).
    threads_parallel: float | None = None
    #: The task threads' CPU ÷ wall on the threads worker: cores used (GIL-bound threads cannot pass 1).
    threads_cores_used: float | None = None


class ModeRatio(RecordPart):
    """``--celery both``: one workload × pool, stock and lab medians and lab ÷ stock."""

    workload: str
    pool: str
    stock_tps: float | None
    lab_tps: float | None
    lab_over_stock: float | None
    #: True when the ratio lies outside both cells' repeat ranges (min..max): more than noise.
    beyond_noise: bool = False
    #: The broker both cells ran on (``--broker`` with several; None: one broker, or an older record).
    broker: str | None = None


class UserTaskInfo(RecordPart):
    """A user's task (``--task package.module:function``) and the JSON arguments it was called with."""

    function: str
    call_args: list[Any] = Field(default_factory=list)
    call_kwargs: dict[str, Any] = Field(default_factory=dict)


class BrokerInfo(RecordPart):
    """A broker a measurement ran on (``--broker``): which, where (password hidden), whence, its version."""

    kind: str
    url: str
    #: LAB_BROKER_URL, LAB_RABBITMQ_URL, the stack's private node, a private node started for the run, ...
    origin: str
    server_version: str | None = None


class BrokerRatio(RecordPart):
    """``--broker redis,rabbitmq``: one workload × pool (× Celery mode), each broker's median and rabbitmq ÷ redis."""

    workload: str
    pool: str
    celery: str | None = None
    redis_tps: float | None
    rabbitmq_tps: float | None
    rabbitmq_over_redis: float | None
    #: True when the ratio lies outside both cells' repeat ranges (min..max): more than noise.
    beyond_noise: bool = False
    #: CPU per task (ms) on each side, where it could be read: the broker server's and the workers'
    #: (measured here: the workers', i.e. the round trips they make, explains the difference; docs/brokers.md).
    redis_cpu_ms_per_task: float | None = None
    rabbitmq_cpu_ms_per_task: float | None = None
    redis_worker_cpu_ms_per_task: float | None = None
    rabbitmq_worker_cpu_ms_per_task: float | None = None
