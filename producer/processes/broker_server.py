"""The local stack's broker server: the one at ``LAB_BROKER_URL`` if it answers, else a private one started here.

Redis: a private ``redis-server`` on the URL's port (producer/processes/redis_server.py). RabbitMQ: a
private node of Debian's ``rabbitmq-server`` (producer/processes/rabbitmq_server.py) on the URL's port,
with the URL's user and password, or a generated user and password when the URL names none; its
``node.json`` (``<state dir>/rabbitmq``) keeps name, ports, credentials and data across stack restarts.
Either way only a local URL (127.0.0.1 or localhost) gets a server started for it.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from kombu import Connection

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes.children import Child, Launch
from producer.processes.rabbitmq_server import (
    RabbitNode,
    amqp_answers,
    ensure_rabbitmq_installed,
    new_node,
    node_launch,
    wait_for_node,
)
from producer.processes.redis_server import free_port, redact, redis_answers, redis_command, wait_for_redis

#: The stack's roles that are broker servers: stopped last, after the workers have finished.
BROKER_ROLES = ("redis", "rabbitmq")
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def private_rabbitmq(settings: LabSettings, answer_timeout_s: float = 2.0) -> RabbitNode | None:
    """The private node the stack starts for an AMQP URL that does not answer (created or reused); None if it answers.

    Reused when ``node.json`` records a node on the URL's port with the URL's credentials (or the URL
    has none); otherwise a new node: the URL's port, its user and password or generated ones.
    """
    if amqp_answers(settings.broker_url, answer_timeout_s):
        return None
    url = Connection(settings.broker_url)
    if url.hostname not in LOCAL_HOSTS:
        raise LabError(f"RabbitMQ at {redact(settings.broker_url)} does not answer and is not local; start it first")
    port = url.port or 5672
    base = settings.rabbitmq_node_path
    node = RabbitNode.load(base)
    named = (url.userid, url.password) if url.password else None
    if node is not None and node.amqp_port == port and named in (None, (node.user, node.password)):
        return node
    if not port_free(port):
        raise LabError(
            f"port {port} of LAB_BROKER_URL is taken by something that does not answer as this RabbitMQ "
            "(wrong credentials?); name a free port to get a private node there"
        )
    ensure_rabbitmq_installed()
    user, password = named or ("", "")
    management = settings.rabbitmq_management_port
    return new_node(base, port, free_port(), user=user, password=password, management_port=management)


def broker_launch(settings: LabSettings, env: dict[str, str]) -> Launch | None:
    """The broker server the stack must start, or None when the one at the URL answers."""
    if settings.broker_is_amqp:
        node = private_rabbitmq(settings)
        if node is None:
            return None
        if not Connection(settings.broker_url).password:
            raise LabError(
                "LAB_BROKER_URL names no password for the private RabbitMQ node (`producer stack up` sets it)"
            )
        return node_launch(node)
    if redis_answers(settings.broker_url):
        return None
    parts = urlsplit(settings.broker_url)
    if parts.hostname not in LOCAL_HOSTS or parts.password:
        raise LabError(f"Redis at {redact(settings.broker_url)} does not answer and is not local; start it first")
    data_dir = settings.state_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    return Launch("redis", redis_command(parts.port or 6379, data_dir), env, data_dir / "redis.log")


def wait_for_broker(settings: LabSettings, child: Child, wait_s: float) -> None:
    """Wait until the broker server ``child`` (redis or rabbitmq) answers at the URL."""
    if child.role == "rabbitmq":
        node = RabbitNode.load(settings.rabbitmq_node_path)
        if node is None:
            raise LabError(f"no RabbitMQ node recorded in {settings.rabbitmq_node_path}")
        wait_for_node(node, child, wait_s)
    elif child.role == "redis":
        wait_for_redis(settings.broker_url, child, wait_s)


def stack_broker_url(settings: LabSettings) -> str:
    """``LAB_BROKER_URL``; for an AMQP URL without a password, the private node's URL on its port, if recorded."""
    url = Connection(settings.broker_url) if settings.broker_is_amqp else None
    if url is None or url.password:
        return settings.broker_url
    node = RabbitNode.load(settings.rabbitmq_node_path)
    return node.url if node is not None and node.amqp_port == (url.port or 5672) else settings.broker_url


def broker_answers(settings: LabSettings) -> bool:
    """True if the stack's broker answers (for `stack status`)."""
    if settings.broker_is_amqp:
        return amqp_answers(stack_broker_url(settings), settings.broker_connect_timeout_s)
    return redis_answers(settings.broker_url, settings.broker_connect_timeout_s)
