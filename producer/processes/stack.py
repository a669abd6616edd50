"""The local stack without Docker: Redis, the CPU and I/O workers, Flower and the latency target.

`producer stack up` starts what is missing, waits until both workers answer ``ping``, records every PID
in ``.lab/stack.json`` and either waits for Ctrl-C or (``--detach``) returns; `producer stack down`
stops each recorded process by PID.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from celery import Celery

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes import children as processes
from producer.processes import roles
from producer.processes.children import Child
from producer.processes.fleet import celery_hostname, wait_ready
from producer.processes.flower import flower_env, flower_password
from producer.processes.redis_server import redact, redis_answers, start_redis_server

READY_TIMEOUT_S = 60.0


@dataclass
class StackState:
    """What the stack started (children) and where it serves."""

    children: list[Child] = field(default_factory=list)
    broker_url: str = ""
    flower_url: str = ""
    target_url: str = ""

    def save(self, path: Path) -> None:
        """Write the state file (PIDs, URLs; never the password)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"children": [c.as_dict() for c in self.children], "broker_url": redact(self.broker_url),
                "flower_url": self.flower_url, "target_url": self.target_url}
        path.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, path: Path) -> StackState | None:
        """The recorded state, or None when no stack was recorded."""
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls([Child(**c) for c in data["children"]], data["broker_url"], data["flower_url"],
                   data["target_url"])


def state_path(settings: LabSettings) -> Path:
    """Where the stack records its processes."""
    return settings.state_dir / "stack.json"


def _child_env(settings: LabSettings, broker_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}  # only Flower gets it
    env["LAB_BROKER_URL"] = broker_url
    env["LAB_RESULT_BACKEND"] = settings.result_backend
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _ensure_redis(settings: LabSettings, children: list[Child]) -> None:
    """Use the configured Redis if it answers, else start a private ``redis-server`` on its port."""
    if redis_answers(settings.broker_url):
        return
    parts = urlsplit(settings.broker_url)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.password:
        raise LabError(f"Redis at {redact(settings.broker_url)} does not answer and is not local; start it first")
    server = start_redis_server(parts.port or 6379, settings.state_dir / "redis")
    children.append(Child("redis", server.pid, psutil.Process(server.pid).create_time(),
                          str(settings.state_dir / "redis" / "redis.log")))


def running_state(settings: LabSettings) -> StackState | None:
    """The recorded stack if any of its processes still runs."""
    state = StackState.load(state_path(settings))
    if state and any(processes.is_running(c) for c in state.children):
        return state
    return None


def stack_up(app: Celery, settings: LabSettings) -> tuple[StackState, str, bool]:
    """Start the stack; returns its state, Flower's password and whether that was generated now."""
    if running_state(settings):
        raise LabError("the stack is already up (see `producer stack status`; stop it with `producer stack down`)")
    log_dir = settings.state_dir / "logs"
    password, generated = flower_password(settings)
    state = StackState(broker_url=settings.broker_url,
                       flower_url=f"http://{settings.flower_host}:{settings.flower_port}/",
                       target_url=settings.effective_target_url)
    try:
        _ensure_redis(settings, state.children)
        env = _child_env(settings, settings.broker_url)
        for role, command in (("target", roles.target_command(settings)),
                              ("worker-cpu", roles.cpu_worker_command(settings)),
                              ("worker-io", roles.io_worker_command(settings)),
                              ("flower", roles.flower_command(settings))):
            role_env = flower_env(env, settings.flower_user, password) if role == "flower" else env
            state.children.append(processes.spawn(role, command, log_dir / f"{role}.log", role_env))
        state.save(state_path(settings))
        by_role = {child.role: child for child in state.children}
        wait_ready(app, [celery_hostname("cpu"), celery_hostname("io")],
                   [by_role["worker-cpu"], by_role["worker-io"]], READY_TIMEOUT_S)
        processes.wait_for_http(f"{state.target_url.rstrip('/')}/healthz", READY_TIMEOUT_S, by_role["target"])
        processes.wait_for_http(f"{state.flower_url}healthcheck", READY_TIMEOUT_S, by_role["flower"])
    except BaseException:
        stop_children(state.children)
        state_path(settings).unlink(missing_ok=True)
        raise
    return state, password, generated


def stop_children(children: list[Child]) -> list[str]:
    """Stop children in reverse start order (Redis last); returns the roles that were running."""
    stopped = []
    for child in reversed(children):
        if processes.is_running(child):
            processes.stop(child)
            stopped.append(child.role)
    return stopped


def stack_down(settings: LabSettings) -> list[str]:
    """Stop every recorded process by PID and forget the state."""
    state = StackState.load(state_path(settings))
    if state is None:
        return []
    stopped = stop_children(state.children)
    state_path(settings).unlink(missing_ok=True)
    return stopped
