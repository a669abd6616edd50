"""Flower in a real headless Chromium: log in, see both workers online with the exact processed counts.

Flower runs as its own subprocess on a free port against the session's private Redis, with a password
generated for this run. Chromium and chromedriver are Debian's (``/usr/bin``); Selenium Manager is never
asked for anything (the driver path is explicit and ``SE_OFFLINE`` is set), so no browser is downloaded.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from producer import processes, roles
from producer.batch_run import run_batch
from producer.flower import OPEN_PATHS, flower_env, generate_password
from producer.redis_server import free_port
from tests.helpers import LOG_DIR, ROOT, child_env
from worker.task_args import WorkloadArgs

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # the first test may install chromium

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900"]
USER = "admin"


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", *args], capture_output=True, text=True,
                          env=env, timeout=840)


def install_chromium() -> str | None:
    """Install Debian's chromium + chromium-driver when missing; returns why it cannot, or None."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium/chromium-driver missing and not root: run `apt-get install chromium chromium-driver`"
    if shutil.which("apt-get") is None:
        return "chromium/chromium-driver missing and no apt-get to install them"
    for step in (("update", "-q"), ("install", "-y", "-q", "--no-install-recommends", "chromium", "chromium-driver")):
        result = _apt(*step)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"apt-get {step[0]} failed (status {result.returncode}): {tail[0]}"
    return None if CHROMIUM.exists() and CHROMEDRIVER.exists() else "apt-get did not provide /usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium (installed here when missing and possible, else the test is skipped)."""
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    return CHROMIUM


@dataclass(frozen=True)
class FlowerServer:
    """A Flower subprocess: where it listens and its credentials."""

    url: str
    user: str
    password: str

    def get(self, path: str, auth: bool = True) -> requests.Response:
        """GET ``path`` with (or without) the basic-auth credentials."""
        return requests.get(self.url + path.lstrip("/"), auth=(self.user, self.password) if auth else None,
                            timeout=10)


@pytest.fixture(scope="module")
def flower(settings: Any) -> Iterator[FlowerServer]:
    """Flower on a free port, the session's broker, a freshly generated password; stopped by PID."""
    port = free_port()
    password = generate_password()
    local = settings.model_copy(update={"flower_host": "127.0.0.1", "flower_port": port})
    command = [*roles.CELERY_PROGRAM, *roles.flower_args(local)]
    child = processes.spawn("flower-browser", command, LOG_DIR / f"flower-{port}.log",
                            flower_env(child_env(), USER, password))
    server = FlowerServer(f"http://127.0.0.1:{port}/", USER, password)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.get("healthcheck", auth=False).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or not processes.is_running(child):
                raise RuntimeError(f"Flower did not start; see {child.log}")
            time.sleep(0.2)
        yield server
    finally:
        processes.stop(child)


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver, with a fresh profile directory."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER),
                                      log_output=str(LOG_DIR / "chromedriver.log"))
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: Selenium Manager must never download
    try:
        driver = webdriver.Chrome(options=options, service=service)
    finally:
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: Any, server: FlowerServer) -> None:
    """Send the basic-auth header with every request of this browser (page, XHR and assets alike)."""
    token = base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


def flower_workers(server: FlowerServer) -> dict[str, dict[str, Any]]:
    """The data behind Flower's workers table, by worker name."""
    rows = server.get("workers?json=1").json()["data"]
    return {row["hostname"]: row for row in rows}


def wait_for(condition: Any, timeout_s: float = 60, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def table_rows(driver: Any) -> dict[str, list[str]]:
    """Cells of the workers table as the page shows them, by worker name."""
    from selenium.webdriver.common.by import By

    rows = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "#workers-table tbody tr"):
        cells = [td.get_attribute("textContent").strip() for td in tr.find_elements(By.TAG_NAME, "td")]
        if len(cells) >= 6:
            rows[cells[0]] = cells
    return rows


def test_workers_page_shows_both_workers_online_with_the_tasks_just_processed(
        celery_app: Any, settings: Any, both_workers: dict[str, str], flower: FlowerServer, browser: Any) -> None:
    names = both_workers
    wait_for(lambda: set(names.values()) <= set(flower_workers(flower)), what="Flower to see both workers")
    sent = {"prefork": 7, "threads": 5}
    for workload, size, queue in (("noop", 0, "prefork"), ("io_sleep", 5, "threads")):
        outcome = run_batch(celery_app, settings, WorkloadArgs(workload, size), sent[queue], queue, timeout_s=120)
        assert outcome.summary.completed == sent[queue]
    wait_for(lambda: all(flower_workers(flower)[names[p]].get("task-succeeded") == n for p, n in sent.items()),
             what="Flower to count every task")

    log_in(browser, flower)
    browser.get(flower.url + "workers")
    expected = {names[p]: ["Online", str(n), "0", str(n)] for p, n in sent.items()}  # status, processed, failed, ok

    def shown() -> dict[str, list[str]] | None:
        rows = table_rows(browser)
        picked = {name: [cells[1], cells[3], cells[4], cells[5]] for name, cells in rows.items() if name in expected}
        return picked if picked == expected else None

    try:
        wait_for(shown, what=f"the workers table to show {expected}")
        assert browser.find_element("id", "workers-online").text == "2"
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "flower-workers.png"))
    browser.get(flower.url + "tasks")
    wait_for(lambda: len(browser.find_elements("css selector", "#tasks-table tbody tr td")) > 1,
             what="the tasks table")
    browser.save_screenshot(str(ARTIFACTS / "flower-tasks.png"))


def test_flower_refuses_requests_without_credentials(flower: FlowerServer) -> None:
    for path in ("api/workers", "api/tasks", "workers", "tasks"):
        assert flower.get(path, auth=False).status_code == 401, path
    wrong = requests.get(flower.url + "api/workers", auth=(USER, flower.password + "x"), timeout=10)
    assert wrong.status_code == 401
    assert flower.get("api/workers").status_code == 200
    for path in OPEN_PATHS:  # open by Flower's design: documented in the README
        assert flower.get(path, auth=False).status_code == 200, path
    assert "flower_events_total" in flower.get("metrics", auth=False).text
