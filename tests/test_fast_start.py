"""worker/fast_start.py: local workers start through Celery's worker command alone; anything else goes to the CLI."""

from __future__ import annotations

import subprocess
import sys

import celery

from producer import roles
from tests.helpers import ROOT, child_env


def test_local_worker_commands_use_the_launcher_with_celerys_own_arguments() -> None:
    command = roles.worker_command("threads", 4, "threads", "io")
    assert command[:3] == roles.WORKER_PROGRAM == [sys.executable, "-m", "worker.fast_start"]
    assert command[3:] == roles.worker_args("threads", 4, "threads", "io")


def test_other_commands_fall_back_to_the_full_celery_cli() -> None:
    done = subprocess.run([*roles.WORKER_PROGRAM, "--version"], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert celery.__version__ in done.stdout
