"""The recommendation as commands to paste: the Celery worker line, and the compose scale when compose runs that pool.

The worker line is the one the trial ran (``roles.worker_args``: the pool's ``-P``, ``-c``, its queue, a
node name, the fast-start options), preceded by the environment it needs: which Celery
(``LAB_CELERY_MODE``), the pool's own (``PYTHON_GIL=0``, ``CELERY_CUSTOM_WORKER_POOL`` for a class-path
pool started as ``-P custom``) and the task's (``LAB_TASK_MODULES`` for a user's task). A pick on a
``--broker`` side names the broker it ran on (``LAB_BROKER_URL``, its password shown as ``***``), and its
compose scale the RabbitMQ override and profile (docker-compose.rabbitmq.yml) or the Redis file alone.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from config import catalogue
from config.settings import CeleryMode, LabSettings
from producer.advise.space import Config
from producer.processes import roles
from producer.processes.interpreters import interpreter_for
from producer.processes.redis_server import redact

#: The node name of the recommended worker (``-n advised@%h``; numbered when there are several).
NODE = "advised"
#: The compose files (and profile) that run the workers on each broker.
COMPOSE_BROKER = {
    "redis": "-f docker-compose.yml",
    "rabbitmq": "-f docker-compose.yml -f docker-compose.rabbitmq.yml --profile rabbitmq",
}


def _env_text(env: Mapping[str, str]) -> str:
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())


def worker_env(config: Config, mode: CeleryMode, task_env: Mapping[str, str], broker_url: str = "") -> dict[str, str]:
    """The environment the recommended worker needs: beyond the backend URL, and the broker's only when
    ``broker_url`` is given (a ``--broker`` pick; shown with its password as ``***``)."""
    entry = catalogue.pool(config.pool)
    broker = {"LAB_BROKER_URL": redact(broker_url)} if broker_url else {}
    return {**broker, "LAB_CELERY_MODE": mode, **entry.env, **entry.pool_option()[1], **task_env}


def worker_command(
    config: Config, mode: CeleryMode, settings: LabSettings, task_env: Mapping[str, str], broker_url: str = ""
) -> str:
    """``ENV… celery -A worker.app worker -P … -c … -Q …``: one worker process of the configuration."""
    entry = catalogue.pool(config.pool)
    pool_args = entry.pool_option()[0]
    name = f"{NODE}1" if config.workers > 1 else NODE
    args = roles.worker_args(pool_args[1], config.concurrency, entry.queue, name)
    python = interpreter_for(entry, settings) if entry.interpreter != "default" else None
    program = [python, "-m", "celery"] if python else ["celery"]
    return f"{_env_text(worker_env(config, mode, task_env, broker_url))} {shlex.join([*program, *args])}"


def compose_scale(config: Config, mode: CeleryMode, settings: LabSettings, task_env: Mapping[str, str]) -> str | None:
    """``… docker compose up -d --scale worker-io=N`` when a compose service runs this pool, else None.

    The compose workers (``roles.stack_workers``: worker-cpu, worker-io) read their slots from
    ``LAB_<NAME>_CONCURRENCY`` and the Celery mode from ``LAB_CELERY_MODE`` (docker-compose.yml); a
    ``--broker`` pick names the compose files (and profile) of its broker (:data:`COMPOSE_BROKER`).
    """
    files = f" {COMPOSE_BROKER[config.broker]}" if config.broker in COMPOSE_BROKER else ""
    for name, (pool, _) in roles.stack_workers(settings).items():
        if pool == config.pool:
            env = {"LAB_CELERY_MODE": mode, f"LAB_{name.upper()}_CONCURRENCY": str(config.concurrency), **task_env}
            return f"{_env_text(env)} docker compose{files} up -d --scale worker-{name}={config.workers}"
    return None


def how_to_run(config: Config) -> str | None:
    """For several worker processes: how to start them (each its own node name), else None."""
    if config.workers == 1:
        return None
    names = ", ".join(f"{NODE}{index}@%h" for index in range(1, config.workers + 1))
    return f"start {config.workers} such processes, each with its own -n ({names})"
