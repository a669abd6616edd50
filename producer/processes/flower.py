"""Flower's credentials and environment: basic auth always, never a built-in default password.

Flower 2.x protects its UI and REST API with ``FLOWER_BASIC_AUTH`` (``user:password``, several separated
by commas). ``/metrics`` (Prometheus) and ``/healthcheck`` answer without credentials by design, so
Flower listens on 127.0.0.1 locally and is published on 127.0.0.1 only in compose.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from config.settings import LabSettings
from producer.errors import LabError

MIN_PASSWORD_LENGTH = 8
PASSWORD_FILE = "flower-password"
#: Flower paths that answer without credentials (checked by the browser test).
OPEN_PATHS = ("/metrics", "/healthcheck")


def check_credentials(user: str, password: str) -> None:
    """Refuse credentials Flower would misparse (``:`` in the user, ``,`` anywhere) or a short password."""
    if not user or ":" in user or "," in user or user != user.strip():
        raise LabError("LAB_FLOWER_USER must be non-empty, without ':' ',' or surrounding spaces", exit_code=2)
    if "," in password or password != password.strip():
        raise LabError("LAB_FLOWER_PASSWORD must not contain ',' or surrounding spaces", exit_code=2)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise LabError(f"LAB_FLOWER_PASSWORD must have at least {MIN_PASSWORD_LENGTH} characters", exit_code=2)


def generate_password() -> str:
    """A fresh random password (20 URL-safe characters: no ',' or ':')."""
    return secrets.token_urlsafe(15)


def _read_private(path: Path) -> str:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (no moment where others could read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def flower_password(settings: LabSettings) -> tuple[str, bool]:
    """``LAB_FLOWER_PASSWORD``, else the one stored in ``<state dir>/flower-password``, else a new one.

    Returns the password and whether it was generated just now (the caller prints it once).
    """
    if settings.flower_password:
        check_credentials(settings.flower_user, settings.flower_password)
        return settings.flower_password, False
    path = settings.state_dir / PASSWORD_FILE
    if path.exists():
        stored = _read_private(path)
        if stored:
            try:
                check_credentials(settings.flower_user, stored)
            except LabError as error:
                raise LabError(f"{path}: {error} (delete the file to generate a new one)", exit_code=2) from None
            return stored, False
    password = generate_password()
    check_credentials(settings.flower_user, password)
    write_private(path, password)
    return password, True


def flower_env(base: dict[str, str], user: str, password: str, broker_api: str = "") -> dict[str, str]:
    """Flower's environment: ``base`` plus basic auth, and never the unauthenticated-API switch.

    ``broker_api`` (RabbitMQ's management API with credentials) goes in ``FLOWER_BROKER_API``, Flower's
    ``--broker_api`` read from its environment, so the password is not on a command line.
    """
    env = {k: v for k, v in base.items() if k not in ("FLOWER_UNAUTHENTICATED_API", "FLOWER_BROKER_API")}
    env["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    if broker_api:
        env["FLOWER_BROKER_API"] = broker_api
    return env
