"""JSON records of measurement runs (compare, sweep): the environment, the settings and the figures."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from config.settings import LabSettings
from producer.batch.stats import percentile
from producer.processes.redis_server import redact

#: Per-run latency samples kept in a record (enough for a distribution plot, small enough to diff).
MAX_SAMPLES = 400


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def environment(settings: LabSettings, **extra: Any) -> dict[str, Any]:
    """Where a run happened: cores, load, Python and library versions, and the settings (no secrets)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    safe_settings = settings.model_dump(mode="json", exclude={"flower_password"})
    safe_settings["broker_url"] = redact(settings.broker_url)
    safe_settings["result_backend"] = redact(settings.result_backend)
    return {
        "cores": os.cpu_count(),
        "load_average": [round(v, 2) for v in load],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "celery": _version("celery"),
        "kombu": _version("kombu"),
        "redis_py": _version("redis"),
        "settings": safe_settings,
        **extra,
    }


def timing_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-task timings of one run: percentiles of latency, queue wait, run time and thread CPU."""
    def pct(values: list[float]) -> dict[str, float | None]:
        return {f"p{q}": _finite(percentile(values, q)) for q in (50, 95, 99)} | {
            "mean": _finite(sum(values) / len(values)) if values else None}

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


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, Paths strings."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_record(settings: LabSettings, kind: str, body: dict[str, Any]) -> Path:
    """Write ``results/<kind>-<UTC time>.json`` and return its path."""
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = settings.results_dir / f"{kind}-{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = settings.results_dir / f"{kind}-{stamp}-{suffix}.json"
    record = {"kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **body}
    path.write_text(json.dumps(clean(record), indent=1))
    return path


def load_records(results_dir: Path, kind: str) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable record of ``kind`` in ``results_dir``, oldest first."""
    found = []
    for path in sorted(results_dir.glob(f"{kind}-*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return found
