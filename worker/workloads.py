"""The workloads under test, as pure functions: no Celery here, so the same code runs in-process,
under every Celery pool and in tests.

The GIL story in one place:
- ``cpu`` runs pure-Python big-integer arithmetic. It holds the GIL the whole time, so threads in one
  process take turns: only processes (prefork) use more than one core.
- ``cpu_nogil`` hashes and compresses a buffer. hashlib and zlib release the GIL on large buffers,
  so threads run on every core too.
- ``io_http`` and ``io_sleep`` wait. A waiting thread holds no GIL: many threads overlap their waits,
  while a prefork worker waits with only as many tasks as it has processes.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from typing import Any

import requests

#: Every result is small JSON; the seed's raw factorial for n=20,000 has more than 4,300 digits and
#: makes Celery fail when it serialises or repr()s it, so ``cpu`` returns a digest and a bit length.
Result = dict[str, Any]

_NOGIL_ROUNDS = 4
_thread_state = threading.local()


def cpu(n: int) -> Result:
    """The seed's product loop 1·2·…·n in pure Python (GIL held throughout)."""
    product = 1
    for i in range(1, n + 1):
        product *= i
    bits = product.bit_length()
    digest = hashlib.sha256(product.to_bytes((bits + 7) // 8 or 1, "big")).hexdigest()
    return {"bits": bits, "sha256": digest[:16]}


def cpu_nogil(kib: int) -> Result:
    """SHA-256 and zlib over a ``kib`` KiB buffer, ``_NOGIL_ROUNDS`` times (the GIL is released)."""
    buffer = bytes(range(256)) * (kib * 4)
    digest = hashlib.sha256()
    compressed = 0
    for _ in range(_NOGIL_ROUNDS):
        digest.update(buffer)
        compressed = len(zlib.compress(buffer, 1))
    return {"bytes": len(buffer) * _NOGIL_ROUNDS, "sha256": digest.hexdigest()[:16], "zlib_bytes": compressed}


def _session() -> requests.Session:
    """One keep-alive ``requests.Session`` per thread: sessions are not thread-safe to share."""
    session = getattr(_thread_state, "session", None)
    if session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _thread_state.session = session
    return session


def io_http(url: str, ms: int, timeout_s: float) -> Result:
    """GET ``url?ms=N`` from the latency target: the thread waits ``ms`` on the network."""
    # No redirects: an allow-listed host must not be able to bounce the worker to any other address.
    response = _session().get(url, params={"ms": ms}, timeout=timeout_s, allow_redirects=False)
    response.raise_for_status()
    return {"status": response.status_code, "bytes": len(response.content)}


def io_sleep(ms: int) -> Result:
    """Sleep ``ms`` milliseconds: pure waiting, no network."""
    time.sleep(ms / 1000.0)
    return {"slept_ms": ms}


def noop() -> Result:
    """Do nothing: measures the queue's own cost per task."""
    return {}
