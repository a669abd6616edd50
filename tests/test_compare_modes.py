"""Stock and lab Celery side by side, memory per cell and measured consumer ceilings, on real workers and Redis.

`--celery both` runs every pool cell in both modes (workers of each mode on their own queue), a running
worker of the other mode is never reused, every Celery cell has positive memory figures and a measured
consumer ceiling, and no cell is faster than its own bound by more than its repeats' noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from producer.measure.compare_table import TABLE_WIDTH, compare_table
from producer.measure.modes import mode_ratios
from producer.measure.records import load_record
from producer.processes import fleet
from producer.processes.queue_consumers import consumers
from tests.helpers import LOG_DIR, child_env, producer

POOLS = ("solo", "threads")
MODES = ("stock", "lab")


def _only_record(results: Path, kind: str) -> Path:
    paths = sorted(results.glob(f"{kind}-*.json"))
    assert len(paths) == 1, paths
    return paths[0]


@pytest.fixture(scope="module")
def both_modes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    """One `compare --celery both` over solo and threads, noop and a short sleep: (record, stdout, path)."""
    results = tmp_path_factory.mktemp("both")
    result = producer(
        "compare",
        "--workloads",
        "noop,io_sleep",
        "--pools",
        ",".join(POOLS),
        "--count",
        "20",
        "--repeat",
        "2",
        "--sizes",
        "io_sleep=5",
        "--celery",
        "both",
        timeout=400,
        LAB_RESULTS_DIR=str(results),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    path = _only_record(results, "compare")
    return json.loads(path.read_text()), result.stdout, path


def test_both_modes_run_every_pool_cell_and_say_which_celery_ran(
    both_modes: tuple[dict[str, Any], str, Path],
) -> None:
    record, stdout, _ = both_modes
    assert record["plan"]["celery"] == "both"
    cells = {(c["workload"], c["pool"], c["celery"]) for c in record["cells"]}
    celery_cells = {(w, p, m) for w in ("noop", "io_sleep") for p in POOLS for m in MODES}
    baselines = {(w, p, None) for w in ("noop", "io_sleep") for p in ("inproc-threads", "inproc-processes")}
    assert cells == celery_cells | baselines
    for run in record["runs"]:
        assert run["celery"] == (None if run["pool"].startswith("inproc") else run["celery"])
        assert run["pool"].startswith("inproc") or run["celery"] in MODES
    for pool in POOLS:
        for mode in MODES:
            info = record["pools"][f"{pool}/{mode}"]
            assert info["celery"] == mode and info["origin"], info
    assert {(r["workload"], r["pool"]) for r in record["mode_ratios"]} == {
        (w, p) for w in ("noop", "io_sleep") for p in POOLS
    }
    assert all(r["lab_over_stock"] > 0 for r in record["mode_ratios"])
    modes = record["celery_modes"]
    assert set(modes) == set(MODES) and modes["stock"]["changes"] == [] and modes["lab"]["changes"]
    for described in modes.values():
        assert all(described[key] for key in ("python", "celery", "kombu", "redis_py"))
        assert (
            f"Celery {described['celery']}, kombu {described['kombu']}, redis-py {described['redis_py']}, "
            f"Python {described['python']}" in stdout
        )
    assert "stock Celery:" in stdout and "lab mode (" in stdout and "lab ÷ stock" in stdout


def test_memory_is_positive_for_every_celery_pool(both_modes: tuple[dict[str, Any], str, Path]) -> None:
    record, _, _ = both_modes
    for item in [*record["cells"], *record["runs"]]:
        memory = item["memory"]
        if item["pool"] == "inproc-threads":
            assert memory is None  # its threads live in the producer: no pool memory of their own
            continue
        assert memory is not None, item["pool"]
        for key in ("idle_pss_mb", "idle_uss_mb", "peak_pss_mb", "peak_uss_mb", "per_slot_pss_mb", "per_slot_uss_mb"):
            assert memory[key] > 0, (item["pool"], key, memory)
        assert memory["processes"] >= 1 and memory["samples"] >= 1


def test_consumer_ceilings_are_measured_and_no_cell_beats_its_bound_beyond_noise(
    both_modes: tuple[dict[str, Any], str, Path],
) -> None:
    record, stdout, _ = both_modes
    for name, info in record["pools"].items():
        if not name.startswith("inproc"):
            assert info["consumer_ceiling_tps"] > 0, name  # the no-op probe on these very workers
    for cell in record["cells"]:
        if cell["kind"] == "celery":
            assert cell["consumer_ceiling_tps"] > 0, cell
        if cell["workload"] == "noop" and cell["kind"] == "celery":
            assert cell["consumer_ceiling_tps"] == cell["throughput_median"]  # a no-op cell is its own ceiling
        bound = cell["bottleneck"]["bound"]
        if bound:
            noise = (cell["throughput_max"] - cell["throughput_min"]) / cell["throughput_median"]
            assert cell["throughput_median"] / bound <= 1 + noise + 1e-9, (cell, noise)
    assert "× 600/s" not in stdout and "no-op probe" in stdout


def test_the_table_fits_120_columns_and_the_record_reads_back(both_modes: tuple[dict[str, Any], str, Path]) -> None:
    _, _, path = both_modes
    console = Console(width=200, record=True)
    console.print(compare_table(load_record(path, "compare")))
    table_lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in table_lines) <= TABLE_WIDTH


def test_a_running_worker_of_the_other_mode_is_not_reused(celery_app: Any, settings: Any, tmp_path: Path) -> None:
    with fleet.running_workers(
        celery_app,
        settings,
        "solo",
        1,
        "solo",
        names=["modes-lab-solo"],
        env=child_env(LAB_CELERY_MODE="lab"),
        log_dir=LOG_DIR,
    ) as lab_worker:
        node = lab_worker.nodes[0]
        assert consumers(celery_app, ["solo"])["solo"][node].mode == "lab"  # read from the worker's own conf
        stock_dir, lab_dir = tmp_path / "stock", tmp_path / "lab"
        base = ("compare", "--workloads", "noop", "--pools", "solo", "--count", "10", "--repeat", "1", "--no-baselines")
        stock = producer(*base, timeout=180, LAB_RESULTS_DIR=str(stock_dir))  # the default: stock
        assert stock.returncode == 0, stock.stderr[-3000:]
        stats = celery_app.control.inspect(destination=[node], timeout=2).stats() or {}
        assert stats[node]["total"] == {}, stats[node]["total"]  # the lab worker ran none of the stock batches
        lab = producer(*base, "--celery", "lab", timeout=180, LAB_RESULTS_DIR=str(lab_dir))
        assert lab.returncode == 0, lab.stderr[-3000:]
        stats = celery_app.control.inspect(destination=[node], timeout=2).stats() or {}
        assert stats[node]["total"].get("lab.noop", 0) >= 10
    started = json.loads(_only_record(stock_dir, "compare").read_text())["pools"]["solo"]
    assert (started["celery"], started["started_here"], started["queue"]) == ("stock", True, "solo.stock")
    assert "run lab, not stock" in started["origin"] and "run lab, not stock" in stock.stderr
    reused = json.loads(_only_record(lab_dir, "compare").read_text())["pools"]["solo"]
    assert (reused["celery"], reused["started_here"], reused["queue"]) == ("lab", False, "solo")
    assert reused["nodes"] == [node] and "reused" in reused["origin"]


def _cell(pool: str, celery: str, median: float, low: float, high: float, runs: int = 2) -> dict[str, Any]:
    return {
        "workload": "noop",
        "pool": pool,
        "celery": celery,
        "runs": runs,
        "throughput_median": median,
        "throughput_min": low,
        "throughput_max": high,
    }


def test_a_ratio_is_beyond_noise_only_outside_both_cells_repeat_ranges() -> None:
    cells = [
        _cell("solo", "stock", 100, 95, 105),
        _cell("solo", "lab", 140, 135, 150),  # 1.40 beyond ±5 % and -4/+7 %
        _cell("threads", "stock", 100, 80, 120),
        _cell("threads", "lab", 115, 110, 120),  # 1.15 inside stock's 0.8–1.2
        _cell("gevent", "stock", 100, 100, 100, runs=1),
        _cell("gevent", "lab", 150, 150, 150, runs=1),  # one repeat: no noise estimate, never beyond it
    ]
    ratios = {r.pool: r for r in mode_ratios(cells)}
    assert ratios["solo"].lab_over_stock == pytest.approx(1.4) and ratios["solo"].beyond_noise
    assert not ratios["threads"].beyond_noise and not ratios["gevent"].beyond_noise


@pytest.mark.parametrize("value", ["Stock ", "lab", "BOTH"])
def test_celery_choice_is_case_blind(value: str) -> None:
    from producer.measure.modes import parse_celery

    assert parse_celery(value)[0] in MODES


def test_a_bad_celery_choice_is_one_line_and_exit_2() -> None:
    result = producer("compare", "--celery", "fast")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "--celery must be one of stock, lab, both, got 'fast'" in result.stderr
