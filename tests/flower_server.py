"""A real Flower subprocess for tests: free port, the session's broker, a freshly generated password."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from producer.processes import children as processes
from producer.processes import roles
from producer.processes.flower import flower_env, generate_password
from producer.processes.redis_server import free_port
from tests.helpers import LOG_DIR, child_env

USER = "admin"


@dataclass(frozen=True)
class FlowerServer:
    """Where a test's Flower listens, and its credentials."""

    url: str
    user: str
    password: str
    port: int

    def get(self, path: str, auth: bool = True) -> requests.Response:
        """GET ``path`` with (or without) the basic-auth credentials."""
        return requests.get(self.url + path.lstrip("/"), auth=(self.user, self.password) if auth else None, timeout=10)

    def workers(self) -> dict[str, dict[str, Any]]:
        """The data behind Flower's workers table, by worker name."""
        return {row["hostname"]: row for row in self.get("workers?json=1").json()["data"]}


@pytest.fixture(scope="module")
def flower(settings: Any) -> Iterator[FlowerServer]:
    """Flower (the stack's command line) on a free port; stopped by PID. Its counts start at zero."""
    port = free_port()
    password = generate_password()
    local = settings.model_copy(update={"flower_host": "127.0.0.1", "flower_port": port})
    command = [*roles.CELERY_PROGRAM, *roles.flower_args(local)]
    server = FlowerServer(f"http://127.0.0.1:{port}/", USER, password, port)
    with processes.running_service(
        "flower-test",
        command,
        LOG_DIR / f"flower-{port}.log",
        flower_env(child_env(), USER, password),
        f"{server.url}healthcheck",
        60,
    ):
        yield server


def wait_for(condition: Any, timeout_s: float = 60, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
