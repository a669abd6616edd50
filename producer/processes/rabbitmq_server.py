"""A private RabbitMQ node: Debian's ``rabbitmq-server`` with its own name, ports, files and user; stopped by PID.

Everything the node has is its own: node name ``lab-<id>@localhost``, AMQP and distribution ports
(both on 127.0.0.1), no management listener unless asked, data (``RABBITMQ_MNESIA_BASE``), logs,
``rabbitmq.conf``, enabled-plugins file and an empty env file (so ``/etc/rabbitmq/rabbitmq-env.conf``,
the machine's node's, is never read), and an Erlang cookie in its own ``HOME``. The user and password
are generated. ``node.json`` (owner-only: it holds the password) records all of it, so a restart gets
the same node back (durable queues included) and ``rabbitmqctl`` can ask it for unacknowledged counts.

Debian's ``/usr/sbin/rabbitmq-server`` is a wrapper that runs the real script as the ``rabbitmq`` user
with the machine's directories; the lab runs the real script next to it. That script stays in the
foreground as a small ``sh`` that turns SIGTERM into a clean stop of its ``beam.smp`` child: stopping
the PID (producer/processes/children.py) stops both. epmd, the machine's Erlang port mapper, is shared
by every node on the machine and is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from kombu import Connection

from producer.errors import LabError
from producer.processes import children
from producer.processes.children import Child, Launch
from producer.processes.debian_packages import ensure_packages
from producer.processes.flower import write_private

#: Where Debian's package puts the real scripts (its /usr/sbin ones are wrappers that switch user).
DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
NODE_FILE = "node.json"
#: Keys of the environment that would point the node at another node's files or settings.
_FOREIGN_ENV = ("RABBITMQ_", "ERL_", "CONF_ENV_FILE")


@dataclass(frozen=True)
class RabbitNode:
    """One private node: where it serves, who may log in, and where its files are."""

    name: str
    amqp_port: int
    dist_port: int
    user: str
    password: str
    base: str
    management_port: int = 0

    @property
    def url(self) -> str:
        """The AMQP URL of its default virtual host."""
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.amqp_port}//"

    @property
    def management_url(self) -> str:
        """Its management API (empty without the management plugin)."""
        return f"http://127.0.0.1:{self.management_port}/" if self.management_port else ""

    @property
    def dir(self) -> Path:
        """The node's own directory."""
        return Path(self.base)

    def env(self) -> dict[str, str]:
        """The environment ``rabbitmq-server`` and ``rabbitmqctl`` need to find this node and only it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
        env.update(
            HOME=str(self.dir / "home"),
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONF_ENV_FILE=str(self.dir / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            # The distribution port on loopback only (Erlang listens on every interface by default).
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def save(self) -> None:
        """Write ``node.json``, readable by its owner only."""
        write_private(self.dir / NODE_FILE, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, base: Path) -> RabbitNode | None:
        """The node recorded in ``base``, or None."""
        try:
            return cls(**json.loads((base / NODE_FILE).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as error:
            raise LabError(f"{base / NODE_FILE} is not a RabbitMQ node record ({error}); delete it") from None


def scripts_dir() -> Path:
    """The directory of the real ``rabbitmq-server`` and ``rabbitmqctl`` scripts (not Debian's su wrappers)."""
    found = shutil.which("rabbitmq-server")
    candidates = [DEBIAN_SCRIPTS]
    if found:
        real = Path(found).resolve()
        candidates.insert(0 if real.name == "rabbitmq-server" else 1, real.parent)
    for directory in candidates:
        if (directory / "rabbitmq-server").is_file() and (directory / "rabbitmqctl").is_file():
            return directory
    raise LabError("no rabbitmq-server installed (Debian: `apt-get install rabbitmq-server`)")


def ensure_rabbitmq_installed() -> Path:
    """The scripts' directory; installs Debian's ``rabbitmq-server`` with apt-get when missing and root."""
    try:
        return scripts_dir()
    except LabError:
        reason = ensure_packages({DEBIAN_SCRIPTS / "rabbitmq-server": "rabbitmq-server"})
        if reason:
            raise LabError(f"cannot start a private RabbitMQ node: {reason}") from None
        return scripts_dir()


def new_node(
    base: Path, amqp_port: int, dist_port: int, *, user: str = "", password: str = "", management_port: int = 0
) -> RabbitNode:
    """Create the files of a fresh node in ``base`` (any earlier node there is replaced) and record it."""
    if base.exists():
        shutil.rmtree(base)
    node = RabbitNode(
        f"lab-{uuid.uuid4().hex[:8]}@localhost",
        amqp_port,
        dist_port,
        user or f"lab-{secrets.token_hex(3)}",
        password or secrets.token_urlsafe(18),
        str(base.resolve()),
        management_port,
    )
    for sub in ("home", "mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    write_private(base / "home" / ".erlang.cookie", secrets.token_hex(20).upper())
    (base / "rabbitmq-env.conf").write_text("# the lab's private node: nothing from /etc/rabbitmq\n")
    plugins = "[rabbitmq_management]." if management_port else "[]."
    (base / "enabled_plugins").write_text(plugins + "\n")
    config = [
        f"listeners.tcp.1 = 127.0.0.1:{amqp_port}",
        f"default_user = {node.user}",
        f"default_pass = {node.password}",
    ]
    if management_port:
        config += ["management.tcp.ip = 127.0.0.1", f"management.tcp.port = {management_port}"]
    write_private(base / "rabbitmq.conf", "\n".join(config))
    node.save()
    return node


def node_launch(node: RabbitNode, role: str = "rabbitmq") -> Launch:
    """How to start (and restart) the node: the real ``rabbitmq-server`` script, in the foreground."""
    script = ensure_rabbitmq_installed() / "rabbitmq-server"
    return Launch(role, [str(script)], node.env(), node.dir / "log" / "server.log")


def amqp_answers(url: str, timeout_s: float = 1.0) -> bool:
    """True if an AMQP broker at ``url`` accepts a connection (with its credentials) within ``timeout_s``."""
    try:
        with Connection(url, connect_timeout=timeout_s) as connection:
            connection.connect()
            return True
    except Exception:  # refused, reset, bad credentials, malformed URL: it does not answer for us
        return False


def wait_for_node(node: RabbitNode, child: Child, wait_s: float) -> None:
    """Poll until the node accepts AMQP connections; raise :class:`LabError` if ``child`` exits or time runs out."""
    deadline = time.monotonic() + wait_s
    while not amqp_answers(node.url, 1.0):
        if not children.is_running(child):
            status = children.describe_exit(children.exit_status(child))
            raise LabError(f"rabbitmq-server {status} (see {child.log} and {node.dir / 'log'})")
        if time.monotonic() > deadline:
            raise LabError(
                f"the RabbitMQ node {node.name} did not answer within {wait_s:.0f} s (see {node.dir / 'log'})"
            )
        time.sleep(0.2)


def start_node(node: RabbitNode, wait_s: float = 90.0) -> Child:
    """Start ``node`` (own session) and wait until it accepts AMQP connections; stopped by PID on failure."""
    child = node_launch(node).start()
    try:
        wait_for_node(node, child, wait_s)
    except BaseException:
        children.stop(child)
        raise
    return child


def rabbitmqctl(node: RabbitNode, *args: str, timeout_s: float = 30.0) -> str:
    """``rabbitmqctl -n NODE ARGS`` with the node's cookie; its output, or :class:`LabError` with one line."""
    command = [str(scripts_dir() / "rabbitmqctl"), "-q", "-n", node.name, *args]
    try:
        done = subprocess.run(command, env=node.env(), capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LabError(f"rabbitmqctl {args[0] if args else ''}: {error}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise LabError(f"rabbitmqctl {args[0] if args else ''} failed: {lines[0]}")
    return done.stdout
