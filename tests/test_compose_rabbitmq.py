"""The compose deployment on RabbitMQ for real: profile rabbitmq + docker-compose.rabbitmq.yml, batches, Flower.

Runs with `make compose-test` (``pytest -m compose``) when a Docker engine answers, after the Redis run
(tests/test_compose.py), on the same image. RabbitMQ is the ``rabbitmq:3-management`` image (on this
machine the docker-sandbox stand-in: Debian's RabbitMQ 3.10 with the management plugin); results stay
in Redis. `down -v` removes containers, network and both volumes.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from producer.processes.redis_server import free_port
from tests.compose_cli import RABBITMQ_FILE, compose, compose_env, compose_program, engine_answers, host_index_env
from tests.test_compose import Stack, say, submit, wait_for_workers

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

CPU_TASKS, IO_TASKS = 20, 200
PROFILES = ["--profile", "rabbitmq", "--profile", "tools"]


@dataclass
class RabbitStack(Stack):
    """A compose project on RabbitMQ: every command gets the override file and the profile."""

    ui: str = ""
    rabbit_auth: tuple[str, str] = ("", "")

    def run(self, args: list[str], timeout: float = 300, check: bool = True) -> Any:
        """Compose with the override and ``--profile rabbitmq``."""
        return compose(
            [*PROFILES, *args],
            self.env,
            self.env_file,
            project=self.project,
            timeout=timeout,
            check=check,
            overrides=(RABBITMQ_FILE,),
        )


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitStack]:
    """The compose stack with RabbitMQ as the broker; torn down with `down -v` whatever happens."""
    if "compose" not in (request.config.option.markexpr or ""):
        pytest.skip("builds images and starts containers: run `make compose-test` (pytest -m compose)")
    if compose_program() is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    if not engine_answers():
        pytest.skip("no Docker engine answers `docker info` (on this machine: /work/shared/tools/docker-sandbox up)")
    tmp = tmp_path_factory.mktemp("compose-rabbitmq")
    flower_port, ui_port = free_port(), free_port()
    values = {
        "REDIS_PASSWORD": secrets.token_hex(16),
        "RABBITMQ_PASSWORD": secrets.token_hex(16),
        "LAB_FLOWER_PASSWORD": secrets.token_hex(12),
        "LAB_FLOWER_PORT": str(flower_port),
        "RABBITMQ_MANAGEMENT_PORT": str(ui_port),
        "LAB_IMAGE_TAG": "compose-test",
        "LAB_RESULTS_HOST_DIR": str(tmp),
        "LAB_CPU_CONCURRENCY": "2",
        "LAB_IO_CONCURRENCY": "32",
    }
    env_file = tmp / "lab.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    stack = RabbitStack(
        f"labmq{uuid.uuid4().hex[:8]}",
        compose_env(**host_index_env()),
        env_file,
        f"http://127.0.0.1:{flower_port}/",
        ("admin", values["LAB_FLOWER_PASSWORD"]),
        f"http://127.0.0.1:{ui_port}/",
        ("lab", values["RABBITMQ_PASSWORD"]),
    )
    try:
        started = time.monotonic()
        stack.run(["build"], timeout=1200)
        stack.run(["up", "-d"], timeout=600)
        say(f"project {stack.project} (RabbitMQ) up in {time.monotonic() - started:.0f} s")
        wait_for_workers(stack, {"cpu": 1, "io": 1}, timeout_s=300)
        yield stack
    finally:
        if request.session.testsfailed:
            say("logs of the failed run:\n" + stack.run(["logs", "--tail", "60"], check=False).stdout[-20000:])
        stack.run(["down", "-v", "--remove-orphans", "--timeout", "30"], timeout=300, check=False)
        say(f"project {stack.project} down (containers, network and volumes removed)")


def test_batches_run_on_rabbitmq_and_results_come_back_through_redis(stack: RabbitStack) -> None:
    cpu = submit(stack, "cpu", CPU_TASKS)
    io = submit(stack, "io_http", IO_TASKS)
    for summary, count, pool in ((cpu, CPU_TASKS, "prefork"), (io, IO_TASKS, "threads")):
        assert (summary["completed"], summary["failed"], summary["lost"]) == (count, 0, 0)
        assert summary["pools"] == [pool] and summary["broker"] == "rabbitmq"
    for service in ("worker-cpu", "worker-io"):
        logs = stack.run(["logs", "--no-color", service]).stdout
        assert "Connected to amqp://lab:**@rabbitmq:5672//" in logs, logs[-2000:]


def test_flower_shows_the_broker_tab_through_the_management_api(stack: RabbitStack) -> None:
    page = requests.get(f"{stack.flower_url}broker", auth=stack.auth, timeout=30)
    assert page.status_code == 200
    assert "prefork" in page.text and "threads" in page.text, "queues listed from RabbitMQ's management API"
    say("Flower's broker tab lists the prefork and threads queues")


def test_amqp_is_not_published_and_the_ui_answers_on_loopback(stack: RabbitStack) -> None:
    ports = stack.run(["port", "rabbitmq", "5672"], check=False)
    assert not ports.stdout.strip(), "AMQP is not published on the host"
    overview = requests.get(f"{stack.ui}api/overview", auth=stack.rabbit_auth, timeout=30)
    assert overview.status_code == 200 and overview.json()["rabbitmq_version"].startswith("3.")
    assert requests.get(f"{stack.ui}api/overview", timeout=30).status_code == 401
