"""The compose deployment for real: build, up, scale, a CPU and an I/O batch through `producer`, down.

Runs only when selected (`make compose-test`, i.e. ``pytest -m compose``) and a Docker engine answers;
plain `make test` skips it, so the default run stays fast. A unique project name, a generated password
in a temporary env file, a free Flower port; `down -v` removes containers, network and volume. The
image (concurrency-lab:compose-test) stays, as a build cache for the next run.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from producer.processes.redis_server import free_port
from tests.compose_cli import compose, compose_env, compose_program, engine_answers, host_index_env

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

CPU_TASKS, IO_TASKS = 20, 200
SCALE = {"worker-cpu": 2, "worker-io": 2}


@dataclass
class Stack:
    """A running compose project and how to reach it."""

    project: str
    env: dict[str, str]
    env_file: Path
    flower_url: str
    auth: tuple[str, str]

    def run(self, args: list[str], timeout: float = 300, check: bool = True) -> Any:
        """Compose with this project's name and env file."""
        return compose(args, self.env, self.env_file, project=self.project, timeout=timeout, check=check)

    def workers(self) -> dict[str, Any]:
        """Flower's view of the workers (it asks them: ``refresh=1``)."""
        response = requests.get(f"{self.flower_url}api/workers", params={"refresh": 1}, auth=self.auth, timeout=20)
        response.raise_for_status()
        return dict(response.json())


def say(message: str) -> None:
    """A progress line for `make compose-test` (run with -s)."""
    print(f"compose-test: {message}", flush=True)


def wait_for_workers(stack: Stack, counts: dict[str, int], timeout_s: float = 180) -> list[str]:
    """Block until Flower lists exactly ``counts`` workers per name prefix (cpu, io); returns their names."""
    deadline = time.monotonic() + timeout_s
    names: list[str] = []
    while time.monotonic() < deadline:
        try:
            names = sorted(stack.workers())
        except requests.RequestException:
            names = []
        seen = {prefix: sum(n.startswith(f"{prefix}@") for n in names) for prefix in counts}
        if seen == counts:
            return names
        time.sleep(2)
    raise AssertionError(f"Flower lists {names}, expected {counts} within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole compose stack, up and scaled; torn down with `down -v` whatever happens."""
    if "compose" not in (request.config.option.markexpr or ""):
        pytest.skip("builds images and starts containers: run `make compose-test` (pytest -m compose)")
    if compose_program() is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    if not engine_answers():
        pytest.skip("no Docker engine answers `docker info` (on this machine: /work/shared/tools/docker-sandbox up)")
    tmp = tmp_path_factory.mktemp("compose")
    results = tmp / "results"
    results.mkdir(mode=0o777)
    results.chmod(0o777)  # the producer container writes here as LAB_UID
    port = free_port()
    values = {
        "REDIS_PASSWORD": secrets.token_hex(16),
        "LAB_FLOWER_PASSWORD": secrets.token_hex(12),
        "LAB_FLOWER_USER": "admin",
        "LAB_FLOWER_PORT": str(port),
        "LAB_IMAGE_TAG": "compose-test",
        "LAB_RESULTS_HOST_DIR": str(results),
        "LAB_CPU_CONCURRENCY": "2",
        "LAB_IO_CONCURRENCY": "32",
    }
    env_file = tmp / "lab.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    stack = Stack(
        f"labtest{uuid.uuid4().hex[:8]}",
        compose_env(**host_index_env()),
        env_file,
        f"http://127.0.0.1:{port}/",
        ("admin", values["LAB_FLOWER_PASSWORD"]),
    )
    try:
        started = time.monotonic()
        stack.run(["build"], timeout=1200)
        stack.run(["up", "-d"], timeout=300)
        say(f"project {stack.project} up in {time.monotonic() - started:.0f} s (build included)")
        wait_for_workers(stack, {"cpu": 1, "io": 1})
        scale = [arg for service, n in SCALE.items() for arg in ("--scale", f"{service}={n}")]
        stack.run(["up", "-d", *scale], timeout=300)
        running = stack.run(["ps", "--services", "--filter", "status=running"]).stdout.split()
        say(f"running: {' '.join(sorted(running))} ({len(stack.run(['ps', '-q']).stdout.split())} containers)")
        yield stack
    finally:
        if request.session.testsfailed:
            say("logs of the failed run:\n" + stack.run(["logs", "--tail", "60"], check=False).stdout[-20000:])
        stack.run(["down", "-v", "--remove-orphans", "--timeout", "30"], timeout=300, check=False)
        say(f"project {stack.project} down (containers, network and volume removed)")


