"""Which Celery a process runs: **stock** (plain Celery and kombu) or **lab** (the lab's transport and consumer).

The lab mode selects its classes through Celery's own seams (``broker_transport``, ``worker_consumer``)
and nothing else; the stock mode selects none of them, so its figures are the Celery users deploy.
The lab's classes were measured against one minor version of Celery and kombu each (they override
kombu's Redis channel methods): on any other minor the lab mode refuses to start with one line, and
``LAB_CELERY_MODE=stock`` still runs.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from config.settings import LabSettings

#: Minor versions the lab's transport and consumer were tested on (``LAB_LAB_MODE_TESTED`` overrides).
TESTED_MINORS: dict[str, str] = {"celery": "5.7", "kombu": "5.7"}
#: The classes the lab mode names in the Celery configuration.
LAB_TRANSPORT = "worker.lab_transport:Transport"
LAB_CONSUMER = "worker.lab_consumer:Consumer"
#: What the lab mode changes, one phrase each (worker/lab_transport.py, worker/lab_consumer.py).
TRANSPORT_CHANGES: tuple[str, ...] = (
    "one Redis client per channel, not one per command batch",
    "connection parameters remembered across a broker reconnect",
    "a task popped but not recorded as unacked is requeued on reconnect",
    "a malformed queue entry is quarantined, not fatal",
)
CONSUMER_CHANGES: tuple[str, ...] = (
    "an invalid task message takes Celery's invalid-task path, not fatal",
    "task events flushed on a 20 ms timer, not every loop turn",  # lab_consumer.EVENT_FLUSH_S
)


#: Said once where the lab mode runs on another broker than Redis (worker log, `stack up`, records).
REDIS_ONLY_NOTE = (
    "lab mode on RabbitMQ: the lab's consumer applies; the lab's transport and its guards "
    "(quarantined queue entries, requeue on reconnect) are Redis-only"
)


class UntestedCeleryVersions(RuntimeError):
    """The lab mode on a Celery or kombu minor version its classes were not tested on (one line, exit 2)."""

    exit_code = 2


def uses_lab_transport(settings: LabSettings) -> bool:
    """True when the lab mode applies its Redis transport (the broker is Redis)."""
    return settings.celery_mode == "lab" and settings.broker_url.startswith(("redis://", "rediss://"))


def mode_config(settings: LabSettings) -> dict[str, Any]:
    """The Celery settings of the mode: the lab's classes in lab mode, nothing in stock mode."""
    if settings.celery_mode != "lab":
        return {}
    classes = {"worker_consumer": LAB_CONSUMER}
    if uses_lab_transport(settings):
        classes["broker_transport"] = LAB_TRANSPORT
    return classes


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def tested_minors(settings: LabSettings) -> dict[str, str]:
    """The minors the lab mode accepts: :data:`TESTED_MINORS`, or ``LAB_LAB_MODE_TESTED`` (``celery=5.7,kombu=5.7``)."""
    if not settings.lab_mode_tested:
        return dict(TESTED_MINORS)
    pairs = (item.split("=", 1) for item in settings.lab_mode_tested.split(",") if item.strip())
    return {name.strip(): minor.strip() for name, minor in pairs}


def untested_versions(settings: LabSettings) -> str | None:
    """One line saying why the lab mode must not run here, or None if the installed minors were tested."""
    tested = tested_minors(settings)
    installed = {name: _installed(name) for name in tested}
    if all(installed[name].startswith(f"{minor}.") or installed[name] == minor for name, minor in tested.items()):
        return None
    have = ", ".join(f"{name} {installed[name]}" for name in tested)
    want = ", ".join(f"{name} {minor}.x" for name, minor in tested.items())
    return (
        f"the lab mode was tested on {want}, this is {have}: install those or set LAB_CELERY_MODE=stock "
        "(plain Celery and kombu) to run anyway"
    )


def check_tested_versions(settings: LabSettings) -> None:
    """Raise :class:`UntestedCeleryVersions` (one line) unless the installed minors are the lab mode's tested ones."""
    problem = untested_versions(settings)
    if problem:
        raise UntestedCeleryVersions(problem)


def describe_mode(settings: LabSettings) -> dict[str, Any]:
    """Which Celery ran, for records and table headers: mode, the lab's changes (none in stock), versions."""
    changes: list[str] = []
    if settings.celery_mode == "lab":
        changes = [*(TRANSPORT_CHANGES if uses_lab_transport(settings) else ()), *CONSUMER_CHANGES]
    redis_only = settings.celery_mode == "lab" and not uses_lab_transport(settings)
    return {
        "mode": settings.celery_mode,
        "changes": changes,
        **({"not_applied": REDIS_ONLY_NOTE} if redis_only else {}),
        "python": platform.python_version(),
        "celery": _installed("celery"),
        "kombu": _installed("kombu"),
        "redis_py": _installed("redis"),
    }
