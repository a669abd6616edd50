"""docker-compose.usertask.yml gives the services that import user tasks the module, the path and the allow-list.

The file is read as YAML (always), and resolved with the base file by compose when compose is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose_cli import COMPOSE_FILE, compose, compose_env, compose_program

OVERRIDE = COMPOSE_FILE.parent / "docker-compose.usertask.yml"
#: Services that import a user's module: the workers run it, the producer checks it and runs the baselines.
IMPORTERS = ("worker-cpu", "worker-io", "producer")
SECRETS = {"REDIS_PASSWORD": "redis0pass", "LAB_FLOWER_PASSWORD": "flower0pass"}


def test_the_override_mounts_the_tasks_where_pythonpath_points_for_every_importer() -> None:
    base = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    services = yaml.safe_load(OVERRIDE.read_text())["services"]
    assert set(services) == set(IMPORTERS) and set(IMPORTERS) <= set(base)
    for name in IMPORTERS:
        env, volumes = services[name]["environment"], services[name]["volumes"]
        source, target, mode = volumes[0].rsplit(":", 2)
        assert env["PYTHONPATH"] == target and mode == "ro"
        assert "LAB_TASK_MODULES:?" in env["LAB_TASK_MODULES"]  # no default: compose refuses without one
        assert "./examples" in source


@pytest.mark.skipif(compose_program() is None, reason="no docker-compose / `docker compose` to validate with")
def test_compose_merges_the_override_into_the_stack(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    values = compose_env(LAB_TASK_MODULES="usertasks", LAB_TASK_DIR="./examples", **SECRETS)
    done = compose(["-f", str(OVERRIDE), "--profile", "tools", "config"], values, env_file, project="labtasks")
    services: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    for name, service in services.items():
        env = service.get("environment") or {}
        imports = name in IMPORTERS
        assert (env.get("LAB_TASK_MODULES") == "usertasks") == imports, name
        assert any(_target(v).startswith("/opt/lab-tasks") for v in service.get("volumes", [])) == imports
        if imports:
            assert env["PYTHONPATH"] == "/opt/lab-tasks" and env["LAB_BROKER_URL"]  # merged with the base env


def _target(volume: Any) -> str:
    """A volume's container path: compose v2 prints a mapping, v1 the short ``source:target[:mode]`` form."""
    if isinstance(volume, dict):
        return str(volume.get("target", ""))
    parts = str(volume).split(":")
    return parts[1] if len(parts) > 1 else parts[0]
