"""Run the lab's docker-compose.yml from tests: `docker-compose` (v1.29) or `docker compose` (v2).

Compose gets a clean environment (only what a test passes, plus PATH/HOME/DOCKER_*) and an explicit
env file, so neither the test session's LAB_* variables nor a developer's ./.env leak in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
#: The override that points every app service at the ``rabbitmq`` service (with ``--profile rabbitmq``).
RABBITMQ_FILE = ROOT / "docker-compose.rabbitmq.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
_PASS_THROUGH = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY")


@lru_cache(maxsize=1)
def compose_program() -> tuple[str, ...] | None:
    """``docker-compose`` if installed, else the ``docker compose`` plugin, else None."""
    v1 = shutil.which("docker-compose")
    if v1:
        return (v1,)
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return (docker, "compose")
    return None


def engine_answers() -> bool:
    """Whether a Docker engine answers ``docker info`` (a few seconds at most)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def host_index_env() -> dict[str, str]:
    """This machine's pip index (``pip config get global.index-url``) for the image build, if it has one.

    Only network indexes are passed on: a ``file://`` index on the host means nothing inside a build.
    """
    env = {}
    for key, var in (("global.index-url", "PIP_INDEX_URL"), ("global.extra-index-url", "PIP_EXTRA_INDEX_URL")):
        value = os.environ.get(var, "")
        if not value:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", key], capture_output=True, text=True, timeout=60
            )
            value = done.stdout.strip() if done.returncode == 0 else ""
        urls = [url for url in value.split() if url.startswith(("http://", "https://"))]
        if urls:
            env[var] = " ".join(urls)
    return env


def compose_env(**values: str) -> dict[str, str]:
    """A clean environment for compose: PATH, HOME, DOCKER_* and ``values``."""
    env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
    env.update(values)
    return env


def compose(
    args: list[str],
    env: dict[str, str],
    env_file: Path,
    *,
    project: str | None = None,
    timeout: float = 120,
    check: bool = True,
    overrides: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Compose on the lab's file (and ``overrides``) with ``env`` and ``env_file``; raise with its output on failure."""
    program = compose_program()
    if program is None:
        raise RuntimeError("neither docker-compose nor the docker compose plugin is installed")
    files = [arg for path in (COMPOSE_FILE, *overrides) for arg in ("-f", str(path))]
    command = [*program, *files, "--env-file", str(env_file)]
    if project:
        command += ["-p", project]
    done = subprocess.run([*command, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done