def submit(stack: Stack, workload: str, count: int) -> dict[str, Any]:
    """`docker compose run --rm producer submit ... --json`; the summary it prints."""
    done = stack.run(
        [
            "run",
            "--rm",
            "producer",
            "submit",
            "--workload",
            workload,
            "--count",
            str(count),
            "--timeout",
            "240",
            "--json",
        ],
        timeout=400,
    )
    summary: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    say(
        f"{workload}: {summary['completed']}/{summary['submitted']} completed, {summary['failed']} failed, "
        f"{summary['lost']} lost, {summary['throughput']:.1f} tasks/s on {sorted(summary['per_worker'])}"
    )
    return summary


def test_scaled_workers_have_unique_names_in_flower(stack: Stack) -> None:
    names = wait_for_workers(stack, {"cpu": SCALE["worker-cpu"], "io": SCALE["worker-io"]})
    say(f"Flower lists {names}")
    response = requests.get(f"{stack.flower_url}api/workers", timeout=10)
    assert response.status_code == 401  # the API wants the basic-auth password


def test_cpu_and_io_batches_through_the_producer_service(stack: Stack) -> None:
    """No task lost or failed; Flower's per-worker counts add up to exactly what was submitted."""
    wait_for_workers(stack, {"cpu": SCALE["worker-cpu"], "io": SCALE["worker-io"]})
    cpu = submit(stack, "cpu", CPU_TASKS)
    io = submit(stack, "io_http", IO_TASKS)  # reaches the target service at http://target:8089/
    for summary, count, pool in ((cpu, CPU_TASKS, "prefork"), (io, IO_TASKS, "threads")):
        assert (summary["completed"], summary["failed"], summary["lost"]) == (count, 0, 0)
        assert summary["pools"] == [pool]
    done: dict[str, int] = {}
    for info in stack.workers().values():
        for task, n in (info.get("stats", {}).get("total") or {}).items():
            done[task] = done.get(task, 0) + n
    say(f"Flower: tasks processed per task name {done}")
    assert done == {"lab.cpu": CPU_TASKS, "lab.io_http": IO_TASKS}


def test_workers_run_as_pid_1_and_not_as_root(stack: Stack) -> None:
    for service in SCALE:
        out = stack.run(["exec", "-T", service, "sh", "-c", "id -u; tr '\\0' ' ' < /proc/1/cmdline"]).stdout
        uid, cmdline = out.strip().split("\n", 1)
        assert uid != "0", service
        assert "celery" in cmdline and " worker " in cmdline, cmdline


def test_sigterm_gives_a_warm_shutdown(stack: Stack) -> None:
    """`stop` sends SIGTERM to PID 1: every replica of both workers shuts down warm and exits 0."""
    services = list(SCALE)
    stack.run(["stop", "--timeout", "60", *services], timeout=180)
    for service in services:
        logs = stack.run(["logs", "--no-color", service]).stdout
        assert logs.count("Warm shutdown") == SCALE[service], logs[-3000:]
    ids = stack.run(["ps", "-a", "-q", *services]).stdout.split()
    codes = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.ExitCode}}", *ids], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert codes == ["0"] * sum(SCALE.values())
    say(f"`stop {' '.join(services)}`: {len(codes)} workers, each a warm shutdown and exit status 0")
