"""The ``async def`` workloads, as pure coroutine functions: no Celery here (the asyncio pool awaits them).

- ``io_http_async`` GETs the latency target with aiohttp: one ``ClientSession`` per event loop, reused
  by every task on that loop (keep-alive connections), as ``io_http`` keeps one ``requests.Session``
  per thread. A session belongs to its loop, so a loop that ends closes its own (:func:`close_sessions`).
- ``io_sleep_async`` awaits ``asyncio.sleep``: pure waiting, no thread held.

Waiting costs a coroutine here, not a thread: thousands of tasks can wait on one loop in one thread.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import aiohttp

Result = dict[str, Any]


class HttpError(Exception):
    """A failed HTTP call, said in words: aiohttp's own exceptions carry arguments (a connection key, a
    request info) that read as noise once a result backend stores them."""


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


def _session() -> aiohttp.ClientSession:
    """The running loop's session; the pool bounds the tasks in flight, so the connector does not (limit=0)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        _sessions[loop] = session
    return session


async def io_http_async(url: str, ms: int, timeout_s: float) -> Result:
    """GET ``url?ms=N`` from the latency target: the coroutine waits ``ms`` on the network."""
    # No redirects: an allow-listed host must not be able to bounce the worker to any other address.
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with _session().get(url, params={"ms": ms}, timeout=timeout, allow_redirects=False) as response:
            response.raise_for_status()
            body = await response.read()
    except TimeoutError:  # aiohttp's own timeout says nothing; the pool's time bound arrives as a cancellation
        raise TimeoutError(f"GET {url} got no answer within {timeout_s:g} s (LAB_HTTP_TIMEOUT_S)") from None
    except aiohttp.ClientError as error:
        raise HttpError(f"{type(error).__name__}: {error}") from None
    return {"status": response.status, "bytes": len(body)}


async def io_sleep_async(ms: int) -> Result:
    """Await ``ms`` milliseconds: pure waiting, no network."""
    await asyncio.sleep(ms / 1000.0)
    return {"slept_ms": ms}


async def close_sessions() -> None:
    """Close the running loop's session (call on that loop before it stops)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()
