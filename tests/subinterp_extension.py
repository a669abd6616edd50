"""A catalogue extension for the pool tests (``LAB_CATALOGUE_EXTENSIONS=tests.subinterp_extension``).

Workloads the built-in catalogue has no need for: one that raises, one whose module is a real C
extension without multi-interpreter support (psutil: ``_psutil_linux`` refuses to load in a
subinterpreter), and an ``async def`` one that only a pool running coroutines accepts.
"""

from __future__ import annotations

from config import catalogue

# fmt: off
catalogue.add_workload(catalogue.Workload(
    "raises", "tests.subinterp_workloads:raises", "raises ValueError", "any n", 1, "max_cpu_size", "cpu",
    releases_gil=False, default_pool="solo", in_default_compare=False))
catalogue.add_workload(catalogue.Workload(
    "needs_psutil", "psutil:cpu_count", "imports psutil (a C extension with single-phase init)", "unused (0)", 0,
    None, "overhead", releases_gil=False, default_pool="solo", arguments=(), in_default_compare=False))
catalogue.add_workload(catalogue.Workload(
    "sleeps_async", "tests.subinterp_workloads:sleeps", "an async def workload", "any n", 1, "max_io_ms", "wait",
    releases_gil=True, default_pool="solo", in_default_compare=False, coroutine=True))
# fmt: on
