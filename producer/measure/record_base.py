"""The base of every record model: JSON-safe values, the ``created`` stamp, and :class:`RecordPart`."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


def utc_now() -> str:
    """The ``created`` stamp of a record: UTC, ISO 8601, seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, Paths strings."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class RecordPart(BaseModel):
    """A part of a record: extra keys kept, ``part["name"]`` and ``part.get("name")`` still work."""

    model_config = ConfigDict(extra="allow")

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        """The field's value, or ``default`` when the record has no such field."""
        return getattr(self, name, default)
