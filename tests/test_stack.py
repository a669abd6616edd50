"""`producer stack up/down/status`: everything starts, answers, is restarted when it dies, and stops
without leaving a process behind, whether the stack runs detached or in the foreground of another process.

Each test runs its own stack on its own Redis port and state directory (never the session's).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
import requests

from producer.processes.redis_server import free_port
from tests.flower_server import wait_for
from tests.helpers import ROOT, child_env

ROLES = ["redis", "target", "worker-cpu", "worker-io", "flower"]


def _stack_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    port = free_port()
    return child_env(
        LAB_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        LAB_RESULT_BACKEND=f"redis://127.0.0.1:{port}/1",
        LAB_STATE_DIR=str(tmp_path / "state"),
        LAB_TARGET_PORT=str(free_port()),
        LAB_FLOWER_PORT=str(free_port()),
        LAB_CPU_CONCURRENCY="2",
        LAB_IO_CONCURRENCY="4",
        **extra,
    )


def _producer(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "producer", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def _state(env: dict[str, str]) -> dict[str, Any]:
    path = Path(env["LAB_STATE_DIR"]) / "stack.json"
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):  # not written yet, or being replaced
        return {}


def _family(state: dict[str, Any]) -> set[int]:
    """Every recorded PID (supervisor and children) and their descendants (prefork pool processes)."""
    pids = {c["pid"] for c in state["children"]} | ({state["supervisor"]["pid"]} if state.get("supervisor") else set())
    family = set(pids)
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            family |= {p.pid for p in psutil.Process(pid).children(recursive=True)}
    return family


def _survivors(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[tuple[dict[str, str], subprocess.CompletedProcess[str]]]:
    """A detached stack (a short visibility timeout: a killed worker's tasks come back soon); always taken down."""
    env = _stack_env(tmp_path, LAB_VISIBILITY_TIMEOUT_S="5")
    up = _producer(env, "stack", "up", "--detach")
    try:
        yield env, up
    finally:
        _producer(env, "stack", "down")


def test_detached_stack_up_then_down_leaves_no_processes(
    detached: tuple[dict[str, str], subprocess.CompletedProcess[str]],
) -> None:
    env, up = detached
    assert up.returncode == 0, up.stderr
    state = _state(env)
    family = _family(state)
    assert [c["role"] for c in state["children"]] == ROLES
    assert state["status"] == "up"
    password = (Path(env["LAB_STATE_DIR"]) / "flower-password").read_text().strip()
    assert f"password generated: {password}" in up.stderr.replace("\n", "")
    flower = state["flower_url"]
    assert requests.get(f"{flower}api/workers", timeout=5).status_code == 401
    assert requests.get(f"{flower}api/workers", auth=("admin", password), timeout=5).status_code == 200
    assert len(family) >= 8  # supervisor + 5 roles + 2 prefork children

    down = _producer(env, "stack", "down")

    assert down.returncode == 0, down.stderr
    assert "Traceback" not in down.stderr
    assert "redis" in down.stderr
    assert _survivors(family) == []
    assert not (Path(env["LAB_STATE_DIR"]) / "stack.json").exists()


def test_foreground_stack_is_stopped_by_down_from_another_process(tmp_path: Path) -> None:
    env = _stack_env(tmp_path)
    foreground = subprocess.Popen(
        [sys.executable, "-m", "producer", "stack", "up"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = wait_for(lambda: _state(env).get("status") == "up" and _state(env), 180, "the stack up")
        family = _family(state)
        assert state["supervisor"]["pid"] == foreground.pid
        assert [c["role"] for c in state["children"]] == ROLES

        down = _producer(env, "stack", "down")
        _, foreground_err = foreground.communicate(timeout=120)
    finally:
        if foreground.poll() is None:
            foreground.send_signal(signal.SIGTERM)
            foreground.communicate(timeout=120)

    assert down.returncode == 0, down.stderr
    assert "Traceback" not in down.stderr + foreground_err
    assert set(down.stderr.split("stopped: ", 1)[1].strip().replace(",", "").split()) == set(ROLES)
    assert foreground.returncode == 0, foreground_err
    assert _survivors(family) == []
    assert not (Path(env["LAB_STATE_DIR"]) / "stack.json").exists()


def test_kill9_of_the_io_worker_mid_batch_restarts_it_and_the_batch_completes(
    detached: tuple[dict[str, str], subprocess.CompletedProcess[str]],
) -> None:
    env, up = detached
    assert up.returncode == 0, up.stderr
    io_worker = next(c for c in _state(env)["children"] if c["role"] == "worker-io")
    backend = redis.Redis.from_url(env["LAB_RESULT_BACKEND"])
    submit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "producer",
            "submit",
            "--workload",
            "io_sleep",
            "--count",
            "60",
            "--size",
            "300",
            "--json",
            "--timeout",
            "300",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(backend.keys("celery-task-meta-*")) >= 4, 120, "the first results")
        os.kill(io_worker["pid"], signal.SIGKILL)  # mid-batch: 4 tasks running, the rest queued or prefetched
        out, err = submit.communicate(timeout=400)
    finally:
        if submit.poll() is None:
            submit.kill()
            submit.communicate()

    assert submit.returncode == 0, err
    summary = json.loads(out)
    assert summary["completed"] == 60, summary
    restarted = next(c for c in _state(env)["children"] if c["role"] == "worker-io")
    assert restarted["pid"] != io_worker["pid"]
    status = _producer(env, "stack", "status")
    assert status.returncode == 0, status.stderr
    assert "restarted 1×, last: killed by SIGKILL" in status.stderr
    log = (Path(env["LAB_STATE_DIR"]) / "logs" / "supervisor.log").read_text()
    assert f"worker-io killed by SIGKILL, restarted (pid {restarted['pid']})" in log


def test_down_stops_everything_itself_when_the_supervisor_was_killed(
    detached: tuple[dict[str, str], subprocess.CompletedProcess[str]],
) -> None:
    env, up = detached
    assert up.returncode == 0, up.stderr
    state = _state(env)
    family = _family(state)
    os.kill(state["supervisor"]["pid"], signal.SIGKILL)  # its children are orphans now, nobody's to reap

    down = _producer(env, "stack", "down")

    assert down.returncode == 0, down.stderr
    assert "Traceback" not in down.stderr
    assert _survivors(family) == []


def test_a_process_that_keeps_dying_is_restarted_a_bounded_number_of_times(tmp_path: Path, settings: Any) -> None:
    from producer.processes import children as processes
    from producer.processes.children import Launch
    from producer.processes.stack import StackState
    from producer.processes.supervisor import RestartPolicy, Supervisor

    local = settings.model_copy(update={"state_dir": tmp_path})
    launch = Launch("crasher", [sys.executable, "-c", "raise SystemExit(3)"], child_env(), tmp_path / "crasher.log")
    state = StackState(children=[launch.start()])
    said: list[str] = []
    supervisor = Supervisor(local, state, [launch], said.append, RestartPolicy(first_delay_s=0, max_restarts=2))

    def gave_up() -> bool:
        supervisor.check()
        return supervisor.all_gave_up()

    wait_for(gave_up, 60, "the supervisor to give up")
    record = state.restarts["crasher"]
    assert (record.count, record.last_exit) == (2, "exited with code 3")
    assert [line.split(" (pid ")[0] for line in said[:2]] == ["crasher exited with code 3, restarted"] * 2
    assert said[-1].startswith("crasher exited with code 3; not restarted: 2 restarts within 60 s")
    assert not processes.is_running(state.children[0])
    assert StackState.load(tmp_path / "stack.json") == state
