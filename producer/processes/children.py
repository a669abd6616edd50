"""Start child processes in their own session and stop them by PID (never by name)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests

from producer.errors import LabError


@dataclass(frozen=True)
class Child:
    """A process we started: its role, PID and start time (to guard against PID reuse)."""

    role: str
    pid: int
    create_time: float
    log: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the stack's state file."""
        return asdict(self)


def spawn(role: str, command: list[str], log_path: Path, env: dict[str, str]) -> Child:
    """Start ``command`` detached from our terminal's signals, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
    return Child(role, process.pid, psutil.Process(process.pid).create_time(), str(log_path))


def is_running(child: Child) -> bool:
    """True if the PID still belongs to the process we started (and it is not a zombie)."""
    try:
        process = psutil.Process(child.pid)
        return process.create_time() == child.create_time and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop(child: Child, grace_s: float = 20.0) -> None:
    """SIGTERM the process (Celery's warm shutdown), then SIGKILL it and its descendants after ``grace_s``."""
    if not is_running(child):
        return
    descendants = _descendants(child.pid)
    try:
        os.kill(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process = psutil.Process(child.pid)
    try:
        process.wait(grace_s)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(5)
    except psutil.Error:
        pass
    for leftover in descendants:
        try:
            if leftover.is_running():
                leftover.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(descendants, timeout=5)


def http_answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    """True if ``url`` answers with a status below 500 within a second."""
    try:
        return requests.get(url, timeout=1, auth=auth).status_code < 500
    except requests.RequestException:
        return False


def wait_for_http(url: str, timeout_s: float, child: Child | None = None,
                  auth: tuple[str, str] | None = None) -> None:
    """Poll ``url`` until it answers; raise :class:`LabError` when ``child`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not http_answers(url, auth):
        if child is not None and not is_running(child):
            raise LabError(f"{child.role} exited before {url} answered; see {child.log}")
        if time.monotonic() > deadline:
            raise LabError(f"{url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running_service(role: str, command: list[str], log_path: Path, env: dict[str, str], ready_url: str,
                    timeout_s: float = 30.0) -> Iterator[Child]:
    """Start ``command``, yield once ``ready_url`` answers, and stop it by PID on exit."""
    child = spawn(role, command, log_path, env)
    try:
        wait_for_http(ready_url, timeout_s, child)
        yield child
    finally:
        stop(child)


def latency_target_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The latency target (``worker/latency_target.py``) on ``host:port``, run by this interpreter."""
    return [sys.executable, "-m", "worker.latency_target", "--host", host, "--port", str(port)]
