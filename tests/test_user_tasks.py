"""Users' own tasks (``lab.user``, ``--task``) through a real worker and the real CLI.

The allow-list (``LAB_TASK_MODULES``) is checked before any import: a module outside it is refused
as a counted failure with its reason, never imported, and the same worker then runs an allowed task.
Bad results and calls fail only their own task.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from producer.batch.collect import Collected, collect_results
from producer.batch.run import redis_clients
from tests.helpers import child_env, producer, running_worker

SAMPLE = "tests.user_tasks_sample"
FORBIDDEN = "tests.user_tasks_forbidden"


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files the sample and forbidden modules write when a process imports them."""
    folder = tmp_path_factory.mktemp("marks")
    return {"sample": folder / "sample", "forbidden": folder / "forbidden"}


@pytest.fixture(scope="module")
def user_worker(celery_app: Any, marks: dict[str, Path]) -> Iterator[str]:
    """A threads worker (-c 2) on a private queue, allowed to run the sample module only; yields the queue."""
    queue = f"user-{uuid.uuid4().hex[:6]}"
    env = child_env(
        LAB_TASK_MODULES=SAMPLE,
        USER_TASKS_SAMPLE_MARK=str(marks["sample"]),
        USER_TASKS_FORBIDDEN_MARK=str(marks["forbidden"]),
    )
    with running_worker(celery_app, "threads", 2, queue, env=env):
        yield queue


def run(celery_app: Any, settings: Any, queue: str, calls: list[dict[str, Any]]) -> tuple[list[str], Collected]:
    """Send each call to ``lab.user`` on ``queue``; the task ids and what came back."""
    ids = [f"user-{uuid.uuid4().hex[:10]}" for _ in calls]
    for task_id, call in zip(ids, calls, strict=True):
        celery_app.send_task("lab.user", kwargs={"args": [], "kwargs": {}, **call}, queue=queue, task_id=task_id)
    broker, backend = redis_clients(settings)
    return ids, collect_results(backend, ids, timeout_s=60, broker=broker, queue=queue)


def test_a_module_outside_the_allow_list_is_refused_unimported_and_the_worker_keeps_serving(
    celery_app: Any, settings: Any, user_worker: str, marks: dict[str, Path]
) -> None:
    assert not marks["sample"].exists()  # not imported at worker start: on first use only
    calls = [
        {"function": f"{FORBIDDEN}:touch"},
        {"function": "os:getcwd"},
        {"function": f"{SAMPLE}:getcwd"},  # an allowed module re-exporting os.getcwd
        {"function": f"{SAMPLE}:echo", "args": [1, "a"], "kwargs": {"k": True}},
    ]
    ids, found = run(celery_app, settings, user_worker, calls)
    assert not found.unfinished
    assert "not allowed by LAB_TASK_MODULES (tests.user_tasks_sample)" in found.failures[ids[0]]
    assert found.failures[ids[0]].startswith("UserTaskRefused: module 'tests.user_tasks_forbidden'")
    assert "module 'os' is not allowed" in found.failures[ids[1]]
    assert "is defined in 'posix', which LAB_TASK_MODULES does not allow" in found.failures[ids[2]]
    assert not marks["forbidden"].exists()  # refused by name, never imported
    assert [r["output"] for r in found.records] == [{"args": [1, "a"], "kwargs": {"k": True}}]
    assert found.records[0]["workload"] == f"{SAMPLE}:echo"
    assert found.records[0]["thread_cpu"] >= 0 and found.records[0]["pool"] == "threads"
    assert marks["sample"].exists()


def test_bad_results_and_calls_fail_only_their_own_task(celery_app: Any, settings: Any, user_worker: str) -> None:
    echo = {"function": f"{SAMPLE}:echo", "args": ["ok"]}
    bad = {
        "unencodable": {"function": f"{SAMPLE}:unencodable"},
        "too big": {"function": f"{SAMPLE}:too_big"},
        "async": {"function": f"{SAMPLE}:coroutine"},
        "not callable": {"function": f"{SAMPLE}:NOT_CALLABLE"},
        "missing": {"function": f"{SAMPLE}:nowhere"},
        "shape": {"function": "no colon here"},
        "args cap": {"function": f"{SAMPLE}:echo", "args": ["x" * 70_000]},
        "args type": {"function": f"{SAMPLE}:echo", "args": {"not": "a list"}},
    }
    ids, found = run(celery_app, settings, user_worker, [echo, *bad.values(), echo])
    reasons = dict(zip(bad, (found.failures.get(task_id, "") for task_id in ids[1:-1]), strict=True))
    assert len(found.records) == 2 and all(r["output"] == {"args": ["ok"], "kwargs": {}} for r in found.records)
    assert reasons["unencodable"].startswith("UnusableResult: tests.user_tasks_sample:unencodable returned a set")
    assert "above the cap 65536 (LAB_MAX_RESULT_BYTES)" in reasons["too big"]
    assert "is async def: it runs on a pool that runs coroutines, not on threads" in reasons["async"]
    assert "is a int, not a function" in reasons["not callable"]
    assert "has no attribute 'nowhere'" in reasons["missing"]
    assert "a task is named package.module:function" in reasons["shape"]
    assert "(LAB_MAX_TASK_ARGS_BYTES)" in reasons["args cap"]
    assert "args must be a JSON list" in reasons["args type"]
    assert all(len(reason) < 300 for reason in reasons.values())


