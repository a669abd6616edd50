"""``make bench``: run every benchmark (each in its own process, with its own Redis and workers), then a summary.

Each benchmark prints its figures and writes ``benchmarks/results/<name>.json``; this prints every ratio
with its goal at the end and writes ``benchmarks/results/summary.json``. The exit status is non-zero
only if a benchmark crashed (a lost task crashes it); a missed goal is reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import RESULTS_DIR, ROOT, child_env

#: Module name → JSON record name, in running order.
BENCHMARKS = {
    "bench_submit": "submit",
    "bench_collect": "collect",
    "bench_noop": "noop",
    "bench_io": "io",
    "bench_cpu": "cpu",
    "bench_pythons": "pythons",
    "bench_spawn": "spawn",
    "bench_scaling": "scaling",
    "bench_asyncio": "asyncio",
    "bench_modes": "modes",
    "bench_brokers": "brokers",
    "bench_advise": "advise",
}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks one after another and summarise their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated module names, e.g. bench_noop,bench_io")
    options = parser.parse_args(argv)
    selected = [name for name in BENCHMARKS if not options.only or name in options.only.split(",")]
    crashed: list[str] = []
    timings: dict[str, float] = {}
    started = time.monotonic()
    for module in selected:
        if not (ROOT / "benchmarks" / f"{module}.py").exists():
            continue
        (RESULTS_DIR / f"{BENCHMARKS[module]}.json").unlink(missing_ok=True)
        print(f"\n### {module}", flush=True)
        begin = time.monotonic()
        status = subprocess.call([sys.executable, "-m", f"benchmarks.{module}"], cwd=ROOT, env=child_env())
        timings[module] = time.monotonic() - begin
        if status != 0:
            crashed.append(module)
    summary = _summary(selected, timings, time.monotonic() - started, crashed)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if crashed else 0


def _summary(selected: list[str], timings: dict[str, float], total_s: float, crashed: list[str]) -> dict:
    rows = []
    print(f"\n=== summary ({total_s:.0f} s in all; medians, noisy shared 2-core machine) ===")
    for module in selected:
        path: Path = RESULTS_DIR / f"{BENCHMARKS[module]}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        for name, ratio in record.get("ratios", {}).items():
            met = ratio.get("met")
            verdict = "reported" if met is None else ("MET" if met else "NOT MET")
            rows.append({"benchmark": module, "ratio": name, **ratio})
            print(f"  {module:14} {name:55} {ratio['value']:>9.2f}  goal {ratio['goal']:>9}  {verdict}")
    for module in crashed:
        print(f"  {module}: CRASHED (see its output above)")
    return {
        "total_s": round(total_s, 1),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "ratios": rows,
        "crashed": crashed,
    }


if __name__ == "__main__":
    sys.exit(main())
