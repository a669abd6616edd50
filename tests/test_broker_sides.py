"""``--broker redis,rabbitmq``: the same batches on Redis and on a private RabbitMQ node, in one run.

Real workers on both brokers (each started with its side's ``LAB_BROKER_URL``), the session's Redis
and the tests' private RabbitMQ node (``LAB_RABBITMQ_URL``); results stay in Redis (database 11). A
bad ``--broker`` is one line and exit 2; a side the settings do not name is found (the result
backend's Redis) or started for the run (a private node, stopped by PID afterwards).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from config.settings import LabSettings
from producer.broker import open_broker
from producer.broker.sides import broker_sides, parse_brokers
from producer.errors import BadInput
from producer.measure.records import load_record
from tests.helpers import producer
from tests.rabbitmq import PrivateRabbit, results_url

DB = 11


def test_parse_brokers_takes_known_names_in_a_fixed_order_and_refuses_others() -> None:
    assert parse_brokers("rabbitmq, Redis") == ["redis", "rabbitmq"]
    assert parse_brokers("") == []
    with pytest.raises(BadInput, match="--broker takes redis and/or rabbitmq"):
        parse_brokers("redis,kafka")


@pytest.mark.parametrize("command", ["compare", "sweep", "advise"])
def test_a_bad_broker_is_one_line_and_exit_2(command: str) -> None:
    extra = ["--workload", "noop"] if command == "advise" else ["--no-probe"]
    result = producer(command, "--broker", "kafka", *extra)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("producer: error")]
    assert lines == ["producer: error: --broker takes redis and/or rabbitmq, comma-separated; got kafka"]
    assert "Traceback" not in result.stderr


def _only(results: Path, kind: str) -> dict[str, Any]:
    paths = sorted(results.glob(f"{kind}-*.json"))
    assert len(paths) == 1, paths
    load_record(paths[0])  # it validates against the models
    return dict(json.loads(paths[0].read_text()))


@pytest.fixture(scope="module")
def compared(rabbitmq: PrivateRabbit, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One `compare --broker redis,rabbitmq` of noop on threads and prefork: (record, stdout)."""
    results = tmp_path_factory.mktemp("brokers")
    result = producer(
        "compare",
        "--workloads",
        "noop",
        "--pools",
        "threads,prefork",
        "--count",
        "40",
        "--repeat",
        "2",
        "--no-baselines",
        "--no-probe",
        "--broker",
        "redis,rabbitmq",
        timeout=400,
        LAB_RESULTS_DIR=str(results),
        LAB_RESULT_BACKEND=results_url(DB),
        LAB_RABBITMQ_URL=rabbitmq.url,
        LAB_RABBITMQ_NODE_DIR=rabbitmq.node.base,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return _only(results, "compare"), result.stdout


def test_compare_runs_every_cell_on_both_brokers_and_counts_every_task(compared: tuple[dict[str, Any], str]) -> None:
    record, _ = compared
    runs = record["runs"]
    assert {(r["pool"], r["broker"]) for r in runs} == {
        (pool, broker) for pool in ("threads", "prefork") for broker in ("redis", "rabbitmq")
    }
    assert all(r["completed"] == r["submitted"] == 40 and not r["failed"] and not r["lost"] for r in runs)
    assert set(record["pools"]) == {"threads/redis", "threads/rabbitmq", "prefork/redis", "prefork/rabbitmq"}
    assert {record["pools"][key]["broker"] for key in record["pools"]} == {"redis", "rabbitmq"}
    assert {c["broker"] for c in record["cells"]} == {"redis", "rabbitmq"}
    assert set(record["brokers"]) == {"redis", "rabbitmq"}
    assert record["brokers"]["rabbitmq"]["origin"] == "LAB_RABBITMQ_URL"
    assert "***" in record["brokers"]["rabbitmq"]["url"]  # the password is never written
    assert record["brokers"]["rabbitmq"]["server_version"]
    assert record["plan"]["broker"] == "redis,rabbitmq"


def test_compare_gives_rabbitmq_over_redis_per_pool_and_a_verdict_line(compared: tuple[dict[str, Any], str]) -> None:
    record, stdout = compared
    ratios = {r["pool"]: r for r in record["broker_ratios"]}
    assert set(ratios) == {"threads", "prefork"}
    for ratio in ratios.values():
        assert ratio["redis_tps"] > 0 and ratio["rabbitmq_tps"] > 0
        assert ratio["rabbitmq_over_redis"] == pytest.approx(ratio["rabbitmq_tps"] / ratio["redis_tps"])
    verdict = record["verdicts"]["noop (brokers)"]
    assert "noop/threads: " in verdict and "noop/prefork: " in verdict
    assert "× redis" in verdict or "× rabbitmq" in verdict
    assert "noop (brokers)" not in stdout or "noop/threads" in stdout
    assert "broker" in stdout and "rabbitmq" in stdout  # the table's broker column


def test_sweep_runs_each_point_on_both_brokers(rabbitmq: PrivateRabbit, tmp_path: Path) -> None:
    result = producer(
        "sweep",
        "--workload",
        "noop",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--count",
        "60",
        "--no-probe",
        "--broker",
        "redis,rabbitmq",
        timeout=300,
        LAB_RESULTS_DIR=str(tmp_path),
        LAB_RESULT_BACKEND=results_url(DB),
        LAB_RABBITMQ_URL=rabbitmq.url,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = _only(tmp_path, "sweep")
    assert [p["broker"] for p in record["points"]] == ["redis", "rabbitmq"]
    assert all(p["completed"] == 60 and not p["lost"] for p in record["points"])
    assert any(note.startswith("rabbitmq ÷ redis per point") for note in record["notes"])
    assert record["broker"] == "redis,rabbitmq"


def test_sides_find_the_backends_redis_and_start_a_private_node_for_the_run(
    rabbitmq: PrivateRabbit, tmp_path: Path
) -> None:
    """From an AMQP LAB_BROKER_URL: Redis is the result backend's server, database 0. From a Redis one with no
    RabbitMQ named and no stack node: a private node is started, answers, and is stopped by PID on exit."""
    from worker.app import app

    on_amqp = LabSettings(broker_url=rabbitmq.url, result_backend=results_url(DB), state_dir=str(tmp_path / "a"))
    with broker_sides(app, on_amqp, ["redis", "rabbitmq"]) as sides:
        redis_side, rabbit_side = sides
        assert redis_side.settings.broker_url == results_url(0)
        assert redis_side.origin == "the result backend's Redis, database 0"
        assert rabbit_side.app is app and rabbit_side.origin == "LAB_BROKER_URL"
        assert redis_side.app.conf.broker_url == results_url(0)

    on_redis = LabSettings(broker_url=results_url(0), result_backend=results_url(DB), state_dir=str(tmp_path / "b"))
    with broker_sides(app, on_redis, ["rabbitmq"]) as sides:
        (side,) = sides
        assert side.origin.startswith("a private node started for this run")
        assert side.settings.broker_url != rabbitmq.url
        broker = open_broker(side.settings)
        broker.ping()  # raises if it does not answer
        assert broker.kind == "rabbitmq"
        broker.close()
        pid = int(side.origin.rsplit("pid ", 1)[1].rstrip(")"))
        assert psutil.pid_exists(pid)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not any((tmp_path / "b").glob("rabbitmq-run-*"))