def test_the_asyncio_pool_runs_an_async_user_task_and_refuses_a_sync_one(celery_app: Any, settings: Any) -> None:
    queue = f"user-async-{uuid.uuid4().hex[:6]}"
    with running_worker(celery_app, "asyncio", 4, queue, env=child_env(LAB_TASK_MODULES=SAMPLE)):
        calls = [{"function": f"{SAMPLE}:coroutine", "kwargs": {"ms": 7}}, {"function": f"{SAMPLE}:echo"}]
        ids, found = run(celery_app, settings, queue, calls)
    assert [(r["workload"], r["output"], r["pool"]) for r in found.records] == [(f"{SAMPLE}:coroutine", 7, "asyncio")]
    assert "echo is synchronous: the asyncio pool runs only async def workloads" in found.failures[ids[1]]


def one_line_error(done: Any) -> str:
    """The single stderr line of a refused command (no traceback)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("producer: error: "), done.stderr
    return str(lines[0])


@pytest.mark.parametrize(
    ("argv", "allowed", "expected"),
    [
        (["compare", "--task", f"{SAMPLE}:wait", "--args", "[1,"], SAMPLE, "--args is not JSON"),
        (["sweep", "--task", f"{SAMPLE}:wait", "--kwargs", "{'ms': 1}"], SAMPLE, "--kwargs is not JSON"),
        (["compare", "--task", f"{FORBIDDEN}:touch"], SAMPLE, "is not allowed by LAB_TASK_MODULES"),
        (["compare", "--task", f"{SAMPLE}:wait"], "", "empty: no user task may run"),
        (["compare", "--task", "nosuchpkg.tasks:run"], "nosuchpkg", "cannot import 'nosuchpkg.tasks'"),
        (
            ["compare", "--task", f"{SAMPLE}:coroutine", "--pools", "threads"],
            SAMPLE,
            "is async def: it runs on a pool that runs coroutines, not on threads",
        ),
        (["sweep", "--task", f"{SAMPLE}:echo", "--pool", "asyncio"], SAMPLE, "the asyncio pool runs only async def"),
        (["compare", "--args", "[1]"], SAMPLE, "--args and --kwargs go with --task"),
        (["probe"], SAMPLE, "give --workload"),
    ],
)
def test_bad_task_options_are_one_line_before_anything_starts(
    argv: list[str], allowed: str, expected: str, tmp_path: Path
) -> None:
    mark = tmp_path / "forbidden"
    done = producer(*argv, timeout=60, LAB_TASK_MODULES=allowed, USER_TASKS_FORBIDDEN_MARK=str(mark))
    assert done.returncode == 2
    assert expected in one_line_error(done)
    assert not mark.exists()


def test_compare_runs_a_user_task_end_to_end(settings: Any) -> None:
    spec = f"{SAMPLE}:wait"
    done = producer(
        *("compare", "--task", spec, "--kwargs", '{"ms": 20}', "--pools", "solo,threads"),
        *("--count", "4", "--repeat", "1", "--json"),
        timeout=300,
        LAB_TASK_MODULES=SAMPLE,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["plan"]["task"] == {"function": spec, "call_args": [], "call_kwargs": {"ms": 20}}
    assert record["plan"]["workloads"] == [spec]
    assert record["classifications"][spec]["label"] == "waits"
    cells = {cell["pool"]: cell for cell in record["cells"]}
    assert set(cells) == {"solo", "threads", "inproc-threads", "inproc-processes"}
    assert all(c["completed"] == 4 and c["failed"] == 0 and c["lost"] == 0 for c in cells.values())
    assert f"{spec}: waits — solo: thread CPU ÷ wall" in done.stderr


def test_sweep_runs_a_user_task_and_records_it(settings: Any) -> None:
    spec = f"{SAMPLE}:hold_gil"
    done = producer(
        *("sweep", "--task", spec, "--kwargs", '{"n": 20000}', "--pool", "threads", "--concurrency", "1,2"),
        *("--count", "6", "--no-probe", "--json"),
        timeout=300,
        LAB_TASK_MODULES=SAMPLE,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["task"]["function"] == spec and record["workload"] == spec
    assert record["classification"] is None
    assert [p["completed"] for p in record["points"]] == [6, 6]


def test_the_examples_run_in_process_and_return_json(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker import user_call

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "examples"))
    allowed = settings.model_copy(update={"task_modules": "usertasks"})
    calls = {"usertasks.orders:revenue_report": {"year": 2023, "top": 2}, "usertasks.logs:triage": {"events": 300}}
    for spec, kwargs in calls.items():
        value = user_call.resolve(spec, allowed)(**kwargs)
        user_call.check_result(spec, value, allowed)
        assert value and isinstance(value, dict)
    assert len(value["rules"]) > 3 and value["events"] == 300
