"""Validation of command-line values shared by every command: each bad value becomes :class:`BadInput` (exit 2)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from config import catalogue
from config.celery_config import route_for
from config.settings import LabSettings, get_settings
from producer.errors import BadInput
from worker.task_args import BadTaskArgs, WorkloadArgs, check_args, default_size


def size_help() -> str:
    """What ``--size`` means for each workload, from the catalogue."""
    return "; ".join(f"{w.name}: {w.size_meaning}" for w in catalogue.WORKLOADS.values())


def choices(class_name: str, table: Mapping[str, Any]) -> Any:
    """An enum of the names in ``table``: typer lists them in help (``<a|b|c>``), completes and checks them."""
    return enum.Enum(class_name, {name: name for name in table}, type=str)


if TYPE_CHECKING:  # the members are the catalogue's, known only at run time
    WorkloadName = enum.Enum
    PoolName = enum.Enum
else:
    WorkloadName = choices("WorkloadName", catalogue.WORKLOADS)
    PoolName = choices("PoolName", catalogue.POOLS)


#: ``--task`` and its arguments (compare, sweep, probe): a user's function instead of a catalogue workload.
TaskOption = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="your own task, package.module:function, from a module LAB_TASK_MODULES allows "
        "(replaces the workload; see docs/user-tasks.md)",
    ),
]
ArgsOption = Annotated[str | None, typer.Option("--args", help="--task's positional arguments: a JSON list")]
KwargsOption = Annotated[str | None, typer.Option("--kwargs", help="--task's keyword arguments: a JSON object")]
ProbeOption = Annotated[
    bool,
    typer.Option("--probe/--no-probe", help="first classify the task with a short solo/threads probe (a few seconds)"),
]

#: ``--json`` of the measuring commands (compare, sweep, advise): the record instead of the table.
RecordJsonOption = Annotated[bool, typer.Option("--json", help="print the record as JSON on stdout (no table)")]
#: ``--celery`` of compare and sweep (advise has its own: stock or lab).
CeleryOption = Annotated[
    str,
    typer.Option(
        help="which Celery the workers run: stock (plain Celery and kombu, as deployed), lab (the lab's transport "
        "and consumer: docs/performance.md) or both (each cell in both, with lab ÷ stock)"
    ),
]
#: ``--broker`` (compare, sweep, advise): the same batches on Redis and/or RabbitMQ, side by side.
BrokerOption = Annotated[
    str,
    typer.Option(
        "--broker",
        help="redis, rabbitmq or redis,rabbitmq: run on each (default: LAB_BROKER_URL's; the other from "
        "LAB_REDIS_BROKER_URL / LAB_RABBITMQ_URL, else see docs/brokers.md)",
    ),
]


def task_args(task: str | None, args: str | None, kwargs: str | None) -> WorkloadArgs | None:
    """A user task's checked arguments (it is added to the catalogue), or None without ``--task``."""
    from producer.measure.user_tasks import user_task

    if task is None:
        if args is not None or kwargs is not None:
            raise BadInput("--args and --kwargs go with --task")
        return None
    return user_task(task, args, kwargs, get_settings())


def names_of(table: Callable[[], Mapping[str, Any]]) -> Callable[[str], list[str]]:
    """Shell completion for a comma-separated list of catalogue names: completes the last item."""

    def complete(incomplete: str) -> list[str]:
        done, _, last = incomplete.rpartition(",")
        chosen = set(done.split(",")) if done else set()
        prefix = f"{done}," if done else ""
        return [prefix + name for name in table() if name.startswith(last) and name not in chosen]

    return complete


def list_help(what: str, table: Mapping[str, Any], default: list[str] | str) -> str:
    """Help text of a comma-separated list option: the choices and the default."""
    shown = default if isinstance(default, str) else ",".join(default)
    return f"comma-separated {what} from: {', '.join(table)} (default: {shown})"


def build_args(workload: str, size: int | None, url: str | None) -> WorkloadArgs:
    """Validated workload arguments; a bad one raises :class:`BadInput` (exit 2)."""
    settings = get_settings()
    try:
        entry = catalogue.workload(workload)
    except catalogue.UnknownName as error:
        raise BadInput(str(error)) from None
    chosen_size = default_size(workload) if size is None else size
    chosen_url = (url or settings.effective_target_url) if entry.takes_url else ""
    if url and not entry.takes_url:
        takers = ", ".join(w.name for w in catalogue.WORKLOADS.values() if w.takes_url)
        raise BadInput(f"--url applies only to {takers}")
    try:
        return check_args(WorkloadArgs(workload, chosen_size, chosen_url), settings)
    except BadTaskArgs as error:
        raise BadInput(str(error)) from None


def queue_for(pool: str | None, workload: str) -> str:
    """The queue of ``pool``, or the default route of ``workload``; a pool that refuses the workload says why."""
    try:
        if pool is None:
            return route_for(catalogue.workload(workload).task_name)
        entry = catalogue.pool(pool)
        refused = entry.refuses(catalogue.workload(workload))
    except catalogue.UnknownName as error:
        raise BadInput(str(error)) from None
    if refused:
        raise BadInput(refused)
    return entry.queue


def check_count(count: int) -> int:
    """A positive count within the configured cap."""
    cap = get_settings().max_count
    if count < 1:
        raise BadInput(f"--count must be at least 1, got {count}")
    if count > cap:
        raise BadInput(f"--count {count} is above the cap {cap} (LAB_MAX_COUNT)")
    return count


def parse_names(text: str, allowed: Mapping[str, Any], what: str) -> list[str]:
    """A comma-separated list of known names, in order, without repeats."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise BadInput(f"--{what} needs at least one name (choose from {', '.join(allowed)})")
    for name in names:
        if name not in allowed:
            raise BadInput(f"unknown {what.rstrip('s')} {name!r} (choose from {', '.join(allowed)})")
    return names


def parse_ints(text: str, what: str, *, low: int = 1, high: int = 4096) -> list[int]:
    """A comma-separated list of integers within [low, high]."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise BadInput(f"--{what} needs at least one value")
    for value in values:
        if not low <= value <= high:
            raise BadInput(f"--{what} values must be in {low}..{high}, got {value}")
    return values


def parse_sizes(text: str, settings: LabSettings) -> dict[str, int]:
    """``cpu=25000,io_http=100``: per-workload sizes, each checked against its cap."""
    sizes: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in catalogue.WORKLOADS or not value.strip().isdigit():
            raise BadInput(f"--sizes wants workload=integer pairs ({', '.join(catalogue.WORKLOADS)}), got {part!r}")
        try:
            url = settings.effective_target_url if catalogue.workload(name).takes_url else ""
            check_args(WorkloadArgs(name, int(value), url), settings)
        except BadTaskArgs as error:
            raise BadInput(str(error)) from None
        sizes[name] = int(value)
    return sizes


def check_positive(count: int, what: str, cap: int) -> int:
    """A count in 1..cap."""
    if count < 1:
        raise BadInput(f"--{what} must be at least 1, got {count}")
    if count > cap:
        raise BadInput(f"--{what} {count} is above the cap {cap}")
    return count
