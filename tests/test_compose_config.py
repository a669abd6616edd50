"""docker-compose.yml validates (no engine needed) and runs what producer/roles.py runs locally.

`docker-compose config` resolves the file as compose will run it; each service's command is then
compared with the role functions the local stack uses, so the two deployments cannot drift.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import LabSettings
from producer.processes import roles
from producer.processes.flower import check_credentials
from tests.compose_cli import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    RABBITMQ_FILE,
    compose,
    compose_env,
    compose_program,
)

pytestmark = pytest.mark.skipif(
    compose_program() is None,
    reason="no docker-compose / `docker compose` to validate with (apt-get install docker-compose)",
)

SECRETS = {"REDIS_PASSWORD": "redis0pass", "LAB_FLOWER_PASSWORD": "flower0pass"}
FLOWER_ONLY = ("FLOWER_BASIC_AUTH", "LAB_FLOWER_PASSWORD")
APP_SERVICES = ("worker-cpu", "worker-io", "flower", "target", "producer")


def resolved(tmp_path: Path, *overrides: Path, **values: str) -> dict[str, Any]:
    """The compose file (and ``overrides``) as `docker-compose config` resolves it with ``values`` (only) set."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    profiles = ["--profile", "tools", "--profile", "rabbitmq"]
    done = compose([*profiles, "config"], compose_env(**values), env_file, project="labconfig", overrides=overrides)
    return yaml.safe_load(done.stdout)["services"]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Services resolved with the secrets and explicit worker concurrencies."""
    return resolved(tmp_path_factory.mktemp("compose"), LAB_CPU_CONCURRENCY="3", LAB_IO_CONCURRENCY="5", **SECRETS)


def lab_settings(**values: Any) -> LabSettings:
    """Settings as the containers see them: what docker-compose.yml sets, over the field defaults."""
    base = {name: field.default for name, field in LabSettings.model_fields.items()}
    return LabSettings(**{**base, **values})


def test_compose_file_has_no_version_key_and_the_required_images() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert "version" not in raw
    assert raw["services"]["redis"]["image"] == "redis:7-alpine"
    assert DOCKERFILE.read_text().splitlines()[1] == "FROM python:3.12-slim"


@pytest.mark.parametrize("missing", ["REDIS_PASSWORD", "LAB_FLOWER_PASSWORD"])
def test_compose_refuses_to_start_without_a_secret(tmp_path: Path, missing: str) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    values = {k: v for k, v in SECRETS.items() if k != missing}
    done = compose(["config", "-q"], compose_env(**values), env_file, project="labconfig", check=False)
    assert done.returncode != 0
    assert f"set {missing} in .env" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("service", "program", "args"),
    [
        ("worker-cpu", "celery", roles.cpu_worker_args(lab_settings(cpu_concurrency=3))),
        ("worker-io", "celery", roles.io_worker_args(lab_settings(io_concurrency=5))),
        ("flower", "celery", roles.flower_args(lab_settings(flower_host="0.0.0.0", flower_port=5555))),
        ("target", "python", roles.target_args(lab_settings(target_host="0.0.0.0", target_port=8089))),
    ],
)
def test_service_command_is_the_local_role(
    services: dict[str, Any], service: str, program: str, args: list[str]
) -> None:
    """Same pool, concurrency source, queue, node-name pattern and start options as the local stack."""
    assert services[service]["command"] == [program, *args]


def test_default_concurrency_is_the_local_default(tmp_path: Path) -> None:
    """Unset, worker-cpu gets -c 0 (Celery: cores, like LabSettings.cpu_workers) and worker-io -c 64."""
    services = resolved(tmp_path, **SECRETS)
    fields = LabSettings.model_fields

    def concurrency(service: str) -> str:
        command = services[service]["command"]
        return str(command[command.index("-c") + 1])

    assert concurrency("worker-cpu") == str(fields["cpu_concurrency"].default) == "0"
    assert lab_settings(cpu_concurrency=0).cpu_workers == lab_settings().cpu_workers >= 1
    assert concurrency("worker-io") == str(fields["io_concurrency"].default) == "64"


def test_image_default_command_is_the_cpu_worker() -> None:
    cmd_line = DOCKERFILE.read_text().split("\nCMD ", 1)[1].replace("\\\n", " ")
    assert json.loads(cmd_line) == ["celery", *roles.worker_args("prefork", 0, "prefork", "cpu")]


def test_image_runs_as_a_normal_user() -> None:
    users = [line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_app_services_reach_redis_with_the_password_and_the_target_by_name(services: dict[str, Any]) -> None:
    allowed = lab_settings().allowed_host_set
    for name in ("worker-cpu", "worker-io", "flower", "producer"):
        env = services[name]["environment"]
        assert env["LAB_BROKER_URL"] == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0"
        assert env["LAB_RESULT_BACKEND"] == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/1"
        assert env["LAB_TARGET_URL"] == "http://target:8089/"
    assert "target" in allowed


def test_flower_credentials_reach_flower_only(services: dict[str, Any]) -> None:
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == f"admin:{SECRETS['LAB_FLOWER_PASSWORD']}"
    check_credentials("admin", SECRETS["LAB_FLOWER_PASSWORD"])  # the local stack's rule holds here too
    for name in ("redis", "worker-cpu", "worker-io", "target", "producer"):
        env = services[name].get("environment") or {}
        assert not set(FLOWER_ONLY) & set(env), name


def test_redis_has_aof_a_password_a_healthcheck_and_no_host_port(services: dict[str, Any]) -> None:
    redis = services["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--requirepass") + 1] == SECRETS["REDIS_PASSWORD"]
    assert redis["healthcheck"]["test"]
    assert not redis.get("ports")
    for name in ("worker-cpu", "worker-io", "flower", "producer"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_flower_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    ports = services["flower"]["ports"]
    assert len(ports) == 1
    port = ports[0]
    if isinstance(port, str):  # v1: "127.0.0.1:5555:5555/tcp"
        assert port.startswith("127.0.0.1:5555:5555")
    else:  # v2: long syntax
        assert (port["host_ip"], str(port["published"]), int(port["target"])) == ("127.0.0.1", "5555", 5555)
    for name in ("redis", "worker-cpu", "worker-io", "target"):
        assert not services[name].get("ports"), name


def test_workers_scale_with_unique_names(services: dict[str, Any]) -> None:
    """No fixed container name or hostname: %h is each replica's own (unique) container hostname."""
    for name in ("worker-cpu", "worker-io"):
        service = services[name]
        assert "container_name" not in service and "hostname" not in service
        command = service["command"]
        assert command[command.index("-n") + 1].endswith("@%h")


