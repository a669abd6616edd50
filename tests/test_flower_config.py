"""Flower's credentials: from the environment, else generated once into a private file; never a default."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from config.settings import LabSettings
from producer.errors import LabError
from producer.processes.flower import check_credentials, flower_env, flower_password


def test_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path / "state", flower_password="")
    password, generated = flower_password(settings)
    assert generated and len(password) >= 20
    path = tmp_path / "state" / "flower-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert flower_password(settings) == (password, False)


def test_environment_password_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path, flower_password="from-env-123")
    assert flower_password(settings) == ("from-env-123", False)
    assert not (tmp_path / "flower-password").exists()


def test_empty_stored_file_is_replaced_and_loose_permissions_tightened(tmp_path: Path) -> None:
    path = tmp_path / "flower-password"
    path.write_text("\n")
    password, generated = flower_password(LabSettings(state_dir=tmp_path, flower_password=""))
    assert generated and path.read_text().strip() == password
    path.chmod(0o644)
    assert flower_password(LabSettings(state_dir=tmp_path, flower_password="")) == (password, False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unusable_stored_password_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "flower-password").write_text("short\n")
    with pytest.raises(LabError, match="delete the file") as raised:
        flower_password(LabSettings(state_dir=tmp_path, flower_password=""))
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    "user, password",
    [
        ("", "long-enough-1"),
        ("ad:min", "long-enough-1"),
        ("a,b", "long-enough-1"),
        ("admin", "short"),
        ("admin", "has,comma-inside"),
        ("admin", " padded-password "),
    ],
)
def test_credentials_flower_would_misparse_are_refused(user: str, password: str) -> None:
    with pytest.raises(LabError) as raised:
        check_credentials(user, password)
    assert raised.value.exit_code == 2


def test_flower_env_sets_basic_auth_and_drops_the_unauthenticated_switch() -> None:
    env = flower_env({"PATH": "/bin", "FLOWER_UNAUTHENTICATED_API": "true"}, "admin", "secret-123")
    assert env == {"PATH": "/bin", "FLOWER_BASIC_AUTH": "admin:secret-123"}
