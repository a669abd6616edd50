"""What advise may try for a task: the pools its measured class calls for, and each pool's ladder.

Read from the catalogue, never from pool names: a task that holds the GIL needs pools that are not
one GIL per process (``gil_per_process``); one that releases the GIL while computing needs pools that
are not one OS thread (``cooperative``); one that waits can use any pool, a process-per-slot pool only
small (``process_per_slot``). Pools that cannot run the task (``Pool.refuses``: coroutines) or whose
interpreter is not built here are left out with the reason. The reference pool (solo: one task at a
time) is the yardstick, not a choice. Concurrency moves along powers of two from a start, worker
processes from 1 up to the cores (at least 2); the exhaustive sweep of the benchmark walks the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config import catalogue
from config.settings import LabSettings
from producer.measure.figure_models import TaskClass
from producer.processes.interpreters import interpreter_for

#: Where a pool of threads (or greenlets, coroutines) starts on a task that waits, and how far it may go.
WAIT_START = 16
WAIT_MAX = 256
#: A process-per-slot pool on a task that waits: start at the cores, at most this many per core.
PROCESS_WAIT_PER_CORE = 4
#: A task that computes: start at the cores, at most this many slots per core.
COMPUTE_PER_CORE = 4


@dataclass(frozen=True)
class Config:
    """One configuration: ``workers`` worker processes of ``pool``, each ``-c concurrency``, on ``broker``."""

    pool: str
    concurrency: int
    workers: int = 1
    #: ``--broker``'s redis or rabbitmq; "" = LAB_BROKER_URL's (advise without ``--broker``).
    broker: str = ""

    @property
    def slots(self) -> int:
        """Tasks that can run at once over all the worker processes."""
        return self.concurrency * self.workers

    @property
    def label(self) -> str:
        """``threads -c 64``, ``prefork -c 2 × 2 processes``, ``threads -c 64 on rabbitmq``."""
        more = f" × {self.workers} processes" if self.workers > 1 else ""
        where = f" on {self.broker}" if self.broker else ""
        return f"{self.pool} -c {self.concurrency}{more}{where}"

    def moved(self, concurrency: int, workers: int) -> Config:
        """The same pool on the same broker with other concurrency and worker processes."""
        return Config(self.pool, concurrency, workers, self.broker)


@dataclass(frozen=True)
class Ladder:
    """One pool's range: the concurrency to start from, the most concurrency and worker processes to try."""

    pool: str
    start: int
    max_concurrency: int
    max_workers: int
    #: Why it starts where it does (shown as the first trial's reason).
    why_start: str = ""

    def concurrencies(self) -> list[int]:
        """Every concurrency the search can reach: the start doubled up to the maximum, and halved down to 1."""
        values = {self.start}
        low = self.start
        while low > 1:
            low //= 2
            values.add(low)
        high = self.start
        while high * 2 <= self.max_concurrency:
            high *= 2
            values.add(high)
        return sorted(values)

    def workers(self) -> list[int]:
        """Worker process counts the search can reach: 1, 2, 4, … up to the maximum."""
        counts, count = [], 1
        while count <= self.max_workers:
            counts.append(count)
            count *= 2
        return counts

    def holds(self, config: Config) -> bool:
        """The configuration lies on this ladder."""
        return config.concurrency in self.concurrencies() and config.workers in self.workers()

    def grid(self, broker: str = "") -> list[Config]:
        """Every configuration on the ladder (the exhaustive sweep), on ``broker``."""
        return [Config(self.pool, c, w, broker) for w in self.workers() for c in self.concurrencies()]


@dataclass
class Space:
    """The pools to search, in the order to start them, and the pools left out with the reason."""

    ladders: list[Ladder]
    left_out: list[str] = field(default_factory=list)

    def ladder(self, pool: str) -> Ladder:
        """The ladder of ``pool``."""
        return next(ladder for ladder in self.ladders if ladder.pool == pool)

    def grid(self, brokers: tuple[str, ...] = ("",)) -> list[Config]:
        """Every configuration of every pool, on each of ``brokers``."""
        return [config for ladder in self.ladders for broker in brokers for config in ladder.grid(broker)]


def _unfit(entry: catalogue.Pool, label: TaskClass) -> str | None:
    """Why a pool is no choice for a task of this class (None: it is)."""
    if label == "holds the GIL" and entry.gil_per_process:
        return "one GIL per process: a task that holds the GIL runs one at a time per worker process"
    if label == "releases the GIL while computing":
        if entry.cooperative:
            return "one OS thread: computing never overlaps there, even where the GIL is released"
        if entry.interpreter != "default":
            return "the task releases the GIL: the default interpreter's pools already run it in parallel"
    if label == "waits" and entry.interpreter != "default":
        return "the task waits: the default interpreter's pools already overlap waits"
    return None


def _ladder(entry: catalogue.Pool, label: TaskClass, cores: int) -> Ladder:
    most_workers = max(2, cores)
    if label != "waits":
        return Ladder(entry.name, cores, COMPUTE_PER_CORE * cores, most_workers, "one slot per core")
    if entry.process_per_slot:
        return Ladder(
            entry.name, cores, PROCESS_WAIT_PER_CORE * cores, most_workers, "one process per core (a process per slot)"
        )
    return Ladder(entry.name, WAIT_START, WAIT_MAX, most_workers, f"{WAIT_START} slots for a task that waits")


def search_space(label: TaskClass, workload: catalogue.Workload, settings: LabSettings, cores: int) -> Space:
    """The pools for a task of class ``label``: default-interpreter pools first, then the others."""
    ladders: list[Ladder] = []
    left_out: list[str] = []
    unfit: list[catalogue.Pool] = []
    for entry in sorted(catalogue.POOLS.values(), key=lambda pool: pool.interpreter != "default"):
        if entry.name == catalogue.REFERENCE_POOL:
            continue
        reason = entry.refuses(workload)
        if reason is None and interpreter_for(entry, settings) is None:
            reason = f"its {entry.interpreter} interpreter is not built here (see docs/models.md)"
        if reason is None and _unfit(entry, label):
            unfit.append(entry)
            reason = _unfit(entry, label)
        if reason:
            left_out.append(f"{entry.name}: {reason}")
            continue
        ladders.append(_ladder(entry, label, cores))
    if not ladders and unfit:  # e.g. an async def task: only the pools that run coroutines run it at all
        ladders = [_ladder(entry, label, cores) for entry in unfit]
        names = {entry.name for entry in unfit}
        left_out = [line for line in left_out if line.split(":", 1)[0] not in names]
        left_out += [f"{name}: tried anyway ({label}): no other pool runs the task" for name in sorted(names)]
    return Space(ladders, left_out)
