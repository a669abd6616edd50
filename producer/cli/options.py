"""Validation of command-line values shared by every command: each bad value becomes :class:`BadInput` (exit 2)."""

from __future__ import annotations

from config.celery_config import route_for
from config.settings import POOLS, WORKLOADS, LabSettings, get_settings
from producer.errors import BadInput
from worker.task_args import BadTaskArgs, WorkloadArgs, check_args, default_size


def build_args(workload: str, size: int | None, url: str | None) -> WorkloadArgs:
    """Validated workload arguments; a bad one raises :class:`BadInput` (exit 2)."""
    settings = get_settings()
    if workload not in WORKLOADS:
        raise BadInput(f"unknown workload {workload!r} (choose from {', '.join(WORKLOADS)})")
    chosen_size = default_size(workload) if size is None else size
    chosen_url = (url or settings.effective_target_url) if workload == "io_http" else ""
    if url and workload != "io_http":
        raise BadInput("--url applies only to the io_http workload")
    try:
        return check_args(WorkloadArgs(workload, chosen_size, chosen_url), settings)
    except BadTaskArgs as error:
        raise BadInput(str(error)) from None


def queue_for(pool: str | None, workload: str) -> str:
    """The queue of ``pool``, or the default route of ``workload``."""
    settings = get_settings()
    if pool is None:
        return route_for(f"lab.{workload}", settings)
    if pool not in POOLS:
        raise BadInput(f"unknown pool {pool!r} (choose from {', '.join(POOLS)})")
    return pool


def check_count(count: int) -> int:
    """A positive count within the configured cap."""
    cap = get_settings().max_count
    if count < 1:
        raise BadInput(f"--count must be at least 1, got {count}")
    if count > cap:
        raise BadInput(f"--count {count} is above the cap {cap} (LAB_MAX_COUNT)")
    return count


def parse_names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
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
        if name not in WORKLOADS or not value.strip().isdigit():
            raise BadInput(f"--sizes wants workload=integer pairs, got {part!r}")
        try:
            url = settings.effective_target_url if name == "io_http" else ""
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
