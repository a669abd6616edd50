"""Which Python a pool's worker runs on, and the environment that selects and labels it (from the catalogue).

A pool on another interpreter (``threads_nogil``: free-threaded CPython) is skipped where that
interpreter is not built; whether its GIL is really off is checked by importing the worker on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import catalogue
from config.settings import LabSettings
from producer.errors import LabError

ROOT = Path(__file__).resolve().parents[2]


def freethreaded_python(settings: LabSettings) -> str | None:
    """The free-threaded interpreter: ``LAB_FREETHREADED_PYTHON``, else the venv `make freethreaded` builds."""
    if settings.freethreaded_python:
        return settings.freethreaded_python
    candidate = settings.freethreaded_venv / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def interpreter_for(entry: catalogue.Pool, settings: LabSettings) -> str | None:
    """The Python a pool's worker runs on (None: that interpreter is not built here)."""
    if entry.interpreter == "freethreaded":
        return freethreaded_python(settings)
    return sys.executable


def pool_env(entry: catalogue.Pool) -> dict[str, str]:
    """Environment that selects and labels a pool's worker: its catalogue env, ``-P custom`` class, label."""
    return {**entry.env, **entry.pool_option()[1], "LAB_POOL_LABEL": entry.name}


def gil_enabled_with_worker(entry: catalogue.Pool, python: str) -> bool:
    """Import the worker's task modules on ``python`` (as a worker would) and report ``sys._is_gil_enabled()``."""
    env = {**os.environ, **pool_env(entry), "PYTHONPATH": str(ROOT)}
    code = "import sys, worker.tasks; print(getattr(sys, '_is_gil_enabled', lambda: True)())"
    try:
        output = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise LabError(f"{entry.interpreter} Python {python} cannot import the worker: {error}") from None
    return output != "False"
