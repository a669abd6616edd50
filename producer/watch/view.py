"""`producer watch`: live throughput from Celery's event stream (what Flower's counts do not show).

A background thread consumes the events every worker sends (``-E``, ``worker_send_task_events``,
``task_send_sent_event``) with :class:`celery.events.EventReceiver`, keeps worker liveness in
``app.events.State`` and feeds :class:`producer.rates.Throughput`; the main thread draws a rich ``Live``
table until ``--duration`` ends or Ctrl-C, then prints the final snapshot.

kombu's consumer loop reconnects after a broker outage forever and in silence (its warning carries a
traceback, its reconnect waits grow to 30 s). The receiver here reconnects through an
:class:`~producer.batch.outage.OutageGuard` instead: one line on stderr when the broker goes, one when it
is back, retries every ≤ 2 s, and after ``LAB_OUTAGE_RETRY_S`` the watch ends with one line and exit 1.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from celery import Celery
from celery.events.receiver import EventReceiver
from rich.console import Console
from rich.live import Live

from config.settings import LabSettings
from producer.batch.outage import OutageGuard
from producer.broker import require_broker
from producer.console import err, out
from producer.errors import BadInput, LabError
from producer.watch.rates import Snapshot, Throughput
from producer.watch.table import render
from worker.runtime import pool_name_of

READY_TIMEOUT_S = 10.0
POOL_RETRY_S = 3.0


class _Receiver(EventReceiver):
    """An event receiver that says when its queue is bound and rides out broker outages up to a bound."""

    ready: threading.Event
    outage: OutageGuard

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, wakeup: bool = True, **kwargs: Any
    ) -> None:
        super().on_consume_ready(connection, channel, consumers, wakeup=wakeup, **kwargs)
        self.ready.set()

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        """kombu calls this after each failed (re)connect: past the bound, the guard raises and the watch ends."""
        self.outage.failed(exc, "broker")

    def on_connection_revived(self) -> None:
        """Connected (again): ends the outage, if any, and says so."""
        self.outage.recovered()

    @contextlib.contextmanager
    def establish_connection(self) -> Iterator[Any]:
        """kombu's, with reconnect waits of at most 2 s (its default grows to 30 s)."""
        with self.create_connection() as connection:
            connection.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=0.1,
                interval_step=0.5,
                interval_max=2.0,
            )
            yield connection

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        """Consume until stopped; a lost connection is an outage to ride out (kombu's logs a traceback)."""
        errors = self.connection.connection_errors + self.connection.channel_errors
        while not self.should_stop:
            try:
                for _ in self.consume(limit=None, **kwargs):
                    pass
            except errors as error:
                self.outage.failed(error, "broker")


