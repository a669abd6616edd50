"""worker/fast_start.py: lab-mode workers start through Celery's worker command alone; anything else goes to the
CLI. Stock-mode workers start with ``python -m celery``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import celery

from producer.processes import roles
from tests.helpers import ROOT, child_env, running_worker


def test_lab_mode_workers_use_the_launcher_with_celerys_own_arguments() -> None:
    command = roles.worker_command("threads", 4, "threads", "io", "lab")
    assert command[:3] == roles.LAB_WORKER_PROGRAM == [sys.executable, "-m", "worker.fast_start"]
    assert command[3:] == roles.worker_args("threads", 4, "threads", "io")


def test_stock_mode_workers_start_with_the_celery_program() -> None:
    command = roles.worker_command("threads", 4, "threads", "io", "stock")
    assert command[:3] == roles.STOCK_WORKER_PROGRAM == [sys.executable, "-m", "celery"]
    assert command[3:] == roles.worker_args("threads", 4, "threads", "io")


def test_other_commands_fall_back_to_the_full_celery_cli() -> None:
    done = subprocess.run(
        [*roles.LAB_WORKER_PROGRAM, "--version"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert celery.__version__ in done.stdout


def test_a_gevent_worker_started_by_the_launcher_is_patched_and_answers(celery_app: Any) -> None:
    queue = f"gevent-{uuid.uuid4().hex[:6]}"
    with running_worker(celery_app, "gevent", 8, queue, name=queue) as (_, hostname):
        result = celery_app.send_task("lab.io_sleep", kwargs={"size": 10}, queue=queue)
        assert result.get(timeout=60)["pool"] == "gevent"
        assert hostname
