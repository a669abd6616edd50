"""Schema-3 records with every new part (memory, both Celery modes, ceilings, classes, advise), built by the models.

The figures are made up (the shape matters here); the environment is the real one. Names a user
controls (the task, its arguments) carry HTML on purpose: the report must escape them.
"""

from __future__ import annotations

from typing import Any

from config.settings import LabSettings
from producer.measure.advise_record import AdviseRecord
from producer.measure.record_models import CompareRecord
from producer.measure.records import environment

#: A user's task whose name and arguments would inject markup if the report did not escape them.
EVIL_TASK = {"function": "mytasks.jobs:<script>alert(1)</script>", "call_args": ["<b>x</b>"], "call_kwargs": {}}
#: Fields schema 3 added; a schema-2 record has none of them (schema 1 also lacks schema_version and celery_mode).
NEW_TOP = ("celery_modes", "mode_ratios", "classifications")
NEW_CELL = ("celery", "memory", "consumer_ceiling_tps")
PICK_COMMAND = "celery -A worker.app worker -P threads -c 16 -Q threads --without-mingle"


def _timings(latency_s: float) -> dict[str, Any]:
    one = {"p50": latency_s, "p95": latency_s * 2, "p99": latency_s * 3, "mean": latency_s}
    return {"latency_s": one, "queue_wait_s": one, "run_time_s": one, "thread_cpu_s": one}


def memory(processes: int, slots: int, peak: float) -> dict[str, Any]:
    """MemoryFigures as a dict: idle 80% of peak, USS 60% of PSS."""
    return {
        "processes": processes,
        "slots": slots,
        "idle_pss_mb": peak * 0.8,
        "idle_uss_mb": peak * 0.5,
        "peak_pss_mb": peak,
        "peak_uss_mb": peak * 0.6,
        "per_slot_pss_mb": peak / slots,
        "per_slot_uss_mb": peak * 0.6 / slots,
        "samples": 5,
    }


def _cell(pool: str, mode: str | None, tps: float, slots: int, peak: float | None) -> dict[str, Any]:
    kind = "in-process" if pool.startswith("inproc-") else "celery"
    return {
        "workload": "noop",
        "pool": pool,
        "kind": kind,
        "concurrency": slots,
        "runs": 2,
        "throughput_median": tps,
        "throughput_min": tps * 0.95,
        "throughput_max": tps * 1.05,
        "latency_p50_s": 0.01,
        "latency_p95_s": 0.02,
        "thread_cpu_mean_s": 0.0001,
        "run_time_mean_s": 0.0001,
        "cpu_share": 1.0,
        "ideal_throughput": None,
        "efficiency": None,
        "submitted": 200,
        "completed": 200,
        "failed": 0,
        "lost": 0,
        "checks_agree": True,
        "bottleneck": {"name": "consumer ceiling", "bound": 700.0, "share": tps / 700, "figures": "1 × 700/s"},
        "celery": mode,
        "memory": memory(3 if pool == "prefork" else 1, slots, peak) if peak else None,
        "consumer_ceiling_tps": 700.0 if kind == "celery" else None,
    }


def _run(pool: str, mode: str | None, repeat: int, tps: float) -> dict[str, Any]:
    return {
        "workload": "noop",
        "pool": pool,
        "repeat": repeat,
        "submitted": 100,
        "completed": 100,
        "failed": 0,
        "lost": 0,
        "throughput": tps,
        "wall_s": 100 / tps,
        "processes": 1,
        "worker_cpu_s": 0.1,
        "timings": _timings(0.01),
        "latency_samples": [0.005, 0.01, 0.02],
        "check": {"backend_results": 100, "producer_throughput": tps, "agree": True, "note": "ok"},
        "celery": mode,
    }