class EventWatcher:
    """Consumes the event stream in a daemon thread; :meth:`snapshot` is safe from any thread."""

    def __init__(self, app: Celery, window_s: float = 10.0, outage_retry_s: float | None = None) -> None:
        self.app = app
        self.outage = OutageGuard(outage_retry_s, say=_say_for_watch)
        self.board = Throughput(window_s=window_s, started_at=time.time())
        self.state = app.events.State(max_tasks_in_memory=1000)
        self.error: BaseException | None = None
        self.last_event_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._receiver: _Receiver | None = None
        self._threads = [
            threading.Thread(target=self._consume, name="watch-events", daemon=True),
            threading.Thread(target=self._resolve_pools, name="watch-pools", daemon=True),
        ]

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start consuming; return once the event queue is bound, or raise :class:`LabError`."""
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.1):
            if self.error is not None or time.monotonic() > deadline:
                self.stop()
                raise LabError(f"cannot consume Celery events: {self.error or 'event queue not ready in time'}")

    def stop(self) -> None:
        """Stop both threads (the consumer notices within its 0.25 s drain interval)."""
        self._stop.set()
        if self._receiver is not None:
            self._receiver.should_stop = True
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=5)

    def settle(self, quiet_s: float = 0.5, max_s: float = 3.0) -> None:
        """Wait until no event arrived for ``quiet_s`` (at most ``max_s``): late events get counted."""
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline and time.time() - self.last_event_at < quiet_s:
            time.sleep(0.05)

    def snapshot(self) -> Snapshot:
        """The current rows; workers are online while their heartbeats are fresh."""
        with self._lock:
            online = {name: bool(worker.alive) for name, worker in self.state.workers.items()}
            return self.board.snapshot(time.time(), online)

    def check(self) -> None:
        """Raise :class:`LabError` if the consumer thread died."""
        if self.error is not None:
            raise LabError(f"the event stream stopped: {self.error}")

    def _on_event(self, event: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self.state.event(event)
            self.board.record(event, now)
            self.last_event_at = now

    def _consume(self) -> None:
        try:
            with self.app.connection_for_read() as connection:
                receiver = _Receiver(connection, handlers={"*": self._on_event}, app=self.app)
                receiver.ready = self._ready
                receiver.outage = self.outage
                self._receiver = receiver
                if self._stop.is_set():
                    return
                receiver.run(safety_interval=0.25, wakeup=True)  # reconnects on broker errors
        except BaseException as error:  # surfaced to the main thread by check()
            self.error = error

    def _resolve_pools(self) -> None:
        """Ask new workers which pool they run, retrying every few seconds."""
        tried: dict[str, float] = {}
        while not self._stop.wait(0.3):
            with self._lock:
                unknown = self.board.workers_without_pool()
            due = [name for name in unknown if time.monotonic() - tried.get(name, -math.inf) > POOL_RETRY_S]
            for name in due:
                tried[name] = time.monotonic()
            if due:
                self.ask_pools(due)

    def ask_pools(self, names: list[str] | None = None) -> None:
        """``inspect stats`` of ``names`` (default: workers whose pool is unknown); errors are ignored."""
        if names is None:
            with self._lock:
                names = self.board.workers_without_pool()
        if not names:
            return
        try:
            replies = self.app.control.inspect(destination=names, timeout=1.0).stats() or {}
        except Exception:  # broker hiccup: the pool stays "?" and is asked again later
            return
        with self._lock:
            for name, stats in replies.items():
                implementation = (stats.get("pool") or {}).get("implementation", "")
                if implementation:
                    self.board.set_pool(name, pool_name_of(str(implementation)))


def _say_for_watch(text: str) -> None:
    err.print(f"producer: event stream: {text}", markup=False, highlight=False)


def check_options(window_s: float, duration_s: float | None, refresh_hz: float) -> None:
    """Bad values raise :class:`BadInput` (one line, exit 2)."""
    if not (math.isfinite(window_s) and 0 < window_s <= 3600):
        raise BadInput(f"--window must be between 0 and 3600 seconds, got {window_s}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise BadInput(f"--duration must be a positive number of seconds, got {duration_s}")
    if not (math.isfinite(refresh_hz) and 0 < refresh_hz <= 20):
        raise BadInput(f"--refresh must be between 0 and 20 per second, got {refresh_hz}")


def _wait(watcher: EventWatcher, duration_s: float | None) -> None:
    deadline = math.inf if duration_s is None else time.monotonic() + duration_s
    while time.monotonic() < deadline:
        watcher.check()
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_watch(
    app: Celery,
    settings: LabSettings,
    *,
    window_s: float = 10.0,
    duration_s: float | None = None,
    once: bool = False,
    as_json: bool = False,
    refresh_hz: float = 2.0,
    console: Console | None = None,
) -> Snapshot:
    """Watch until ``duration_s`` ends or Ctrl-C/SIGTERM; print the final table (or JSON) and return it.

    ``once`` draws no live view: it collects for ``duration_s`` (default: one window) and prints once.
    """
    check_options(window_s, duration_s, refresh_hz)
    if once and duration_s is None:
        duration_s = window_s
    require_broker(settings)
    live_console = console or err
    watcher = EventWatcher(app, window_s, settings.outage_retry_s)
    watcher.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        live_console.print(
            f"watching Celery events (window {window_s:g} s"
            + (f", for {duration_s:g} s" if duration_s else "")
            + "; Ctrl-C stops)"
        )
        if once or as_json:
            _wait(watcher, duration_s)
        else:
            with Live(
                get_renderable=lambda: render(watcher.snapshot()),
                console=live_console,
                refresh_per_second=refresh_hz,
                transient=True,
            ):
                _wait(watcher, duration_s)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    watcher.ask_pools()  # a worker first seen in the last moments still gets its pool in the final table
    snap = watcher.snapshot()
    if as_json:
        print(json.dumps(snap.as_dict(), indent=2))
    else:
        out.print(render(snap, final=True))
    return snap


@contextlib.contextmanager
def live_watch(
    app: Celery, settings: LabSettings, *, enabled: bool = True, window_s: float = 10.0, final: Console | None = out
) -> Iterator[EventWatcher | None]:
    """Show the live table while the body runs (``submit --watch``); then print the final one to ``final``."""
    if not enabled:
        yield None
        return
    require_broker(settings)
    watcher = EventWatcher(app, window_s, settings.outage_retry_s)
    watcher.start()
    try:
        with Live(get_renderable=lambda: render(watcher.snapshot()), console=err, refresh_per_second=2, transient=True):
            yield watcher
            watcher.settle()
    finally:
        watcher.stop()
    if final is not None:
        final.print(render(watcher.snapshot(), final=True))
