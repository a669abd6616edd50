"""How many of a RabbitMQ queue's messages are delivered but unacknowledged: AMQP itself cannot say.

A passive ``queue.declare`` answers *ready* messages and consumers only. The unacknowledged count
comes from one of:

- the **management API** (``LAB_RABBITMQ_API_URL``; compose's ``rabbitmq:3-management``), with the
  broker URL's credentials. Its figures are refreshed every 5 s (RabbitMQ's statistics interval);
- **rabbitmqctl** for a private node the lab started (``node.json`` in ``LAB_RABBITMQ_NODE_DIR``, the
  stack's or the tests'; no plugin needed). It asks the queue itself: exact, ~0.5 s of CPU a call, so
  answers are reused for :data:`MAX_AGE_S`;
- neither: unknown (``None``), and a queue with consumers is taken to hold the unfinished tasks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import requests
from kombu import Connection

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes.rabbitmq_server import RabbitNode, rabbitmqctl

#: How long an unacknowledged count is reused before it is asked for again (seconds).
MAX_AGE_S = 2.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class UnackedSource(Protocol):
    """Something that can count a queue's unacknowledged messages."""

    #: Named in docs and notes: ``management API`` or ``rabbitmqctl``.
    name: str

    def unacked(self, queue: str) -> int | None:
        """The count, or None when it could not be read just now."""
        ...


class ManagementApi:
    """``GET /api/queues/<vhost>/<queue>`` of the management plugin."""

    name = "management API"

    def __init__(self, api_url: str, user: str, password: str, vhost: str, timeout_s: float) -> None:
        self.base = api_url.rstrip("/")
        self.auth = (user, password)
        self.vhost, self.timeout_s = vhost, timeout_s

    def unacked(self, queue: str) -> int | None:
        """``messages_unacknowledged`` (absent until the first statistics tick: 0); a missing queue has 0."""
        url = f"{self.base}/api/queues/{quote(self.vhost, safe='')}/{quote(queue, safe='')}"
        try:
            answer = requests.get(url, auth=self.auth, timeout=self.timeout_s)
        except requests.RequestException:
            return None
        if answer.status_code == 404:
            return 0
        if not answer.ok:
            return None
        return int(answer.json().get("messages_unacknowledged", 0) or 0)


class NodeCtl:
    """``rabbitmqctl list_queues`` against a private node the lab started (its cookie, its name)."""

    name = "rabbitmqctl"

    def __init__(self, node: RabbitNode, vhost: str) -> None:
        self.node, self.vhost = node, vhost

    def unacked(self, queue: str) -> int | None:
        """The queue process's own count; a missing queue has 0."""
        try:
            out = rabbitmqctl(
                self.node, "list_queues", "-p", self.vhost, "name", "messages_unacknowledged", "--formatter", "json"
            )
            rows = json.loads(out or "[]")
        except (LabError, ValueError):
            return None
        return sum(int(row.get("messages_unacknowledged", 0) or 0) for row in rows if row.get("name") == queue)


class Cached:
    """Reuses a source's answers for ``max_age_s`` per queue (rabbitmqctl costs an Erlang VM start)."""

    def __init__(self, source: UnackedSource, max_age_s: float = MAX_AGE_S) -> None:
        self.source, self.max_age_s = source, max_age_s
        self.name = source.name
        self._seen: dict[str, tuple[float, int | None]] = {}

    def unacked(self, queue: str) -> int | None:
        """The source's count, at most ``max_age_s`` old."""
        at, value = self._seen.get(queue, (-1e18, None))
        if time.monotonic() - at > self.max_age_s:
            value = self.source.unacked(queue)
            self._seen[queue] = (time.monotonic(), value)
        return value


def private_node_for(url: str, node_dir: Path) -> RabbitNode | None:
    """The private node recorded in ``node_dir`` if ``url`` is it (local host, its AMQP port), else None."""
    parts = Connection(url)
    if parts.hostname not in LOCAL_HOSTS:
        return None
    try:
        node = RabbitNode.load(node_dir)
    except LabError:
        return None
    return node if node is not None and node.amqp_port == (parts.port or 5672) else None


def unacked_source(settings: LabSettings) -> UnackedSource | None:
    """The management API if configured, else rabbitmqctl for the lab's own node at the URL, else None."""
    parts = Connection(settings.broker_url)
    vhost = parts.virtual_host or "/"
    if settings.rabbitmq_api_url:
        api = ManagementApi(
            settings.rabbitmq_api_url,
            parts.userid or "guest",
            parts.password or "guest",
            vhost,
            settings.broker_connect_timeout_s,
        )
        return Cached(api)
    node = private_node_for(settings.broker_url, settings.rabbitmq_node_path)
    return Cached(NodeCtl(node, vhost)) if node is not None else None
