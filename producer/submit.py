"""Submit a batch of workload tasks to one queue, stamping each with its enqueue time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from celery import Celery
from kombu.exceptions import OperationalError

from producer.errors import LabError
from worker.task_args import WorkloadArgs


@dataclass
class Batch:
    """What was sent: task ids in order, the queue, and when sending started and ended."""

    batch_id: str
    args: WorkloadArgs
    queue: str
    task_ids: list[str] = field(default_factory=list)
    send_started: float = 0.0
    send_finished: float = 0.0

    @property
    def submitted(self) -> int:
        """How many tasks reached the broker."""
        return len(self.task_ids)


def submit_batch(app: Celery, args: WorkloadArgs, count: int, queue: str,
                 on_sent: Callable[[int], None] | None = None) -> Batch:
    """Send ``count`` tasks of ``args`` to ``queue`` over one reused broker connection."""
    batch = Batch(uuid.uuid4().hex[:12], args, queue)
    task_name = f"lab.{args.workload}"
    kwargs = args.as_kwargs()
    batch.send_started = time.time()
    try:
        with app.producer_or_acquire() as producer:
            for index in range(count):
                task_id = f"{batch.batch_id}-{index}"
                app.send_task(task_name, kwargs={**kwargs, "enqueued": time.time()}, queue=queue,
                              task_id=task_id, producer=producer)
                batch.task_ids.append(task_id)
                if on_sent is not None:
                    on_sent(1)
    except OperationalError as error:
        raise LabError(f"publishing failed after {batch.submitted} of {count} tasks: {error}") from None
    batch.send_finished = time.time()
    return batch
