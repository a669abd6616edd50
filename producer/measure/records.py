"""JSON records of measurement runs (compare, sweep): the environment, timing summaries, writing and reading.

The records are the typed models of :mod:`producer.measure.record_models`; every read validates,
so a file of the wrong shape is one line naming it (:class:`RecordError`), never a traceback later.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, overload

from pydantic import ValidationError

from config.celery_mode import describe_mode
from config.settings import LabSettings
from producer.batch.stats import percentile
from producer.errors import LabError
from producer.measure.advise_record import AdviseRecord
from producer.measure.record_models import (
    SCHEMA_VERSION,
    CeleryMode,
    CompareRecord,
    Environment,
    LabRecord,
)
from producer.measure.sweep_record import SweepRecord
from producer.processes.redis_server import redact

#: Record models by ``kind`` (also the file name's prefix: ``compare-<stamp>.json``).
RECORD_MODELS: dict[str, type[CompareRecord] | type[SweepRecord] | type[AdviseRecord]] = {
    "compare": CompareRecord,
    "sweep": SweepRecord,
    "advise": AdviseRecord,
}

#: Per-run latency samples kept in a record (enough for a distribution plot, small enough to diff).
MAX_SAMPLES = 400


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def environment(settings: LabSettings, **extra: Any) -> Environment:
    """Where a run happened: cores, load, Python and library versions, which Celery, the settings (no secrets)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    safe_settings = settings.model_dump(mode="json", exclude={"flower_password"})
    for name, value in safe_settings.items():  # every URL (brokers, backend, RabbitMQ's API) without its password
        if isinstance(value, str) and "://" in value:
            safe_settings[name] = redact(value)
    return Environment.model_validate(
        {
            "cores": os.cpu_count(),
            "load_average": [round(v, 2) for v in load],
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "python_implementation": platform.python_implementation(),
            "celery": _version("celery"),
            "kombu": _version("kombu"),
            "redis_py": _version("redis"),
            "settings": safe_settings,
            "celery_mode": CeleryMode.model_validate(describe_mode(settings)),
            **extra,
        }
    )


