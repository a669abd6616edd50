"""A catalogue extension for tests: one workload and one pool, added through the catalogue alone.

Loaded with ``LAB_CATALOGUE_EXTENSIONS=tests.catalogue_extension`` by the producer and by every
worker it starts, exactly as a user's own extension would be; no file of the lab is touched.
"""

from __future__ import annotations

from typing import Any

from config import catalogue


def sum_squares(n: int) -> dict[str, Any]:
    """Pure-Python sum of the first ``n`` squares (the GIL is held throughout)."""
    return {"sum": sum(i * i for i in range(n)) % 1_000_003}


catalogue.add_pool(
    catalogue.Pool(
        "threads4",
        "the threads pool with four threads",
        "threads",
        lambda _: 4,
        "4 threads: a small threads pool",
        gil_per_process=True,
        process_per_slot=False,
        tasks_on_main_thread=False,
        colour="#9467bd",
        in_default_compare=False,
    )
)
catalogue.add_workload(
    catalogue.Workload(
        "sum_squares",
        "tests.catalogue_extension:sum_squares",
        "sum of squares in pure Python (GIL held)",
        "number of squares summed",
        20_000,
        "max_cpu_size",
        "cpu",
        releases_gil=False,
        default_pool="threads4",
        in_default_compare=False,
    )
)
