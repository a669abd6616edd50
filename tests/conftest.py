"""Session fixtures: a private redis-server on a free port, the latency target and real workers.

The environment is set in ``pytest_configure`` so that every module importing the Celery app sees
the private Redis. Nothing here touches the machine's shared Redis on 6379, nor its RabbitMQ on 5672:
the RabbitMQ tests use a private node (``rabbitmq``), started on first use.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from producer.processes import children as processes
from producer.processes.children import Child
from producer.processes.redis_server import RedisProcess, free_port, start_redis_server
from tests.helpers import running_target, running_worker
from tests.rabbitmq import PrivateRabbit, private_rabbit

_session: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Start the private Redis and point every LAB_* setting at it before any test module is imported."""
    if hasattr(config, "workerinput"):
        return
    tmp = Path(tempfile.mkdtemp(prefix="lab-tests-"))
    server = start_redis_server(free_port(), tmp / "redis")
    base = server.url.rsplit("/", 1)[0]
    os.environ.update(
        {
            "LAB_BROKER_URL": f"{base}/0",
            "LAB_RESULT_BACKEND": f"{base}/1",
            "LAB_TARGET_PORT": str(free_port()),
            "LAB_FLOWER_PORT": str(free_port()),
            "LAB_STATE_DIR": str(tmp / "state"),
            "LAB_RESULTS_DIR": str(tmp / "results"),
            "LAB_CPU_CONCURRENCY": "2",
            "LAB_IO_CONCURRENCY": "16",
        }
    )
    os.environ.pop("LAB_FLOWER_PASSWORD", None)
    _session.update(server=server, tmp=tmp)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the private Redis by its PID and remove its files."""
    server: RedisProcess | None = _session.get("server")
    if server is not None:
        processes.stop(server.child)
        shutil.rmtree(_session["tmp"], ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> RedisProcess:
    """The session's private redis-server."""
    return _session["server"]


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    """The session's private RabbitMQ node (own name, ports, files, user), stopped by PID at the end."""
    with private_rabbit(tmp_path_factory.mktemp("rabbitmq")) as server:
        yield server


@pytest.fixture(scope="session")
def settings() -> Any:
    """Settings as the tests' environment defines them."""
    from config.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def celery_app() -> Any:
    """The lab's Celery app, configured for the private Redis."""
    from worker.app import app

    return app


@pytest.fixture(scope="session")
def latency_target(settings: Any) -> Iterator[Child]:
    """The latency target on the session's target port."""
    with running_target(settings.target_port) as child:
        yield child


@pytest.fixture(scope="session")
def prefork_worker(celery_app: Any, latency_target: Child) -> Iterator[str]:
    """A prefork worker (-c 2) on the prefork queue; yields its node name."""
    with running_worker(celery_app, "prefork", 2, "prefork", name="test-prefork") as (_, hostname):
        yield hostname


@pytest.fixture(scope="session")
def threads_worker(celery_app: Any, latency_target: Child) -> Iterator[str]:
    """A threads worker (-c 16) on the threads queue; yields its node name."""
    with running_worker(celery_app, "threads", 16, "threads", name="test-threads") as (_, hostname):
        yield hostname


@pytest.fixture(scope="session")
def both_workers(prefork_worker: str, threads_worker: str) -> dict[str, str]:
    """Both standard workers, by pool."""
    return {"prefork": prefork_worker, "threads": threads_worker}
