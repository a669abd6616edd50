"""`producer advise --broker redis,rabbitmq`: the broker as one more dimension of the search, with real workers.

Redis is the session's private redis-server, RabbitMQ the session's private node (``LAB_RABBITMQ_URL``),
never the machine's. The budget is small; assertions are about where trials ran and what the record
and the command say, never about which broker is faster.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from producer.measure.records import load_record
from producer.processes.rabbitmq_server import rabbitmqctl
from tests.helpers import producer
from tests.rabbitmq import PrivateRabbit


def test_advise_searches_each_broker_and_names_the_chosen_one(tmp_path: Path, rabbitmq: PrivateRabbit) -> None:
    result = producer(
        "advise", "--workload", "noop", "--broker", "redis,rabbitmq", "--budget-s", "40",
        timeout=300, LAB_RESULTS_DIR=str(tmp_path), LAB_RABBITMQ_URL=rabbitmq.url,
        LAB_RABBITMQ_NODE_DIR=rabbitmq.node.base,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    paths = sorted(tmp_path.glob("advise-*.json"))
    assert len(paths) == 1, result.stderr[-3000:]
    record = json.loads(paths[0].read_text())
    assert {trial["broker"] for trial in record["trials"]} == {"redis", "rabbitmq"}
    assert all(trial["failed"] == trial["lost"] == trial["pending"] == 0 for trial in record["trials"])
    assert set(record["brokers"]) == {"redis", "rabbitmq"}
    assert rabbitmq.node.password not in paths[0].read_text()  # every URL is shown with ***
    chosen = record["recommendation"]["trial"]
    assert chosen["broker"] in ("redis", "rabbitmq")
    command = record["recommendation"]["command"]
    # shell-quoted as the command line quotes it (a Redis URL needs no quotes; a RabbitMQ one with *** does)
    assert command.startswith(f"LAB_BROKER_URL={shlex.quote(record['brokers'][chosen['broker']]['url'])} ")
    assert f" on {chosen['broker']}" in result.stdout  # the labels say the broker
    verdict = record["broker_verdict"]
    assert verdict.startswith("brokers: ") and verdict in result.stdout
    assert " on redis " in verdict and " on rabbitmq " in verdict
    loaded = load_record(paths[0], "advise")  # the record round-trips through its model
    assert loaded.broker_verdict == verdict and loaded.recommendation is not None
    assert loaded.recommendation.trial.broker == chosen["broker"]
    queues = json.loads(rabbitmqctl(rabbitmq.node, "list_queues", "name", "--formatter", "json"))
    assert not [row["name"] for row in queues if row["name"].startswith("advise-")]  # per-trial queues deleted


def test_an_unknown_broker_is_one_line() -> None:
    result = producer("advise", "--workload", "noop", "--broker", "bogus")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ["producer: error: --broker takes redis and/or rabbitmq, comma-separated; got bogus"], lines
