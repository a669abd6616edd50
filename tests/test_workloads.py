"""The pure workloads, URL policy and argument bounds, without any broker."""

from __future__ import annotations

import math

import pytest

from config.settings import LabSettings
from worker import workloads
from worker.task_args import BadTaskArgs, WorkloadArgs, check_args
from worker.url_policy import UrlNotAllowed, check_url


def test_cpu_returns_digest_and_bit_length_not_the_huge_int() -> None:
    result = workloads.cpu(20_000)
    assert result["bits"] == math.factorial(20_000).bit_length()
    assert len(str(result)) < 200  # small JSON, whatever n is


def test_cpu_nogil_hashes_every_round() -> None:
    result = workloads.cpu_nogil(64)
    assert result["bytes"] == 64 * 1024 * 4
    assert len(result["sha256"]) == 16


def test_io_http_reaches_latency_target(latency_target: object, settings: LabSettings) -> None:
    result = workloads.io_http(settings.effective_target_url, 5, 5.0)
    assert result == {"status": 200, "bytes": 3}


def test_io_sleep_reports_its_delay() -> None:
    assert workloads.io_sleep(1) == {"slept_ms": 1}


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "http://", "not a url", "http://127.0.0.1:99999/", "http://user:pw@127.0.0.1/"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_url(url, frozenset({"127.0.0.1"}))


def test_hosts_off_the_allow_list_are_refused() -> None:
    with pytest.raises(UrlNotAllowed, match="not allow-listed"):
        check_url("http://169.254.169.254/latest/meta-data", frozenset({"127.0.0.1"}))
    assert check_url("http://127.0.0.1:8089/", frozenset({"127.0.0.1"}))


@pytest.mark.parametrize(
    "args, reason",
    [
        (WorkloadArgs("bogus", 1), "unknown workload"),
        (WorkloadArgs("cpu", -1), "non-negative"),
        (WorkloadArgs("cpu", 10**9), "above the cap"),
        (WorkloadArgs("io_sleep", 10**7), "above the cap"),
        (WorkloadArgs("io_http", 10, "http://127.0.0.1/" + "a" * 5000), "bytes, above the cap"),
    ],
)
def test_out_of_bounds_arguments_are_refused(args: WorkloadArgs, reason: str) -> None:
    with pytest.raises(BadTaskArgs, match=reason):
        check_args(args, LabSettings())
