"""The latency target: an asyncio HTTP service that answers ``GET /?ms=N`` after N milliseconds.

Asynchronous and with a large listen backlog, so that 64+ concurrent requests wait on the timer,
not on the server (a stdlib ThreadingHTTPServer with its backlog of 5 was the bottleneck here).
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

MAX_DELAY_MS = 60_000
LISTEN_BACKLOG = 4096


async def _delayed(request: web.Request) -> web.Response:
    try:
        ms = int(request.query.get("ms", "0"))
    except ValueError:
        return web.Response(status=400, text="ms must be an integer\n")
    if not 0 <= ms <= MAX_DELAY_MS:
        return web.Response(status=400, text=f"ms must be in 0..{MAX_DELAY_MS}\n")
    if ms:
        await asyncio.sleep(ms / 1000.0)
    return web.Response(text="ok\n")


async def _health(_: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def build_app() -> web.Application:
    """The aiohttp application: ``/`` delays, ``/healthz`` answers at once."""
    app = web.Application()
    app.router.add_get("/", _delayed)
    app.router.add_get("/healthz", _health)
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    options = parser.parse_args(argv)
    web.run_app(
        build_app(),
        host=options.host,
        port=options.port,
        backlog=LISTEN_BACKLOG,
        access_log=None,
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
