"""What a measured Celery batch costs its workers: their CPU, the cores others took meanwhile, their memory.

One piece for every measurement that runs a batch on known local workers (compare's runs, advise's
trials): read the workers' CPU and the machine's CPU split before, sample memory during, read both after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from producer.broker import Broker
from producer.measure import cpu_share, memory
from producer.measure.figure_models import MemoryFigures
from producer.processes import fleet


@dataclass
class BatchCost:
    """Filled in when the watched block ends (None: a worker was not local or could not be read)."""

    worker_cpu_s: float | None = None
    others_cores: float = 0.0
    memory: MemoryFigures | None = None
    #: The broker server's CPU seconds during the block (None: not readable from here).
    broker_cpu_s: float | None = None


@contextmanager
def watched(
    pids: list[int], slots: int, lab_pids: list[int], broker: Broker | redis.Redis | None
) -> Iterator[BatchCost]:
    """Watch the block's batch on workers ``pids`` (``slots`` in all); ``lab_pids`` are not counted as others."""
    cost = BatchCost()
    cpu_before = fleet.cpu_seconds(pids)
    shares_before = cpu_share.snapshot(lab_pids, broker)
    with memory.sampled(pids, slots) as sampler:
        yield cost
    shares_after = cpu_share.snapshot(lab_pids, broker)
    cost.others_cores = cpu_share.others_cores(shares_before, shares_after)
    cost.broker_cpu_s = cpu_share.server_seconds(shares_before, shares_after)
    cpu_after = fleet.cpu_seconds(pids)
    cost.worker_cpu_s = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    cost.memory = sampler.figures()
