"""`producer stack up` on an AMQP URL: a private RabbitMQ node when none answers, stopped by PID with the rest.

Each test has its own state directory, ports and node; the machine's RabbitMQ on 5672 is never used.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import psutil

from producer.processes.rabbitmq_server import RabbitNode, new_node
from producer.processes.redis_server import free_port
from tests.helpers import child_env
from tests.rabbitmq import results_url, skip_without_rabbitmq
from tests.test_stack import _family, _producer, _state, _survivors

ROLES = ["rabbitmq", "target", "worker-cpu", "worker-io", "flower"]


def test_a_node_has_its_own_name_ports_files_and_no_management_unless_asked(tmp_path: Path) -> None:
    node = new_node(tmp_path / "plain", 5999, 6999)
    env = node.env()
    config = (tmp_path / "plain" / "rabbitmq.conf").read_text()
    assert re.fullmatch(r"lab-[0-9a-f]{8}@localhost", node.name)
    assert "listeners.tcp.1 = 127.0.0.1:5999" in config and "management" not in config
    assert (tmp_path / "plain" / "enabled_plugins").read_text().strip() == "[]."
    assert env["RABBITMQ_DIST_PORT"] == "6999" and env["RABBITMQ_NODENAME"] == node.name
    assert env["RABBITMQ_CONF_ENV_FILE"].startswith(str(tmp_path)), "never /etc/rabbitmq/rabbitmq-env.conf"
    assert env["HOME"] == str((tmp_path / "plain" / "home").resolve()), "its own Erlang cookie"
    for secret in ("node.json", "rabbitmq.conf", "home/.erlang.cookie"):
        assert stat.S_IMODE((tmp_path / "plain" / secret).stat().st_mode) == 0o600, secret
    assert RabbitNode.load(tmp_path / "plain") == node
    managed = new_node(tmp_path / "managed", 5998, 6998, management_port=15999)
    assert "management.tcp.ip = 127.0.0.1" in (tmp_path / "managed" / "rabbitmq.conf").read_text()
    assert managed.management_url == "http://127.0.0.1:15999/"


def test_stack_up_on_a_silent_amqp_url_starts_a_private_node_and_down_stops_it(tmp_path: Path) -> None:
    skip_without_rabbitmq()
    port = free_port()
    env = child_env(
        LAB_BROKER_URL=f"amqp://127.0.0.1:{port}//",
        LAB_RESULT_BACKEND=results_url(13),
        LAB_STATE_DIR=str(tmp_path / "state"),
        LAB_TARGET_PORT=str(free_port()),
        LAB_FLOWER_PORT=str(free_port()),
        LAB_CPU_CONCURRENCY="1",
        LAB_IO_CONCURRENCY="4",
    )
    env.pop("LAB_RABBITMQ_NODE_DIR", None)
    up = _producer(env, "stack", "up", "--detach", timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        state = _state(env)
        assert [c["role"] for c in state["children"]] == ROLES
        family = _family(state)
        assert any(psutil.Process(pid).name() == "beam.smp" for pid in family if psutil.pid_exists(pid))
        found = re.search(r"export LAB_BROKER_URL='(amqp://[^']+)'", up.stderr)
        assert found, up.stderr
        node = RabbitNode.load(tmp_path / "state" / "rabbitmq")
        assert node is not None and found.group(1) == node.url and node.amqp_port == port
        assert "lab's transport and its guards" in up.stderr and "Redis-only" in up.stderr
        status = _producer(env, "stack", "status")
        assert status.returncode == 0 and "answers" in status.stderr, status.stderr
        refused = _producer(env, "submit", "--workload", "noop", "--count", "5")
        assert refused.returncode == 1 and "refused the credentials" in refused.stderr
        submitted = _producer(
            {**env, "LAB_BROKER_URL": node.url}, "submit", "--count", "30", "--workload", "noop", "--json"
        )
        assert submitted.returncode == 0, submitted.stderr
        assert json.loads(submitted.stdout)["completed"] == 30
    finally:
        down = _producer(env, "stack", "down", timeout=300)
    assert down.returncode == 0, down.stderr
    assert "rabbitmq" in down.stderr
    assert _survivors(family) == [], "the node (sh and beam.smp) stopped by PID with the rest"
    assert (tmp_path / "state" / "rabbitmq" / "mnesia").is_dir(), "its data stays for the next `stack up`"
