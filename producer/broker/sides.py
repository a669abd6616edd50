"""``--broker redis,rabbitmq``: the brokers one measurement runs on, each with its settings and Celery app.

The broker ``LAB_BROKER_URL`` names runs on the environment's app. The other one comes from
``LAB_REDIS_BROKER_URL`` / ``LAB_RABBITMQ_URL``; unset, Redis is the result backend's server
(database 0) and RabbitMQ the stack's private node if it answers, else a private node started for
this run (its own name, ports and files under the state directory) and stopped by PID after it.
Each side gets its own app (:func:`worker.apps.app_for`) and settings, so workers started for it,
batches, purges, pending and lost-task counts all speak to that broker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import urlsplit, urlunsplit

from celery import Celery
from kombu import Connection

from config.settings import LabSettings
from producer.broker import BrokerKind, broker_kind, require_broker
from producer.errors import BadInput
from producer.processes import children
from producer.processes.rabbitmq_server import RabbitNode, amqp_answers, ensure_rabbitmq_installed, new_node, start_node
from producer.processes.redis_server import free_port, redact

#: Every broker ``--broker`` may name, in the order sides run.
BROKERS: tuple[BrokerKind, ...] = get_args(BrokerKind)


@dataclass
class BrokerSide:
    """One broker of a measurement: which, its settings (``broker_url`` set), its app, and where it came from."""

    kind: BrokerKind
    settings: LabSettings
    app: Celery
    origin: str

    @property
    def url(self) -> str:
        """The broker URL, password hidden."""
        return redact(self.settings.broker_url)


def parse_brokers(text: str) -> list[BrokerKind]:
    """The brokers ``--broker`` names (comma-separated, redis and/or rabbitmq); empty: [] (LAB_BROKER_URL's only)."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BROKERS]
    if unknown:
        raise BadInput(f"--broker takes {' and/or '.join(BROKERS)}, comma-separated; got {', '.join(unknown)}")
    return [kind for kind in BROKERS if kind in names]


def sides_label(sides: list[BrokerSide]) -> str:
    """How a record says which brokers ran: ``redis``, ``rabbitmq`` or ``redis,rabbitmq``."""
    return ",".join(side.kind for side in sides)


def _redis_url(settings: LabSettings) -> str:
    """``LAB_REDIS_BROKER_URL``, else the result backend's Redis server, database 0."""
    if settings.redis_broker_url:
        return settings.redis_broker_url
    parts = urlsplit(settings.result_backend)
    return urlunsplit(parts._replace(path="/0"))


def _private_node(stack: contextlib.ExitStack, settings: LabSettings) -> tuple[str, str, str]:
    """A private RabbitMQ node for this run only: (URL, its directory, origin); stopped by PID with ``stack``."""
    ensure_rabbitmq_installed()
    base = settings.state_dir / f"rabbitmq-run-{os.getpid()}"
    stack.callback(shutil.rmtree, base, True)
    node = new_node(base, free_port(), free_port())
    child = start_node(node)
    stack.callback(children.stop, child)
    return node.url, str(base), f"a private node started for this run ({node.name}, pid {child.pid})"


def _rabbitmq(stack: contextlib.ExitStack, settings: LabSettings) -> tuple[str, str, str]:
    """(URL, node directory or "", origin) of the RabbitMQ to measure on."""
    if settings.rabbitmq_url:
        return settings.rabbitmq_url, settings.rabbitmq_node_dir, "LAB_RABBITMQ_URL"
    node = RabbitNode.load(settings.rabbitmq_node_path)
    if node is not None and amqp_answers(node.url, settings.broker_connect_timeout_s):
        return node.url, str(settings.rabbitmq_node_path), f"the stack's private node ({node.name})"
    return _private_node(stack, settings)


def _other_side(stack: contextlib.ExitStack, settings: LabSettings, kind: BrokerKind) -> BrokerSide:
    from worker.apps import app_for

    if kind == "redis":
        url, node_dir = _redis_url(settings), settings.rabbitmq_node_dir
        origin = "LAB_REDIS_BROKER_URL" if settings.redis_broker_url else "the result backend's Redis, database 0"
    else:
        url, node_dir, origin = _rabbitmq(stack, settings)
    other = settings.model_copy(update={"broker_url": url, "rabbitmq_node_dir": node_dir})
    require_broker(other)
    return BrokerSide(kind, other, app_for(other), origin)


@contextlib.contextmanager
def broker_sides(app: Celery, settings: LabSettings, kinds: list[BrokerKind]) -> Iterator[list[BrokerSide]]:
    """A side per broker in ``kinds`` (none: LAB_BROKER_URL's only); a node started for the run is stopped on exit."""
    current = broker_kind(settings)
    with contextlib.ExitStack() as stack:
        sides = [
            BrokerSide(kind, settings, app, "LAB_BROKER_URL") if kind == current else _other_side(stack, settings, kind)
            for kind in kinds or [current]
        ]
        yield sides


def server_version(side: BrokerSide) -> str | None:
    """The broker server's version, as it reports it (None if it does not say)."""
    try:
        if side.kind == "redis":
            import redis

            with redis.Redis.from_url(side.settings.broker_url, socket_connect_timeout=2) as client:
                return str(client.info("server").get("redis_version")) or None
        with Connection(side.settings.broker_url, connect_timeout=2) as connection:
            connection.connect()
            properties: dict[str, Any] = connection.connection.server_properties
            version = properties.get("version")
            return version.decode() if isinstance(version, bytes) else (str(version) if version else None)
    except Exception:  # a version is a label; not being able to read it does not stop a measurement
        return None


def describe(side: BrokerSide) -> dict[str, Any]:
    """A record's ``brokers`` entry: which broker, where (password hidden), where it came from, its version."""
    return {"kind": side.kind, "url": side.url, "origin": side.origin, "server_version": server_version(side)}