def both_modes_compare(settings: LabSettings) -> CompareRecord:
    """A `--celery both` compare of noop on prefork and threads, memory per cell, a baseline 60× the pools."""
    found = environment(settings).celery_mode
    assert found is not None
    stock = found.model_copy(update={"mode": "stock", "changes": []})
    lab = stock.model_copy(update={"mode": "lab", "changes": ["one Redis client per channel"]})
    figures = [("prefork", "stock", 600.0, 2, 90.0), ("prefork", "lab", 900.0, 2, 92.0)]
    figures += [("threads", "stock", 480.0, 16, 50.0), ("threads", "lab", 740.0, 16, 51.0)]
    cells = [_cell(*f) for f in figures] + [_cell("inproc-threads", None, 60_758.0, 16, None)]
    runs = [_run(pool, mode, r, tps) for pool, mode, tps, _, _ in figures for r in range(2)]
    runs += [_run("inproc-threads", None, r, 60_758.0) for r in range(2)]
    return CompareRecord.model_validate(
        {
            "environment": environment(settings, interpreters=None, load_before=0.2, busy_before=False),
            "plan": {
                "workloads": ["noop"],
                "pools": ["prefork", "threads"],
                "count": 100,
                "repeat": 2,
                "sizes": {"noop": 0},
                "baselines": True,
                "timeout_s": 60.0,
                "celery": "both",
                "task": EVIL_TASK,
            },
            "pools": {
                pool: {"concurrency": slots, "nodes": [f"{pool}@here"], "started_here": True, "concurrency_rule": "r"}
                for pool, slots in (("prefork", 2), ("threads", 16))
            },
            "runs": runs,
            "cells": cells,
            "verdicts": {"noop": "noop: prefork 1.2× threads (in-process threads: 60,758/s)"},
            "celery_modes": {"stock": stock, "lab": lab},
            "mode_ratios": [
                {
                    "workload": "noop",
                    "pool": p,
                    "stock_tps": s,
                    "lab_tps": la,
                    "lab_over_stock": la / s,
                    "beyond_noise": True,
                }
                for p, s, la in (("prefork", 600.0, 900.0), ("threads", 480.0, 740.0))
            ],
            "classifications": {"noop": _classification()},
        }
    )


def _classification() -> dict[str, Any]:
    return {
        "label": "waits",
        "cpu_per_wall": 0.02,
        "task_s": 0.1,
        "threads_speedup": 1.9,
        "tasks": 8,
        "figures": "thread CPU 2 ms of 100 ms wall",
    }


def _trial(pool: str, slots: int, tps: float, p95_s: float, ruled_out: list[str]) -> dict[str, Any]:
    return {
        "pool": pool,
        "concurrency": slots,
        "workers": 1,
        "celery": "stock",
        "submitted": 50,
        "completed": 50,
        "failed": 0,
        "lost": 0,
        "throughput": tps,
        "latency_p95_s": p95_s,
        "memory": memory(1, slots, 50.0),
        "cores_used": 0.4,
        "bottleneck": {"name": "concurrency÷latency", "bound": tps * 1.1, "share": 0.9, "figures": "16 / 100 ms"},
        "reason": "start" if slots == 2 else "double concurrency",
        "ruled_out": ruled_out,
    }


def advise_record(settings: LabSettings) -> AdviseRecord:
    """An advise record for a waiting user task: threads -c 16 recommended, threads -c 64 ruled out by p95."""
    trials = [
        _trial("prefork", 2, 19.0, 0.9, []),
        _trial("threads", 16, 150.0, 0.15, []),
        _trial("threads", 64, 160.0, 0.6, ["max_p95_ms: p95 600 ms > 500 ms"]),
    ]
    return AdviseRecord.model_validate(
        {
            "environment": environment(settings),
            "workload": "user",
            "task": EVIL_TASK,
            "count": 50,
            "classification": _classification(),
            "constraints": {"max_p95_ms": 500.0, "max_memory_mb": None, "budget_s": 180.0},
            "trials": trials,
            "recommendation": {
                "trial": trials[1],
                "command": PICK_COMMAND,
                "compose_scale": "docker compose up --scale worker-io=1",
                "why": "the most tasks/s within p95 ≤ 500 ms",
            },
            "runners_up": [trials[0]],
            "ruled_out": {"max_p95_ms": ["threads -c 64"]},
            "elapsed_s": 42.0,
            "notes": ["the task waits: slots beyond the cores help"],
        }
    )


def older_schema(record: dict[str, Any], schema: int) -> dict[str, Any]:
    """The record as schema ``schema`` wrote it: without the fields later schemas added."""
    old = {k: v for k, v in record.items() if k not in NEW_TOP}
    old["cells"] = [{k: v for k, v in cell.items() if k not in NEW_CELL} for cell in record["cells"]]
    old["runs"] = [{k: v for k, v in run.items() if k not in ("celery", "memory")} for run in record["runs"]]
    old["plan"] = {k: v for k, v in record["plan"].items() if k not in ("celery", "task")}
    old["schema_version"] = schema
    if schema == 1:
        del old["schema_version"], old["environment"]["celery_mode"]
    return old
