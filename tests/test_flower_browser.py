"""Flower in a real headless Chromium: log in, see both workers online with the exact processed counts.

Flower runs as its own subprocess on a free port against the session's private Redis, with a password
generated for this run. Chromium and chromedriver are Debian's (``/usr/bin``); Selenium Manager is never
asked for anything (the driver path is explicit and ``SE_OFFLINE`` is set), so no browser is downloaded.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from producer.batch.run import run_batch
from producer.processes.debian_packages import ensure_packages
from producer.processes.flower import OPEN_PATHS
from tests.flower_server import USER, FlowerServer, flower, wait_for
from tests.helpers import LOG_DIR, ROOT
from worker.task_args import WorkloadArgs

__all__ = ["flower"]  # the module-scoped fixture

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # the first test may install chromium

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium (installed here when missing and possible, else the test is skipped)."""
    reason = ensure_packages({CHROMIUM: "chromium", CHROMEDRIVER: "chromium-driver"})
    if reason:
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver, with a fresh profile directory."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path, prefix='chromium-')}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER), log_output=str(LOG_DIR / "chromedriver.log"))
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
    celery_app: Any, settings: Any, both_workers: dict[str, str], flower: FlowerServer, browser: Any
) -> None:
    names = both_workers
    wait_for(lambda: set(names.values()) <= set(flower.workers()), what="Flower to see both workers")
    sent = {"prefork": 7, "threads": 5}
    for workload, size, queue in (("noop", 0, "prefork"), ("io_sleep", 5, "threads")):
        outcome = run_batch(celery_app, settings, WorkloadArgs(workload, size), sent[queue], queue, timeout_s=120)
        assert outcome.summary.completed == sent[queue]
    wait_for(
        lambda: all(flower.workers()[names[p]].get("task-succeeded") == n for p, n in sent.items()),
        what="Flower to count every task",
    )

    log_in(browser, flower)
    browser.get(flower.url + "workers")
    expected = {names[p]: ["Online", str(n), "0", str(n)] for p, n in sent.items()}  # status, processed, failed, ok

    def shown() -> dict[str, list[str]] | None:
        rows = table_rows(browser)
        picked = {name: [cells[1], cells[3], cells[4], cells[5]] for name, cells in rows.items() if name in expected}
        return picked if picked == expected else None

    try:
        wait_for(shown, what=f"the workers table to show {expected}")
        assert int(browser.find_element("id", "workers-online").text) >= 2  # (other tests' workers may be up)
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "flower-workers.png"))
    browser.get(flower.url + "tasks")
    wait_for(lambda: len(browser.find_elements("css selector", "#tasks-table tbody tr td")) > 1, what="the tasks table")
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
