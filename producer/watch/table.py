"""The watch table: one row per worker, one per pool, and the total, from a :class:`Snapshot`."""

from __future__ import annotations

from rich.table import Table

from producer.watch.rates import Row, Snapshot


def _row_cells(row: Row, label: str) -> list[str]:
    return [
        label,
        row.pool,
        str(row.online),
        f"{row.rate:,.1f}",
        f"{row.in_flight:,}",
        f"{row.running:,}",
        f"{row.succeeded:,}",
        f"{row.failed:,}",
    ]


def render(snap: Snapshot, *, final: bool = False) -> Table:
    """The throughput table: one row per worker, one per pool, and the total."""
    what = "final" if final else "live"
    table = Table(
        title=f"Celery throughput ({what}; tasks/s over the last {snap.window_s:g} s; watched {snap.elapsed_s:.0f} s)",
        title_justify="left",
    )
    for name, justify in (
        ("worker", "left"),
        ("pool", "left"),
        ("online", "right"),
        ("tasks/s", "right"),
        ("in flight", "right"),
        ("running", "right"),
        ("succeeded", "right"),
        ("failed", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for index, row in enumerate(snap.workers):
        table.add_row(*_row_cells(row, row.worker), end_section=index == len(snap.workers) - 1)
    for index, row in enumerate(snap.pools):
        table.add_row(*_row_cells(row, f"pool {row.pool}"), style="cyan", end_section=index == len(snap.pools) - 1)
    table.add_row(*_row_cells(snap.total, "total"), style="bold")
    table.caption = f"sent {snap.sent:,} ({snap.sent_rate:,.1f}/s) · peak {snap.peak_rate:,.1f} tasks/s" + (
        "" if final else " · Ctrl-C to stop"
    )
    return table
