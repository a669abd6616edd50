"""Process primitives: start a process in its own session with a log file, check it, stop it by PID.

Every process the lab starts (the stack, compare's and sweep's workers, the tests' and the benchmarks'
workers, targets, Flower, Redis) goes through :func:`spawn` and :func:`stop`. A :class:`Child` carries
its start time, so a reused PID is never taken for ours. :func:`stop` works on processes that are not
our children (``producer stack down`` stops what another process started): it polls instead of
``wait()``-ing, and counts a zombie (exited, not yet reaped by its parent) as stopped. Found the hard
way: ``psutil.Process.wait`` on another parent's zombie waits until its timeout, then raises.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from producer.errors import LabError

#: Celery's warm shutdown finishes the running tasks; after this long a process is killed.
DEFAULT_GRACE_S = 20.0
#: After SIGKILL, how long to wait for the kernel to take a process away.
KILL_WAIT_S = 5.0
POLL_S = 0.05

#: Processes this process started, by PID: their exit status is collected here (no zombies left).
_spawned: dict[int, subprocess.Popen[bytes]] = {}
_children: dict[int, Child] = {}


@dataclass(frozen=True)
class Child:
    """A process we started: its role, PID and start time (to guard against PID reuse), and its log."""

    role: str
    pid: int
    create_time: float
    log: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the stack's state file."""
        return {"role": self.role, "pid": self.pid, "create_time": self.create_time, "log": self.log}


@dataclass(frozen=True)
class Launch:
    """How to start one process: what a start, and a restart, repeats."""

    role: str
    command: list[str]
    env: dict[str, str]
    log: Path

    def start(self) -> Child:
        """Spawn it (see :func:`spawn`)."""
        return spawn(self.role, self.command, self.log, self.env)


def spawn(role: str, command: list[str], log_path: Path, env: dict[str, str]) -> Child:
    """Start ``command`` in its own session (our terminal's Ctrl-C does not reach it), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        except OSError as error:
            raise LabError(f"cannot start {role} ({command[0]}): {error}") from None
    _spawned[process.pid] = process
    try:
        created = psutil.Process(process.pid).create_time()
    except psutil.Error:  # already gone: a Child that never runs
        created = 0.0
    child = Child(role, process.pid, created, str(log_path))
    _children[process.pid] = child
    return child


def spawned() -> list[Child]:
    """Every process this process started that still runs (a last sweep before exiting)."""
    return [child for child in _children.values() if is_running(child)]


def exit_status(child: Child) -> int | None:
    """The exit status of a process this process started (negative: killed by that signal); None if unknown."""
    process = _spawned.get(child.pid)
    return None if process is None else process.poll()


def describe_exit(status: int | None) -> str:
    """``exited with code 1`` / ``killed by SIGKILL`` / ``exited`` (status unknown)."""
    if status is None:
        return "exited"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with code {status}"


def is_running(child: Child) -> bool:
    """True if the PID still belongs to the process we started and it has not exited (a zombie has)."""
    if child.pid in _spawned and _spawned[child.pid].poll() is not None:
        return False  # ours, exited, and now reaped
    try:
        process = psutil.Process(child.pid)
        return process.create_time() == child.create_time and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _family(child: Child) -> list[psutil.Process]:
    """The process and its descendants (a prefork worker's pool processes), if it is still ours."""
    if not is_running(child):
        return []
    try:
        process = psutil.Process(child.pid)
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _alive(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        if process.pid in _spawned:
            return _spawned[process.pid].poll() is None
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return False


def _signal_each(processes: Iterable[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running():  # psutil checks the start time: never a reused PID
                process.send_signal(sig)


def _wait_gone(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Poll until every process has exited (a zombie counts as exited); return the ones still alive."""
    deadline = time.monotonic() + timeout_s
    alive = [p for p in processes if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = [p for p in alive if _alive(p)]
    return alive


def stop_all(children: Iterable[Child], grace_s: float = DEFAULT_GRACE_S) -> list[Child]:
    """Stop these processes together: SIGTERM (Celery's warm shutdown), SIGKILL what is left after ``grace_s``.

    Descendants are found before the signal (a prefork worker's pool processes) and killed if they outlive
    their parent. Works whether or not they are our children; never raises. Returns those that were running.
    """
    running = [child for child in children if is_running(child)]
    families = {child.pid: _family(child) for child in running}
    _signal_each([family[0] for family in families.values() if family], signal.SIGTERM)
    leaders = _wait_gone([family[0] for family in families.values() if family], grace_s)
    _signal_each(leaders, signal.SIGKILL)
    _wait_gone(leaders, KILL_WAIT_S)
    leftovers = [p for family in families.values() for p in family[1:] if _alive(p)]
    _signal_each(leftovers, signal.SIGKILL)
    _wait_gone(leftovers, KILL_WAIT_S)
    for child in running:  # collect the exit status of our own, so none stays a zombie
        if child.pid in _spawned:
            _spawned[child.pid].poll()
        kill_leftovers(child)
    return running


def kill_leftovers(child: Child) -> None:
    """SIGKILL what is left of a dead child's session (e.g. a killed prefork worker's pool processes).

    Each child leads its own process group (:func:`spawn`), and the kernel does not hand out a group's
    number again while a member lives, so this reaches only what the child left behind.
    """
    if child.pid not in _children or is_running(child):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)


def stop(child: Child, grace_s: float = DEFAULT_GRACE_S) -> None:
    """Stop one process (see :func:`stop_all`)."""
    stop_all([child], grace_s)


def http_answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    """True if ``url`` answers with a status below 500 within a second."""
    try:
        return requests.get(url, timeout=1, auth=auth).status_code < 500
    except requests.RequestException:
        return False


def wait_for_http(url: str, timeout_s: float, child: Child | None = None, auth: tuple[str, str] | None = None) -> None:
    """Poll ``url`` until it answers; raise :class:`LabError` when ``child`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not http_answers(url, auth):
        if child is not None and not is_running(child):
            raise LabError(f"{child.role} exited before {url} answered; see {child.log}")
        if time.monotonic() > deadline:
            raise LabError(f"{url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running_service(
    role: str, command: list[str], log_path: Path, env: dict[str, str], ready_url: str, timeout_s: float = 30.0
) -> Iterator[Child]:
    """Start ``command``, yield once ``ready_url`` answers, and stop it by PID on exit."""
    child = spawn(role, command, log_path, env)
    try:
        wait_for_http(ready_url, timeout_s, child)
        yield child
    finally:
        stop(child)


def signal_pid(child: Child, sig: int) -> bool:
    """Send ``sig`` to the process if it is still the one we recorded; False if it is gone."""
    if not is_running(child):
        return False
    try:
        os.kill(child.pid, sig)
    except ProcessLookupError:
        return False
    return True
