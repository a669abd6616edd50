"""Free-threading, checked: a threads_nogil worker refuses to start, with the reason, when the GIL is on.

The worker checks ``sys._is_gil_enabled()`` at start (worker/app.py, ``celeryd_init``) against the
catalogue's ``requires_gil_off``. Skipped where `make pythons` has not built the interpreter used.
"""

from __future__ import annotations

import subprocess

import pytest

from config import catalogue
from config.settings import get_settings
from producer.processes import fleet
from producer.processes.interpreters import freethreaded_python, py313_python
from tests.helpers import LOG_DIR, child_env
from worker.runtime import gil_problem

NOGIL = catalogue.pool("threads_nogil")


def _start_and_fail(python: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Start a threads_nogil worker on ``python`` as the lab does, ``env`` over its environment (None: unset);
    it must exit by itself, before serving."""
    launch = fleet.worker_launch(get_settings(), NOGIL.name, 2, NOGIL.queue, "nogil-refused", python=python,
                                 env=child_env(), log_dir=LOG_DIR)  # fmt: skip
    worker_env = {name: value for name, value in {**launch.env, **env}.items() if value is not None}
    return subprocess.run(launch.command, env=worker_env, capture_output=True, text=True, timeout=120, check=False)


def _assert_refused(result: subprocess.CompletedProcess[str], python: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"worker: error: pool threads_nogil needs the GIL off, but it is on in {python}")


def test_free_threaded_worker_with_python_gil_1_refuses_to_start() -> None:
    python = freethreaded_python(get_settings())
    if python is None:
        pytest.skip("the free-threaded CPython 3.13t is not built (make pythons)")
    result = _start_and_fail(python, PYTHON_GIL="1")
    _assert_refused(result, python)
    assert "a free-threaded build" in result.stderr and "PYTHON_GIL=1" in result.stderr


def test_threads_nogil_on_the_gil_build_refuses_to_start() -> None:
    python = py313_python(get_settings())
    if python is None:
        pytest.skip("the default-build CPython 3.13 is not built (make pythons)")
    # PYTHON_GIL=0 (the pool's environment) makes a GIL build itself refuse to start (a fatal error);
    # without it, the worker's own check is what stops it.
    result = _start_and_fail(python, PYTHON_GIL=None)
    _assert_refused(result, python)
    assert "a GIL (default) build" in result.stderr


def test_only_pools_that_require_the_gil_off_are_checked() -> None:
    assert NOGIL.requires_gil_off and not catalogue.pool("threads").requires_gil_off
    assert gil_problem(catalogue.pool("threads")) is None
    assert gil_problem(None) is None
