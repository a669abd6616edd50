"""The `monitoring` profile's files, and a real Prometheus scraping a real Flower with the dashboard's queries.

The compose profile runs Prometheus and Grafana images; here Debian's ``prometheus`` runs the same
scrape configuration against a test Flower, and every query of the provisioned dashboard is evaluated.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from producer.batch.run import run_batch
from producer.processes import children as processes
from producer.processes.debian_packages import ensure_packages
from producer.processes.redis_server import free_port
from tests.flower_server import FlowerServer, flower, wait_for
from tests.helpers import LOG_DIR, ROOT
from worker.task_args import WorkloadArgs

__all__ = ["flower"]  # the module-scoped fixture

MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "celery-throughput.json"
PROMETHEUS = Path("/usr/bin/prometheus")
THROUGHPUT = 'rate(flower_events_total{type="task-succeeded"}[1m])'


def dashboard_queries() -> list[str]:
    """Every PromQL expression of the provisioned dashboard."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_prometheus_scrapes_flower_metrics_on_the_compose_network() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["flower:5555"]
    assert "basic_auth" not in job  # Flower's /metrics is open by design


def test_dashboard_uses_the_provisioned_datasource_and_shows_rate_p95_and_workers_online() -> None:
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/lab.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]}
    assert uids == {source["uid"]} and source["url"] == "http://prometheus:9090"
    queries = "\n".join(dashboard_queries())
    assert f"sum by (worker) ({THROUGHPUT})" in queries
    assert "histogram_quantile(0.95, sum by (le, worker) (rate(flower_task_runtime_seconds_bucket[1m])))" in queries
    assert "sum(flower_worker_online)" in queries
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_monitoring_profile_is_optional_local_and_has_no_default_secret() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["monitoring"]
    assert "ports" not in prometheus
    assert all(port.startswith("127.0.0.1:") for port in grafana["ports"])
    for service in (prometheus, grafana):
        for volume in service["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    # The entrypoint guard, run by a real shell ($$ is compose's escape; /run.sh is Grafana's start).
    guard = grafana["entrypoint"][2].replace("$$", "$").replace("exec /run.sh", "echo started")
    for password, started in (("", False), ("short", False), ("long-enough", True)):
        done = subprocess.run(
            ["sh", "-c", guard],
            env={"GF_SECURITY_ADMIN_PASSWORD": password},
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert (done.returncode == 0 and done.stdout.strip() == "started") is started, (password, done)
        assert started or "set GRAFANA_ADMIN_PASSWORD" in done.stderr


@pytest.fixture(scope="module")
def prometheus(flower: FlowerServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Prometheus with the profile's scrape config, aimed at the test Flower (1 s interval)."""
    reason = ensure_packages({PROMETHEUS: "prometheus"})
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{flower.port}"]
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    check = subprocess.run(
        ["promtool", "check", "config", str(work / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    child = processes.spawn(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        LOG_DIR / f"prometheus-{port}.log",
        {"PATH": "/usr/bin:/bin"},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _ready(url, child), what=f"Prometheus to start (see {child.log})")
        yield url
    finally:
        processes.stop(child)


def _ready(url: str, child: processes.Child) -> bool:
    if not processes.is_running(child):
        raise AssertionError(f"Prometheus exited; see {child.log}")
    try:
        return requests.get(url + "-/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """Evaluate ``expr`` now; fail on a PromQL error."""
    answer = requests.get(url + "api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


def values(url: str, expr: str) -> dict[str, float]:
    """The result of ``expr`` by its ``worker`` label (or ``""``)."""
    return {row["metric"].get("worker", ""): float(row["value"][1]) for row in query(url, expr)}


@pytest.mark.timeout(900)
def test_real_prometheus_sees_tasks_per_worker_through_the_dashboard_queries(
    celery_app: Any, settings: Any, both_workers: dict[str, str], flower: FlowerServer, prometheus: str
) -> None:
    workers = set(both_workers.values())
    wait_for(lambda: workers <= set(flower.workers()), what="Flower to see both workers")

    def batch(n: int) -> None:
        for workload, queue in (("noop", "prefork"), ("io_sleep", "threads")):
            outcome = run_batch(
                celery_app, settings, WorkloadArgs(workload, 2 if queue == "threads" else 0), n, queue, timeout_s=120
            )
            assert outcome.summary.completed == n

    succeeded = 'sum by (worker) (flower_events_total{type="task-succeeded"})'
    batch(5)  # a counter's first sample gives no rate: create the series, let Prometheus scrape it ...
    wait_for(
        lambda: {w: 5.0 for w in workers}.items() <= values(prometheus, succeeded).items(),
        what="Prometheus to scrape the first counts",
    )
    batch(10)  # ... then the increase shows as a rate
    wait_for(
        lambda: {w: 15.0 for w in workers}.items() <= values(prometheus, succeeded).items(),
        what="Prometheus to scrape all counts",
    )
    rates = values(prometheus, f"sum by (worker) ({THROUGHPUT})")
    assert workers <= set(rates) and all(rates[w] > 0 for w in workers), rates
    online = values(prometheus, "flower_worker_online")
    assert {w: online.get(w) for w in workers} == {w: 1.0 for w in workers}
    assert values(prometheus, "sum(flower_worker_online)")[""] >= 2
    p95 = values(
        prometheus, "histogram_quantile(0.95, sum by (le, worker) (rate(flower_task_runtime_seconds_bucket[1m])))"
    )
    assert workers <= set(p95), p95
    for expr in dashboard_queries():
        query(prometheus, expr)  # every panel's query is valid PromQL against real Flower metrics
