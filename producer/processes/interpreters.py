"""Which Python a pool's worker runs on, and the environment that selects and labels it (from the catalogue).

A pool's ``interpreter`` (catalogue) names its Python: ``default`` (this one), ``freethreaded``
(CPython 3.13t, ``threads_nogil``) or ``3.13`` (the default-build CPython 3.13, ``interpreters``:
it needs 3.13's ``_interpreters``). The last two are the venvs `make pythons` builds, or the
interpreters ``LAB_FREETHREADED_PYTHON`` / ``LAB_PY313_PYTHON`` name. A pool whose interpreter is
not built is skipped (:func:`missing_reason`); whether a free-threaded worker's GIL is really off is
checked by importing the worker on it.
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


def _configured(explicit: str, venv: Path) -> str | None:
    if explicit:
        return explicit
    candidate = venv / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def freethreaded_python(settings: LabSettings) -> str | None:
    """The free-threaded interpreter: ``LAB_FREETHREADED_PYTHON``, else the venv `make pythons` builds."""
    return _configured(settings.freethreaded_python, settings.freethreaded_venv)


def py313_python(settings: LabSettings) -> str | None:
    """The default-build CPython 3.13: ``LAB_PY313_PYTHON``, else the venv `make pythons` builds."""
    return _configured(settings.py313_python, settings.py313_venv)


def interpreter_for(entry: catalogue.Pool, settings: LabSettings) -> str | None:
    """The Python a pool's worker runs on (None: that interpreter is not built here)."""
    if entry.interpreter == "freethreaded":
        return freethreaded_python(settings)
    if entry.interpreter == "3.13":
        return py313_python(settings)
    return sys.executable


#: What builds each interpreter, and the setting that names one built elsewhere.
_HOW_TO_GET = {
    "freethreaded": ("the free-threaded CPython 3.13t", "LAB_FREETHREADED_PYTHON"),
    "3.13": ("the default-build CPython 3.13", "LAB_PY313_PYTHON"),
}


def missing_reason(entry: catalogue.Pool, settings: LabSettings) -> str | None:
    """Why ``entry``'s worker cannot start here (its interpreter is not built), in one line; None if it can."""
    if interpreter_for(entry, settings) is not None:
        return None
    what, variable = _HOW_TO_GET.get(entry.interpreter, (entry.interpreter, ""))
    return f"pool {entry.name} needs {what}: run `make pythons` (a few minutes, cached) or set {variable}"


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
