"""A module the tests never allow (LAB_TASK_MODULES): importing it leaves a mark, so a test can see it never was."""

from __future__ import annotations

import os
from pathlib import Path

_MARK = os.environ.get("USER_TASKS_FORBIDDEN_MARK")
if _MARK:
    Path(_MARK).write_text(f"imported by {os.getpid()}\n")


def touch() -> str:
    """Would run if the allow-list let it."""
    return "ran"