def timing_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-task timings of one run: percentiles of latency, queue wait, run time and thread CPU."""

    def pct(values: list[float]) -> dict[str, float | None]:
        return {f"p{q}": _finite(percentile(values, q)) for q in (50, 95, 99)} | {
            "mean": _finite(sum(values) / len(values)) if values else None
        }

    latencies = [r["finished"] - r["enqueued"] for r in records if r.get("enqueued") is not None]
    waits = [r["started"] - r["enqueued"] for r in records if r.get("enqueued") is not None]
    return {
        "latency_s": pct(latencies),
        "queue_wait_s": pct(waits),
        "run_time_s": pct([r["finished"] - r["started"] for r in records]),
        "thread_cpu_s": pct([r["thread_cpu"] for r in records]),
    }


def latency_samples(records: list[dict[str, Any]]) -> list[float]:
    """Up to ``MAX_SAMPLES`` latencies (evenly spaced over the sorted ones), for distribution charts."""
    values = sorted(r["finished"] - r["enqueued"] for r in records if r.get("enqueued") is not None)
    if len(values) <= MAX_SAMPLES:
        return [round(v, 6) for v in values]
    step = (len(values) - 1) / (MAX_SAMPLES - 1)
    return [round(values[round(i * step)], 6) for i in range(MAX_SAMPLES)]


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


class RecordError(LabError):
    """A record that cannot be read or is not of the expected kind and schema: one line naming the file."""


def write_record(settings: LabSettings, record: LabRecord) -> Path:
    """Validate the record as it will be on disk, write ``results/<kind>-<UTC time>.json``, return the path."""
    body = record.as_json()
    try:
        type(record).model_validate(body)
    except ValidationError as error:
        raise RecordError(f"refusing to write an invalid {record.kind} record: {first_problem(error)}") from None
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = settings.results_dir / f"{record.kind}-{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = settings.results_dir / f"{record.kind}-{stamp}-{suffix}.json"
    path.write_text(json.dumps(body, indent=1))
    return path


def first_problem(error: ValidationError) -> str:
    """The first problem as ``where: what`` (``cells: Input should be a valid list``), and how many more.

    A value of the wrong kind comes before a missing field: it says more about what the file is.
    """
    problems = sorted(error.errors(), key=lambda problem: problem["type"] == "missing")
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (f"{where}: {first['msg']}" if where else str(first["msg"])) + more


def _kind_of(path: Path, data: Any) -> str:
    """The record's kind: its ``kind`` field when that names a known kind, else the file name's prefix."""
    named = data.get("kind") if isinstance(data, dict) else None
    if isinstance(named, str) and named in RECORD_MODELS:
        return named
    return path.name.split("-", 1)[0]


def upgrade(data: Any) -> tuple[Any, int]:
    """The record in the current schema and the schema it was written in (no ``schema_version``: 1).

    Schema 1 had the same shape without ``schema_version``: it is upgraded by adding it, and then
    validated like any other record (a schema-1 file that does not fit is refused).
    """
    if not isinstance(data, dict):
        return data, SCHEMA_VERSION
    written = data.get("schema_version", 1)
    if written in (1, 2):  # schema 3 only added optional fields
        return {**data, "schema_version": SCHEMA_VERSION}, written
    return data, written


@overload
def load_record(path: Path, kind: Literal["compare"]) -> CompareRecord: ...
@overload
def load_record(path: Path, kind: Literal["sweep"]) -> SweepRecord: ...
@overload
def load_record(path: Path, kind: Literal["advise"]) -> AdviseRecord: ...
@overload
def load_record(path: Path, kind: None = None) -> CompareRecord | SweepRecord | AdviseRecord: ...
def load_record(path: Path, kind: str | None = None) -> CompareRecord | SweepRecord | AdviseRecord:
    """Read and validate one record (of ``kind``, if given); :class:`RecordError` (one line) if it is not one."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise RecordError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not a record: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RecordError(f"{path}: not a record: not JSON ({error.msg}, line {error.lineno})") from None
    wanted = kind or _kind_of(path, data)
    model = RECORD_MODELS.get(wanted)
    if model is None:
        raise RecordError(f"{path}: not a record: kind {wanted!r} is not one of {', '.join(RECORD_MODELS)}")
    data, written = upgrade(data)
    if not isinstance(written, int) or isinstance(written, bool) or not 1 <= written <= SCHEMA_VERSION:
        raise RecordError(f"{path}: schema_version {written!r} is not one this lab reads (1 to {SCHEMA_VERSION})")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        read_as = "" if written == SCHEMA_VERSION else f" (read as schema {written})"
        raise RecordError(
            f"{path}: not a {wanted} record of schema {SCHEMA_VERSION}{read_as}: {first_problem(error)}"
        ) from None


def record_paths(results_dir: Path, kind: str) -> list[Path]:
    """The files named like records of ``kind`` in ``results_dir``, oldest first (the name holds the UTC time).

    Two records written in the same second are ``<kind>-<stamp>.json`` then ``<kind>-<stamp>-2.json``: the
    suffix orders them (a plain sort would put ``-2`` first).
    """

    def written(path: Path) -> tuple[str, int, str]:
        _, _, rest = path.stem.partition("-")
        stamp, _, suffix = rest.partition("-")
        return stamp, int(suffix) if suffix.isdigit() else 1, path.name

    return sorted(results_dir.glob(f"{kind}-*.json"), key=written)


@overload
def load_records(
    results_dir: Path, kind: Literal["compare"], skipped: list[RecordError] | None = None
) -> list[tuple[Path, CompareRecord]]: ...
@overload
def load_records(
    results_dir: Path, kind: Literal["sweep"], skipped: list[RecordError] | None = None
) -> list[tuple[Path, SweepRecord]]: ...
@overload
def load_records(
    results_dir: Path, kind: Literal["advise"], skipped: list[RecordError] | None = None
) -> list[tuple[Path, AdviseRecord]]: ...
def load_records(
    results_dir: Path, kind: Literal["compare", "sweep", "advise"], skipped: list[RecordError] | None = None
) -> list[tuple[Path, Any]]:
    """Every valid record of ``kind`` in ``results_dir``, oldest first; the bad ones' errors go to ``skipped``."""
    found = []
    for path in record_paths(results_dir, kind):
        try:
            found.append((path, load_record(path, kind)))
        except RecordError as error:
            if skipped is not None:
                skipped.append(error)
    return found
