"""Ride out a broker or result-backend outage: retry an operation until Redis answers again or a bound passes.

Measured (issue 11): Redis on a private port with AOF, ``submit --workload io_sleep --count 3000``, Redis
shut down 3 s in and started 3 s later. The workers reconnected and stored all 3,000 results, but the
producer's next ``MGET`` raised ``ConnectionError`` and it exited 1 with no summary. Every producer phase
(publishing, collecting, recovery, lost-task detection, watch's event stream) now goes through one
:class:`OutageGuard`: it says once on stderr that the broker is unreachable and for how long it will
retry (``LAB_OUTAGE_RETRY_S``), says when it is back, and after the bound raises :class:`OutageTooLong`,
one line and exit 1. An outage spanning several phases is one outage: one guard per batch.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from amqp.exceptions import RecoverableConnectionError
from kombu.exceptions import OperationalError

from producer.errors import LabError

T = TypeVar("T")

#: What an unreachable or restarting broker raises: redis-py's connection and timeout errors (loading the
#: AOF after a restart is ``BusyLoadingError``, a ``ConnectionError``), py-amqp's (RabbitMQ shutting down:
#: ``ConnectionForced``), kombu's wrapper, the OS's own.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    RecoverableConnectionError,
    OperationalError,
    ConnectionError,
    TimeoutError,
)
#: Backoff between attempts: from the first to the last, doubling.
FIRST_WAIT_S, LONGEST_WAIT_S = 0.1, 2.0
_CREDENTIALS = re.compile(r"://[^/@\s]*@")


class OutageTooLong(LabError):
    """The broker or result backend stayed unreachable longer than ``LAB_OUTAGE_RETRY_S``."""


def _say_on_stderr(text: str) -> None:
    from producer.console import err  # rich's stderr console: prints above a live progress bar or table

    err.print(f"producer: {text}", markup=False, highlight=False)


def _reason(error: BaseException) -> str:
    """The error's first line, with any ``user:password@`` of a URL masked."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return _CREDENTIALS.sub("://***@", text)


class OutageGuard:
    """Retries operations through one outage at a time, for at most ``bound_s`` seconds per outage."""

    def __init__(self, bound_s: float | None = None, *, say: Callable[[str], None] = _say_on_stderr) -> None:
        if bound_s is None:
            from config.settings import get_settings

            bound_s = get_settings().outage_retry_s
        self.bound_s = bound_s
        self.say = say
        #: When the current outage began (monotonic), None while Redis answers.
        self.down_since: float | None = None
        self.what = "broker"
        #: Outages ridden out so far, and their total length.
        self.outages = 0
        self.downtime_s = 0.0

    def call(self, action: Callable[[], T], what: str = "broker") -> T:
        """``action()``, retried with backoff while it raises :data:`OUTAGE_ERRORS`, until the bound."""
        wait = FIRST_WAIT_S
        while True:
            try:
                result = action()
            except OUTAGE_ERRORS as error:
                self.failed(error, what)
                assert self.down_since is not None
                left = self.down_since + self.bound_s - time.monotonic()
                time.sleep(max(0.0, min(wait, left)))
                wait = min(wait * 2, LONGEST_WAIT_S)
                continue
            self.recovered()
            return result

    def failed(self, error: BaseException, what: str = "broker") -> None:
        """Note one failed attempt; raise :class:`OutageTooLong` once the outage has lasted ``bound_s``."""
        now = time.monotonic()
        if self.down_since is None:
            self.down_since, self.what = now, what
            if self.bound_s > 0:
                self.say(
                    f"{what} unreachable ({_reason(error)}); retrying for up to {self.bound_s:g} s (LAB_OUTAGE_RETRY_S)"
                )
        if now - self.down_since >= self.bound_s:
            raise OutageTooLong(
                f"{self.what} unreachable for {now - self.down_since:.1f} s, gave up "
                f"(LAB_OUTAGE_RETRY_S={self.bound_s:g}): {_reason(error)}"
            ) from None

    def recovered(self) -> None:
        """Note a successful operation: ends the current outage, if any, and says so."""
        if self.down_since is None:
            return
        lasted = time.monotonic() - self.down_since
        self.down_since = None
        self.outages += 1
        self.downtime_s += lasted
        self.say(f"{self.what} back after {lasted:.1f} s")
