"""The local stack without Docker: the broker (Redis or RabbitMQ), the CPU and I/O workers, Flower, the latency target.

`producer stack up` runs a supervisor (producer/processes/supervisor.py): in the foreground, the
command itself; with ``--detach``, a background process in its own session. The supervisor starts
what is missing, waits until both workers answer ``ping`` and every service answers, records every
PID (its own too) in ``<state dir>/stack.json``, restarts what dies (as compose's ``restart:
unless-stopped``) and stops everything when signalled. `producer stack down` signals the supervisor
and waits for it; if none answers, it stops the recorded processes itself, by PID. Either way
nothing is left behind: the old down stopped Flower as if it were its own child and waited ~25 s on
the zombie the foreground `stack up` had not reaped, then left the workers running.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from celery import Celery

from config import catalogue
from config.settings import LabSettings
from producer.errors import LabError
from producer.processes import children as processes
from producer.processes import fleet, roles
from producer.processes.broker_server import BROKER_ROLES, broker_launch, wait_for_broker
from producer.processes.children import Child, Launch
from producer.processes.flower import flower_env
from producer.processes.redis_server import redact

READY_TIMEOUT_S = 60.0
#: How long `stack down` waits for the supervisor to stop everything (workers get 20 s to finish tasks).
SUPERVISOR_STOP_S = 45.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Restarts:
    """How often the supervisor restarted one role, why the last one died, and whether it gave up."""

    count: int = 0
    last_exit: str = ""
    gave_up: bool = False


@dataclass
class StackState:
    """What the stack runs (children, supervisor), where it serves, and what was restarted."""

    children: list[Child] = field(default_factory=list)
    broker_url: str = ""
    flower_url: str = ""
    target_url: str = ""
    supervisor: Child | None = None
    #: starting → up → stopping (a detached `stack up` waits for "up").
    status: str = "starting"
    restarts: dict[str, Restarts] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        """Write the state file atomically (PIDs, URLs, restarts; never the password)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "children": [c.as_dict() for c in self.children],
            "broker_url": redact(self.broker_url),
            "flower_url": self.flower_url,
            "target_url": self.target_url,
            "status": self.status,
            "supervisor": self.supervisor.as_dict() if self.supervisor else None,
            "restarts": {role: asdict(r) for role, r in self.restarts.items()},
        }
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(data, indent=2))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        """The recorded state, or None when no stack was recorded."""
        try:
            data = json.loads(path.read_text())
            supervisor = data.get("supervisor")
            return cls(
                [Child(**c) for c in data["children"]],
                data["broker_url"],
                data["flower_url"],
                data["target_url"],
                Child(**supervisor) if supervisor else None,
                data.get("status", "up"),
                {role: Restarts(**r) for role, r in data.get("restarts", {}).items()},
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise LabError(f"{path} is not a stack state file ({error}); delete it if no stack runs") from None

    def everyone(self) -> list[Child]:
        """The supervisor (first) and every child."""
        return ([self.supervisor] if self.supervisor else []) + self.children


def state_path(settings: LabSettings) -> Path:
    """Where the stack records its processes."""
    return settings.state_dir / "stack.json"


def _child_env(settings: LabSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}  # only Flower gets it
    env.update(
        LAB_BROKER_URL=settings.broker_url,
        LAB_RESULT_BACKEND=settings.result_backend,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def stack_launches(settings: LabSettings, password: str) -> list[Launch]:
    """Every process of the stack, in start order (the broker first when it is started here)."""
    env = _child_env(settings)
    logs = settings.state_dir / "logs"
    workers = [
        fleet.worker_launch(settings, pool, slots, catalogue.pool(pool).queue, name, env=env, log_dir=logs)
        for name, (pool, slots) in roles.stack_workers(settings).items()
    ]
    broker = broker_launch(settings, env)
    return [
        *([broker] if broker else []),
        Launch("target", roles.target_command(settings), env, logs / "target.log"),
        *workers,
        Launch(
            "flower",
            roles.flower_command(settings),
            flower_env(env, settings.flower_user, password, roles.flower_broker_api(settings)),
            logs / "flower.log",
        ),
    ]


def start_stack(app: Celery, settings: LabSettings, launches: list[Launch], state: StackState) -> None:
    """Start every launch (recording each child in ``state`` at once) and wait until all of them answer."""
    path = state_path(settings)
    for launch in launches:
        child = launch.start()
        state.children.append(child)
        state.save(path)
        if launch.role in BROKER_ROLES:
            wait_for_broker(settings, child, READY_TIMEOUT_S)
    by_role = {child.role: child for child in state.children}
    workers = [launch for launch in launches if isinstance(launch, fleet.WorkerLaunch)]
    fleet.wait_ready(app, [w.node for w in workers], [by_role[w.role] for w in workers], READY_TIMEOUT_S)
    processes.wait_for_http(f"{state.target_url.rstrip('/')}/healthz", READY_TIMEOUT_S, by_role["target"])
    processes.wait_for_http(f"{state.flower_url}healthcheck", READY_TIMEOUT_S, by_role["flower"])


def stop_children(children: list[Child]) -> list[str]:
    """Stop everything together (workers finish their tasks), then the broker last; returns the roles that ran."""
    first = [child for child in children if child.role not in BROKER_ROLES]
    stopped = processes.stop_all(first) + processes.stop_all([c for c in children if c.role in BROKER_ROLES])
    return [child.role for child in stopped]


def running_state(settings: LabSettings) -> StackState | None:
    """The recorded stack if its supervisor or any of its processes still runs."""
    state = StackState.load(state_path(settings))
    if state and any(processes.is_running(c) for c in state.everyone()):
        return state
    return None


def start_detached(settings: LabSettings) -> StackState:
    """Start the supervisor in its own session and wait until it reports the stack up (or fails)."""
    log = settings.state_dir / "logs" / "supervisor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    supervisor = processes.spawn("supervisor", [sys.executable, "-m", "producer.processes.supervisor"], log, env)
    deadline = time.monotonic() + 2 * READY_TIMEOUT_S + 30
    try:
        while True:
            state = StackState.load(state_path(settings))
            recorded = state.supervisor if state else None
            if state and state.status == "up" and recorded and recorded.pid == supervisor.pid:
                return state
            if not processes.is_running(supervisor):
                lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
                reason = lines[-1] if lines else processes.describe_exit(processes.exit_status(supervisor))
                raise LabError(f"the stack did not start: {reason} (see {log})")
            if time.monotonic() > deadline:
                raise LabError(f"the stack did not come up in time (see {log})")
            time.sleep(0.2)
    except BaseException:
        processes.stop(supervisor, grace_s=SUPERVISOR_STOP_S)
        raise


def stack_down(settings: LabSettings) -> list[str]:
    """Stop the stack: the supervisor stops its processes; whatever still runs after it is stopped here, by PID."""
    path = state_path(settings)
    state = StackState.load(path)
    if state is None:
        return []
    ran = [child.role for child in state.children if processes.is_running(child)]
    supervisor = state.supervisor
    if supervisor is not None and processes.signal_pid(supervisor, signal.SIGTERM):
        deadline = time.monotonic() + SUPERVISOR_STOP_S
        while processes.is_running(supervisor) and time.monotonic() < deadline:
            time.sleep(0.1)
        processes.stop(supervisor, grace_s=0)  # it did not finish in time: kill it before its children
    latest = StackState.load(path) or state  # a restart may have replaced a child since we read the file
    known = {(c.pid, c.create_time): c for c in [*state.children, *latest.children]}
    stop_children(list(known.values()))
    path.unlink(missing_ok=True)
    return ran
