"""Workload functions of the pool tests' catalogue extension (tests/subinterp_extension.py).

Kept apart from the extension: a subinterpreter imports this module, and the extension imports the
lab's ``config`` package, whose settings need pydantic-core, which cannot load in a subinterpreter.
"""

from __future__ import annotations

from typing import Any


def raises(size: int) -> dict[str, Any]:
    """Fail on purpose, with a message the test looks for."""
    raise ValueError(f"raised on purpose with size {size}")


async def sleeps(size: int) -> dict[str, Any]:
    """An ``async def`` workload (the pools under test refuse it; none awaits it)."""
    return {"size": size}