def test_producer_is_a_tool_on_the_same_image(services: dict[str, Any]) -> None:
    producer = services["producer"]
    assert producer["profiles"] == ["tools"]
    assert producer["entrypoint"] == ["producer"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert images == {"concurrency-lab:latest"}


def test_env_example_documents_every_variable_and_holds_no_secret() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    used |= {arg for arg in yaml.safe_load(COMPOSE_FILE.read_text())["x-lab-image"]["build"]["args"]}
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert used <= set(example), used - set(example)
    assert example["REDIS_PASSWORD"] == "" and example["LAB_FLOWER_PASSWORD"] == ""


def test_the_example_env_file_as_is_is_refused() -> None:
    """Copied without setting the passwords, .env.example does not start anything."""
    done = compose(["config", "-q"], compose_env(), ENV_EXAMPLE, project="labconfig", check=False)
    assert done.returncode != 0
    assert (
        "set REDIS_PASSWORD in .env" in done.stdout + done.stderr
        or "set LAB_FLOWER_PASSWORD in .env" in done.stdout + done.stderr
    )


RABBIT_SECRETS = {**SECRETS, "RABBITMQ_PASSWORD": "rabbit0pass"}


@pytest.fixture(scope="module")
def on_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Services resolved with docker-compose.rabbitmq.yml over the base file."""
    return resolved(tmp_path_factory.mktemp("compose-rabbitmq"), RABBITMQ_FILE, **RABBIT_SECRETS)


def test_rabbitmq_service_has_a_profile_a_healthcheck_and_only_its_ui_on_loopback(services: dict[str, Any]) -> None:
    rabbitmq = services["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3-management"
    assert rabbitmq["profiles"] == ["rabbitmq"]
    assert rabbitmq["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    ports = rabbitmq["ports"]
    assert len(ports) == 1, "AMQP (5672) is not published on the host"
    port = ports[0]
    if isinstance(port, str):
        assert port.startswith("127.0.0.1:15672:15672")
    else:
        assert (port["host_ip"], str(port["published"]), int(port["target"])) == ("127.0.0.1", "15672", 15672)
    assert "set RABBITMQ_PASSWORD in .env" in " ".join(rabbitmq["entrypoint"]), "refuses an empty password"
    assert rabbitmq["environment"]["RABBITMQ_DEFAULT_USER"] == "lab"


def test_the_base_file_needs_no_rabbitmq_password(services: dict[str, Any]) -> None:
    for name in ("worker-cpu", "worker-io", "flower", "producer"):
        assert services[name]["environment"]["LAB_BROKER_URL"].startswith("redis://"), name


def test_the_rabbitmq_override_switches_every_app_service_and_keeps_results_in_redis(
    on_rabbitmq: dict[str, Any],
) -> None:
    password = RABBIT_SECRETS["RABBITMQ_PASSWORD"]
    for name in ("worker-cpu", "worker-io", "flower", "producer"):
        env = on_rabbitmq[name]["environment"]
        assert env["LAB_BROKER_URL"] == f"amqp://lab:{password}@rabbitmq:5672//", name
        assert env["LAB_RESULT_BACKEND"] == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/1", name
        assert env["LAB_RABBITMQ_API_URL"] == "http://rabbitmq:15672/", name
        assert on_rabbitmq[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
    assert on_rabbitmq["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == password
    assert on_rabbitmq["flower"]["environment"]["FLOWER_BROKER_API"] == f"http://lab:{password}@rabbitmq:15672/api/"
    for name in ("worker-cpu", "worker-io", "producer", "target", "redis"):
        assert "FLOWER_BROKER_API" not in (on_rabbitmq[name].get("environment") or {}), name


def test_the_rabbitmq_override_refuses_to_start_without_its_password(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    done = compose(
        ["config", "-q"], compose_env(**SECRETS), env_file, project="labconfig", check=False, overrides=(RABBITMQ_FILE,)
    )
    assert done.returncode != 0
    assert "set RABBITMQ_PASSWORD in .env" in done.stdout + done.stderr


def test_env_example_documents_the_rabbitmq_variables() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", RABBITMQ_FILE.read_text()))
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert used <= set(example), used - set(example)
    assert example["RABBITMQ_PASSWORD"] == "" and {"COMPOSE_FILE", "COMPOSE_PROFILES"} <= set(example)
