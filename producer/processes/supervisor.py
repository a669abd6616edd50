"""The local stack's supervisor: start the stack, restart what dies, stop everything when signalled.

Compose runs every service with ``restart: unless-stopped``; locally, this does the same. A process
that exits is started again with the same command line after a short backoff (0.1 s, doubling,
at most :attr:`RestartPolicy.max_delay_s`), said on the console ("worker-io killed by SIGKILL,
restarted (pid N)") and recorded in the state file, which `producer stack status` shows. A process
that dies more than :attr:`RestartPolicy.max_restarts` times within a minute is left stopped (a crash
loop is reported, not spun). The foreground `producer stack up` runs :func:`run_stack` itself;
``--detach`` runs ``python -m producer.processes.supervisor`` in its own session. SIGTERM, SIGINT or
SIGHUP stop the stack (workers get their warm shutdown) and end the supervisor.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil
from celery import Celery

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes import children as processes
from producer.processes import stack
from producer.processes.children import Child, Launch
from producer.processes.stack import Restarts, StackState

CHECK_EVERY_S = 0.5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass(frozen=True)
class RestartPolicy:
    """When a dead process is started again (compose's ``unless-stopped``, with systemd's burst limit)."""

    first_delay_s: float = 0.1
    max_delay_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 60.0

    def delay(self, recent: int) -> float:
        """The backoff before the next restart, given how many happened within the window."""
        return min(self.first_delay_s * 2**recent, self.max_delay_s)


class StopRequested(Exception):
    """A stop signal arrived while the stack was starting."""


class Supervisor:
    """Watches the stack's children; restarts a dead one under :class:`RestartPolicy`."""

    def __init__(
        self,
        settings: LabSettings,
        state: StackState,
        launches: list[Launch],
        say: Callable[[str], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self.settings, self.state, self.say = settings, state, say
        self.policy = policy or RestartPolicy()
        self.launches = {launch.role: launch for launch in launches}
        self.recent: dict[str, deque[float]] = {role: deque() for role in self.launches}
        self.due: dict[str, float] = {}

    def check(self) -> None:
        """One pass: note who died, restart those whose backoff has passed."""
        now = time.monotonic()
        for index, child in enumerate(self.state.children):
            record = self.state.restarts.setdefault(child.role, Restarts())
            if record.gave_up or processes.is_running(child):
                continue
            recent = self.recent[child.role]
            while recent and now - recent[0] > self.policy.window_s:
                recent.popleft()
            if child.role not in self.due:
                record.last_exit = processes.describe_exit(processes.exit_status(child))
                processes.kill_leftovers(child)
                if len(recent) >= self.policy.max_restarts:
                    record.gave_up = True
                    self.say(
                        f"{child.role} {record.last_exit}; not restarted: {len(recent)} restarts within "
                        f"{self.policy.window_s:.0f} s (see {child.log})"
                    )
                    self.state.save(stack.state_path(self.settings))
                    continue
                self.due[child.role] = now + self.policy.delay(len(recent))
            if now >= self.due[child.role]:
                del self.due[child.role]
                self.state.children[index] = self._restart(child, record)
                self.state.save(stack.state_path(self.settings))
                recent.append(now)

    def _restart(self, dead: Child, record: Restarts) -> Child:
        try:
            child = self.launches[dead.role].start()
        except LabError as error:
            self.say(f"{dead.role} {record.last_exit}; restart failed: {error}")
            return dead
        record.count += 1
        self.say(f"{dead.role} {record.last_exit}, restarted (pid {child.pid})")
        return child

    def all_gave_up(self) -> bool:
        """True when nothing is left to supervise."""
        return all(self.state.restarts.get(c.role, Restarts()).gave_up for c in self.state.children)


def run_stack(
    app: Celery,
    settings: LabSettings,
    password: str,
    on_up: Callable[[StackState], None],
    say: Callable[[str], None],
    policy: RestartPolicy | None = None,
) -> list[str]:
    """Start the stack, call ``on_up``, supervise until a stop signal, stop everything; return the roles stopped."""
    if stack.running_state(settings):
        raise LabError("the stack is already up (see `producer stack status`; stop it with `producer stack down`)")
    path = stack.state_path(settings)
    me = psutil.Process(os.getpid())
    state = StackState(
        broker_url=settings.broker_url,
        target_url=settings.effective_target_url,
        flower_url=f"http://{settings.flower_host}:{settings.flower_port}/",
        supervisor=Child("supervisor", me.pid, me.create_time(), ""),
    )
    stop = threading.Event()
    starting = True

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.set()
        if starting and first:  # waiting for readiness can take a minute: leave it at once (once)
            raise StopRequested

    previous = {sig: signal.signal(sig, _on_signal) for sig in STOP_SIGNALS}
    try:
        launches = stack.stack_launches(settings, password)
        stack.start_stack(app, settings, launches, state)
        starting = False
        state.status = "up"
        state.save(path)
        on_up(state)
        supervisor = Supervisor(settings, state, launches, say, policy)
        while not stop.wait(CHECK_EVERY_S):
            supervisor.check()
            if supervisor.all_gave_up():
                say("every process of the stack has stopped and is not restarted")
                break
        return _stop(state, path)
    except StopRequested:
        _stop(state, path)
        raise LabError("stopped while the stack was starting") from None
    except BaseException:
        _stop(state, path)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(state: StackState, path: Path) -> list[str]:
    """Stop every child; ignore further stop signals meanwhile (a second Ctrl-C must not leave orphans)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    state.status = "stopping"
    if state.children:
        state.save(path)
    stopped = stack.stop_children(state.children)
    processes.stop_all(processes.spawned())  # one a stop signal interrupted before it was recorded
    path.unlink(missing_ok=True)
    return stopped


def main() -> int:
    """``python -m producer.processes.supervisor``: the detached stack (`producer stack up --detach`)."""
    from config.settings import get_settings
    from producer.processes.flower import flower_password
    from worker.app import app

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    settings = get_settings()
    try:
        password, _ = flower_password(settings)  # `stack up --detach` created it and printed it if new
        stopped = run_stack(app, settings, password, lambda _: say("stack up"), say)
    except LabError as error:
        say(f"error: {error}")
        return error.exit_code
    say(f"stopped: {', '.join(stopped) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
