"""User tasks for the tests (``--task tests.user_tasks_sample:<name>``): one per behaviour the lab must tell apart."""

from __future__ import annotations

import functools
import hashlib
import os
import time
from os import getcwd as getcwd  # re-exported on purpose: defined elsewhere, so never runnable as a task
from pathlib import Path

# The tests see when (and whether) a worker imports this module: workers import user modules on first use.
if os.environ.get("USER_TASKS_SAMPLE_MARK"):
    Path(os.environ["USER_TASKS_SAMPLE_MARK"]).write_text(f"imported by {os.getpid()}\n")

#: Buffer hashed by :func:`release_gil`: hashlib releases the GIL for inputs over 2 KiB.
BUFFER_MIB = 8


def hold_gil(n: int = 1_000_000) -> int:
    """Pure-Python arithmetic: the GIL is held the whole time (~50 ms at the default on this machine)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


@functools.lru_cache(maxsize=1)
def _buffer() -> bytes:
    return bytes(range(256)) * (BUFFER_MIB * 4096)


def release_gil(rounds: int = 6) -> str:
    """SHA-256 over an 8 MiB buffer ``rounds`` times: the hashing runs outside the GIL."""
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(_buffer()).digest()
    return digest.hex()


def wait(ms: int = 50) -> int:
    """Sleep: the task waits, no CPU."""
    time.sleep(ms / 1000)
    return ms


def unencodable() -> set[int]:
    """A set: JSON has no sets."""
    return {1, 2, 3}


def too_big(chars: int = 100_000) -> str:
    """A result over the default LAB_MAX_RESULT_BYTES (65,536)."""
    return "x" * chars


def echo(*args: object, **kwargs: object) -> dict[str, object]:
    """What it was called with."""
    return {"args": list(args), "kwargs": kwargs}


async def coroutine(ms: int = 1) -> int:
    """An ``async def`` task: refused until a pool runs coroutines."""
    return ms


NOT_CALLABLE = 42
