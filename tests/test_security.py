"""Security refusals, each proven: JSON only, io_http reaches allow-listed hosts only (through a real
worker, redirects included), a password-protected Redis refuses the wrong password with a clear
error, and nothing secret is tracked by git. (Flower's 401 and compose's Redis password are tested
with Flower and compose.)
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from config.celery_config import build_celery_config
from config.settings import LabSettings
from producer.batch.collect import collect_results
from producer.batch.run import redis_clients
from producer.processes.redis_server import free_port
from tests.faults import FaultRedis, fault_app, fault_redis, fault_settings, fault_worker
from tests.helpers import ROOT, child_env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRedis]:
    """This module's own redis-server, with a password as in compose."""
    with fault_redis(tmp_path_factory.mktemp("redis-security"), password=secrets.token_hex(16)) as running:
        yield running


class _Recorder(ThreadingHTTPServer):
    """A local HTTP server that counts the requests it gets; optionally redirects each one."""

    def __init__(self, redirect_to: str = "") -> None:
        self.hits: list[str] = []
        self.redirect_to = redirect_to
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                self.send_response(302 if recorder.redirect_to else 200)
                if recorder.redirect_to:
                    self.send_header("Location", recorder.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextlib.contextmanager
def _serving(recorder: _Recorder) -> Iterator[_Recorder]:
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.shutdown()
        recorder.server_close()


def test_only_json_is_serialised_or_accepted() -> None:
    config = build_celery_config(LabSettings())
    assert (config["task_serializer"], config["result_serializer"], config["event_serializer"]) == ("json",) * 3
    assert config["accept_content"] == ["json"] and config["result_accept_content"] == ["json"]


def test_io_http_reaches_only_allow_listed_hosts_through_a_real_worker(server: FaultRedis) -> None:
    # Only 127.0.0.1 is allowed; "localhost" (the same machine, another name) is the forbidden target.
    settings = fault_settings(server, allowed_hosts="127.0.0.1", execution_log=False)
    app = fault_app(settings)
    broker, backend = redis_clients(settings)
    with (
        _serving(_Recorder()) as forbidden,
        _serving(_Recorder(redirect_to=f"http://localhost:{forbidden.port}/bounced")) as bouncer,
        fault_worker(app, settings, "threads", 4, "threads", label="allow-list") as (worker, _),
    ):
        refused = {
            f"http://localhost:{forbidden.port}/": "'localhost' is not allow-listed",
            f"http://LOCALHOST:{forbidden.port}/": "'localhost' is not allow-listed",
            f"http://127.0.0.1@localhost:{forbidden.port}/": "must not carry credentials",
            f"http://localhost:{forbidden.port}#@127.0.0.1/": "'localhost' is not allow-listed",
            f"http://127.0.0.1.nip.io:{forbidden.port}/": "'127.0.0.1.nip.io' is not allow-listed",
            f"http://2130706433:{forbidden.port}/": "'2130706433' is not allow-listed",
            f"http://[::1]:{forbidden.port}/": "'::1' is not allow-listed",
            "http://169.254.169.254/latest/meta-data/": "'169.254.169.254' is not allow-listed",
            "file:///etc/passwd": "malformed URL",
            f"gopher://127.0.0.1:{forbidden.port}/": "malformed URL",
        }
        ids = {url: app.send_task("lab.io_http", kwargs={"size": 0, "url": url}, queue="threads").id for url in refused}
        redirected = app.send_task(
            "lab.io_http", kwargs={"size": 0, "url": f"http://127.0.0.1:{bouncer.port}/"}, queue="threads"
        ).id
        collected = collect_results(backend, [*ids.values(), redirected], timeout_s=60, broker=broker, queue="threads")
        assert bouncer.hits, "the allow-listed server was reached"
        assert forbidden.hits == [], "no request ever reached a host outside the allow-list"
    for url, reason in refused.items():
        failure = collected.failures[ids[url]]
        assert failure.startswith("BadTaskArgs") and reason in failure, (url, failure)
    (record,) = collected.records  # the redirect is answered, not followed
    assert record["output"]["status"] == 302
    assert server.password not in Path(worker.log).read_text(), "the worker log shows no Redis password"


@pytest.mark.parametrize("auth", ["wrong password", "no password"])
def test_redis_with_a_password_refuses_others_with_one_clear_line(server: FaultRedis, auth: str) -> None:
    wrong = secrets.token_hex(8)
    url = f"redis://{f':{wrong}@' if auth == 'wrong password' else ''}127.0.0.1:{server.port}/0"
    result = subprocess.run(
        [sys.executable, "-m", "producer", "submit", "--count", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(LAB_BROKER_URL=url, LAB_RESULT_BACKEND=url),
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("producer: error: Redis at redis://"), result.stderr
    assert "refused the password" in result.stderr or "Authentication required" in result.stderr, result.stderr
    assert wrong not in result.stderr + result.stdout and server.password not in result.stderr + result.stdout


#: Obvious secrets (placeholders such as ``user:password`` and short test values are not). The patterns
#: are assembled so that this file does not match itself.
SECRET_PATTERNS = {
    "private key": re.compile("-" * 5 + "BEGIN [A-Z ]*PRIVATE KEY"),
    "AWS access key": re.compile(r"\bAKIA" + r"[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]" + r"_[A-Za-z0-9]{30,}"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/\"'@:\[]*:(?![*$<{\[])[^\s/\"'@]{6,}" + "@"),
    "literal requirepass": re.compile(r"--requirepass[\"',\s]+[\"']?(?!password\b)[A-Za-z0-9]" + "{8,}"),
    "literal Flower credentials": re.compile(r"FLOWER_BASIC_AUTH=[^\s:$\"'{]+:(?!password\b)[^\s$\"'{]" + "{4,}"),
}
#: A password-like literal in code (tests use throw-away values of their own and are not scanned for it).
LITERAL = re.compile(r"\b\w*(password|passwd|secret|token)[\"']?\s*[:=]\s*[\"'][^\"'${}<>\s*]{8,}[\"']", re.IGNORECASE)


def test_nothing_secret_is_tracked_by_git() -> None:
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert not [path for path in tracked if Path(path).name == ".env" or path.startswith((".lab/", "results/"))]
    findings = []
    for path in tracked:
        try:
            text = (ROOT / path).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for name, pattern in SECRET_PATTERNS.items():
            findings += [f"{path}: {name}: {m.group(0)[:40]}" for m in pattern.finditer(text)]
        if not path.startswith("tests/"):
            findings += [f"{path}: literal: {m.group(0)[:40]}" for m in LITERAL.finditer(text)]
    assert findings == []
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored and ".lab/" in ignored


@pytest.mark.parametrize(
    "sample",
    [
        "BROKER = 'redis://:" + "Zq8xW2rT9kLm" + "@redis:6379/0'",
        "command: redis-server --requirepass " + "Zq8xW2rT9kLm",
        "FLOWER_BASIC_AUTH=admin:" + "Zq8xW2rT9kLm",
        "flower_password = '" + "Zq8xW2rT9kLm" + "'",
        "-" * 5 + "BEGIN RSA PRIVATE KEY" + "-" * 5,
    ],
)
def test_the_secret_scan_catches_obvious_secrets(sample: str) -> None:
    assert any(pattern.search(sample) for pattern in SECRET_PATTERNS.values()) or LITERAL.search(sample)
