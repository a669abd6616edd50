"""The two named modes (config/celery_mode.py): stock is plain Celery and kombu, lab names its classes through
Celery's seams only, nothing is assigned over a kombu or Celery attribute, and the lab mode refuses to start on
Celery/kombu minors it was not tested on (stock still runs)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import celery
import kombu
import pytest

from config.celery_config import build_celery_config
from config.celery_mode import TESTED_MINORS, describe_mode, untested_versions
from config.settings import LabSettings
from producer.processes import roles
from tests.helpers import ROOT, child_env, running_worker

#: Minors no installed Celery/kombu has: the lab mode must refuse them.
UNTESTED = "celery=4.4,kombu=4.6"

#: Runs in a fresh interpreter: every kombu/Celery attribute the old guards replaced, before and after
#: importing the app and its tasks, must be the very same object.
_IDENTITY_CHECK = """
import celery.worker.consumer.consumer as celery_consumer
from kombu.transport import redis as kombu_redis

def snapshot():
    owners = {"Channel": kombu_redis.Channel, "QoS": kombu_redis.QoS, "Transport": kombu_redis.Transport}
    seen = {f"{name}.{attr}": value for name, owner in owners.items() for attr, value in vars(owner).items()}
    seen["kombu.transport.redis.loads"] = kombu_redis.loads
    seen.update({f"module.{name}": value for name, value in vars(kombu_redis).items()})
    seen["Consumer.create_task_handler"] = celery_consumer.Consumer.create_task_handler
    seen.update({f"Consumer.{attr}": value for attr, value in vars(celery_consumer.Consumer).items()})
    return seen

before = snapshot()
import worker.app, worker.tasks  # noqa: E401
after = snapshot()
changed = sorted(name for name in before.keys() | after.keys() if before.get(name) is not after.get(name))
print("changed:", changed)
"""


def test_stock_mode_names_none_of_the_labs_classes() -> None:
    stock = build_celery_config(LabSettings(celery_mode="stock"))
    assert "broker_transport" not in stock and "worker_consumer" not in stock
    lab = build_celery_config(LabSettings(celery_mode="lab"))
    assert (lab["broker_transport"], lab["worker_consumer"]) == (
        "worker.lab_transport:Transport",
        "worker.lab_consumer:Consumer",
    )


def test_importing_the_app_assigns_over_no_kombu_or_celery_attribute() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IDENTITY_CHECK],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "changed: []"


def test_describe_mode_says_which_celery_runs() -> None:
    stock = describe_mode(LabSettings(celery_mode="stock"))
    lab = describe_mode(LabSettings(celery_mode="lab"))
    assert (stock["mode"], stock["changes"]) == ("stock", [])
    assert lab["mode"] == "lab" and len(lab["changes"]) >= 4
    assert "a malformed queue entry is quarantined, not fatal" in lab["changes"]
    assert (lab["celery"], lab["kombu"]) == (celery.__version__, kombu.__version__)
    assert {"python", "redis_py"} <= lab.keys()


def test_the_installed_versions_are_the_tested_minors() -> None:
    assert untested_versions(LabSettings()) is None
    assert celery.__version__.startswith(TESTED_MINORS["celery"] + ".")
    assert kombu.__version__.startswith(TESTED_MINORS["kombu"] + ".")


def test_an_untested_minor_is_one_line_naming_both_versions_and_the_way_out() -> None:
    problem = untested_versions(LabSettings(lab_mode_tested=UNTESTED))
    assert problem is not None and "\n" not in problem
    assert "celery 4.4.x, kombu 4.6.x" in problem and f"celery {celery.__version__}" in problem
    assert "LAB_CELERY_MODE=stock" in problem


def test_a_lab_mode_worker_on_untested_minors_exits_with_one_line() -> None:
    name = f"mode-lab-{uuid.uuid4().hex[:6]}"
    command = roles.worker_command("solo", 1, name, name, "lab")
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(LAB_CELERY_MODE="lab", LAB_LAB_MODE_TESTED=UNTESTED),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert output.startswith("worker: error: the lab mode was tested on celery 4.4.x, kombu 4.6.x"), output
    assert len(output.splitlines()) == 1, output


@pytest.mark.parametrize("mode", ["stock"])
def test_a_stock_mode_worker_runs_whatever_the_tested_minors(celery_app: Any, mode: str) -> None:
    queue = f"stock-{uuid.uuid4().hex[:6]}"
    env = child_env(LAB_CELERY_MODE=mode, LAB_LAB_MODE_TESTED=UNTESTED)
    with running_worker(celery_app, "solo", 1, queue, name=queue, env=env) as (child, _):
        result = celery_app.send_task("lab.noop", kwargs={"size": 0}, queue=queue)
        assert result.get(timeout=60)["workload"] == "noop"
    assert "the lab mode was tested on" not in Path(child.log).read_text()


def test_the_producer_in_lab_mode_on_untested_minors_fails_with_one_line() -> None:
    command = [sys.executable, "-m", "producer", "submit", "--workload", "noop", "--count", "1"]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(LAB_CELERY_MODE="lab", LAB_LAB_MODE_TESTED=UNTESTED),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip().startswith("producer: error: the lab mode was tested on celery 4.4.x"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
