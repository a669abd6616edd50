"""The lab's settings: one typed object, read from ``LAB_*`` environment variables (the only place that does)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Which Celery runs: ``stock`` (plain Celery and kombu) or ``lab`` (the lab's transport and consumer).
CeleryMode = Literal["stock", "lab"]
#: RabbitMQ queue type of the lab's queues (``LAB_RABBITMQ_QUEUE_TYPE``).
QueueType = Literal["classic", "quorum"]


class LabSettings(BaseSettings):
    """Every tunable of the lab. Environment variable = ``LAB_`` + field name in upper case."""

    model_config = SettingsConfigDict(env_prefix="LAB_", frozen=True, extra="ignore")

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = "redis://127.0.0.1:6379/1"

    catalogue_extensions: str = Field(
        "",
        description="comma-separated modules that add workloads or pools to "
        "config/catalogue.py when imported (loaded by workers and the producer)",
    )
    cpu_concurrency: int = Field(0, ge=0, description="0 = number of cores")
    io_concurrency: int = Field(64, ge=1)
    async_concurrency: int = Field(256, ge=1, description="coroutines in flight in an asyncio worker (its -c)")
    asyncio_trace_threads: int = Field(
        8, ge=1, description="threads that run Celery's tracer (result write, ack, events) for the asyncio pool"
    )
    asyncio_shutdown_grace_s: float = Field(
        10.0,
        ge=0,
        description="on warm shutdown, how long the asyncio pool waits for tasks in flight; "
        "the rest stay unacknowledged and are redelivered",
    )
    prefetch_multiplier: int = Field(4, ge=1)

    target_host: str = "127.0.0.1"
    target_port: int = Field(8089, ge=1, le=65535)
    target_url: str = ""
    allowed_hosts: str = "127.0.0.1,localhost,target"

    max_count: int = Field(100_000, ge=1)
    max_cpu_size: int = Field(200_000, ge=1)
    max_nogil_kib: int = Field(262_144, ge=1)
    max_io_ms: int = Field(60_000, ge=0)
    max_arg_bytes: int = Field(4096, ge=64)
    task_modules: str = Field(
        "",
        description="comma-separated modules or packages whose functions `--task` may run "
        "(a module is allowed when it is one of them or lies under one; empty = none)",
    )
    max_result_bytes: int = Field(65_536, ge=64, description="cap on a user task's JSON-encoded result")
    max_task_args_bytes: int = Field(65_536, ge=64, description="cap on the JSON of a user task's args + kwargs")
    http_timeout_s: float = Field(10.0, gt=0)

    visibility_timeout_s: int = Field(3600, ge=1)
    result_expires_s: int = Field(3600, ge=1)
    cpu_soft_time_limit_s: float = Field(300.0, gt=0)
    cpu_hard_time_limit_s: float = Field(330.0, gt=0)
    broker_connect_timeout_s: float = Field(3.0, gt=0)
    publish_retries: int = Field(5, ge=0)
    task_events: bool = True
    celery_mode: CeleryMode = Field(
        "lab",
        description="stock: plain Celery and kombu; lab: the lab's Redis transport and consumer "
        "(guards and speed-ups, worker/lab_transport.py, worker/lab_consumer.py; see config/celery_mode.py)",
    )
    lab_mode_tested: str = Field(
        "",
        description="Celery/kombu minors the lab mode accepts, e.g. "
        "'celery=5.7,kombu=5.7' (empty = the tested ones in config/celery_mode.py)",
    )
    task_log: bool = Field(False, description="Celery's per-task INFO lines (received, succeeded) in worker logs")
    execution_log: bool = Field(False, description="record every task execution in Redis (fault tests)")
    republish_rounds: int = Field(1, ge=0, description="re-publish tasks the broker provably lost (0 = never)")
    outage_retry_s: float = Field(
        60.0,
        ge=0,
        description="seconds the producer keeps retrying through a broker "
        "or result-backend outage (publishing, collecting, recovery, watch)",
    )

    flower_host: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_user: str = "admin"
    flower_password: str = ""

    state_dir: Path = Path(".lab")
    results_dir: Path = Path("results")
    freethreaded_python: str = Field("", description="the free-threaded Python of threads_nogil (else auto-detected)")
    pool_label: str = Field("", description="overrides the pool name results report, e.g. threads_nogil")
    freethreaded_venv: Path = Field(
        Path.home() / ".cache" / "concurrency-lab" / "venv-3.13t",
        description="where `make pythons` (or `make freethreaded`) puts the 3.13t venv (auto-detected)",
    )
    py313_python: str = Field(
        "", description="the default-build CPython 3.13 of the interpreters pool (else auto-detected)"
    )
    py313_venv: Path = Field(
        Path.home() / ".cache" / "concurrency-lab" / "venv-3.13",
        description="where `make pythons` puts the 3.13 venv (auto-detected)",
    )
    worker_ready_timeout_s: float = Field(60.0, gt=0)
    broker_max_connections: int = Field(
        512,
        ge=10,
        description="Redis connections per worker channel pool "
        "(opened on demand; kombu's default 10 is too few for gevent -c 64)",
    )

    broker_heartbeat_s: int = Field(
        60,
        ge=0,
        description="AMQP heartbeat (seconds; 0 = off): a silent dead peer is noticed after about twice this",
    )
    rabbitmq_queue_type: QueueType = Field(
        "classic",
        description="RabbitMQ queue type of the lab's queues: classic (durable, one node) or quorum (Raft log)",
    )
    rabbitmq_api_url: str = Field(
        "",
        description="RabbitMQ management API (e.g. http://rabbitmq:15672/) for unacknowledged counts; "
        "credentials from LAB_BROKER_URL",
    )
    rabbitmq_management_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="the stack's private RabbitMQ node: management UI/API on 127.0.0.1 here (0 = none)",
    )
    redis_broker_url: str = Field(
        "",
        description="the Redis broker `--broker redis` measures on when LAB_BROKER_URL is RabbitMQ "
        "(default: the result backend's Redis server, database 0)",
    )
    rabbitmq_url: str = Field(
        "",
        description="the RabbitMQ `--broker rabbitmq` measures on when LAB_BROKER_URL is Redis (default: the "
        "stack's private node if it answers, else a private node started for the run and stopped after it)",
    )
    rabbitmq_node_dir: str = Field(
        "",
        description="directory of a private RabbitMQ node the lab started (node.json: node name, Erlang cookie), "
        "asked with rabbitmqctl for unacknowledged counts; default <state dir>/rabbitmq",
    )

    @field_validator("cpu_hard_time_limit_s")
    @classmethod
    def _hard_limit_above_soft(cls, hard: float, info: ValidationInfo) -> float:
        # Celery's prefork pool arms the hard timer only when the soft one fires: a soft limit at or
        # above the hard one means no hard limit at all (measured: tests/test_time_limits.py).
        soft = info.data.get("cpu_soft_time_limit_s")
        if soft is not None and soft >= hard:
            raise ValueError(f"must be above LAB_CPU_SOFT_TIME_LIMIT_S ({soft:g} s)")
        return hard

    @property
    def effective_target_url(self) -> str:
        """The latency target's base URL: explicit ``LAB_TARGET_URL`` or built from host and port."""
        return self.target_url or f"http://{self.target_host}:{self.target_port}/"

    @property
    def allowed_host_set(self) -> frozenset[str]:
        """Hosts that I/O tasks may reach; anything else is refused by producer and task alike."""
        return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    @property
    def broker_is_amqp(self) -> bool:
        """True when the broker is RabbitMQ (an ``amqp://`` / ``amqps://`` / ``pyamqp://`` URL), else Redis."""
        return self.broker_url.split("://", 1)[0].lower() in ("amqp", "amqps", "pyamqp")

    @property
    def rabbitmq_node_path(self) -> Path:
        """Where the private RabbitMQ node's files (and its node.json) are: the setting, or ``<state dir>/rabbitmq``."""
        return Path(self.rabbitmq_node_dir) if self.rabbitmq_node_dir else self.state_dir / "rabbitmq"

    @property
    def task_module_list(self) -> tuple[str, ...]:
        """The modules and packages ``LAB_TASK_MODULES`` allows user tasks from."""
        return tuple(part.strip() for part in self.task_modules.split(",") if part.strip())

    @property
    def cpu_workers(self) -> int:
        """Concurrency of the prefork CPU worker: the setting, or the number of cores."""
        return self.cpu_concurrency or (os.cpu_count() or 1)


@lru_cache(maxsize=1)
def get_settings() -> LabSettings:
    """The process-wide settings, read once from the environment."""
    return LabSettings()
