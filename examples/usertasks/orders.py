"""A reporting query: revenue per region and each region's best products, over an in-memory SQLite database.

The database (300,000 orders over five years, 8 regions, 400 products, ~11 MB, built from a fixed seed)
is built once per process, in memory; each thread opens its own connection to it (``sqlite3``
connections belong to the thread that made them), sharing the one copy. The query joins, filters by year,
groups and ranks with a window function: SQLite runs it in C with the GIL released, so the lab's probe
labels it by what it measures, not by what it is called.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from typing import Any

ORDERS = 300_000
PRODUCTS = 400
REGIONS = ("north", "south", "east", "west", "central", "coast", "mountain", "islands")
YEARS = range(2020, 2025)

SCHEMA = """
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id), region TEXT NOT NULL,
    day TEXT NOT NULL, quantity INTEGER NOT NULL, discount REAL NOT NULL
);
"""

REPORT = """
WITH sales AS (
    SELECT o.region, p.name AS product, p.category,
           SUM(o.quantity * p.price * (1 - o.discount)) AS revenue, SUM(o.quantity) AS units
    FROM orders o JOIN products p ON p.id = o.product_id
    WHERE o.day >= :start AND o.day < :end
    GROUP BY o.region, p.id
), ranked AS (
    SELECT *, RANK() OVER (PARTITION BY region ORDER BY revenue DESC) AS place,
           SUM(revenue) OVER (PARTITION BY region) AS region_revenue
    FROM sales
)
SELECT region, region_revenue, place, product, category, revenue, units
FROM ranked WHERE place <= :top ORDER BY region_revenue DESC, place
"""


#: One database per process, shared by its threads: SQLite's ``memdb`` VFS (3.36+) lets every connection
#: of the process open the same in-memory file, each with its own small page cache, none with a copy.
DATABASE = "file:/usertasks-orders?vfs=memdb"
_build_lock = threading.Lock()
_local = threading.local()
_keeper: list[sqlite3.Connection] = []  # the first connection stays open: the file lives while one does


def _build(db: sqlite3.Connection) -> None:
    """Fill the database from a fixed seed (once per process)."""
    rng = random.Random(20240601)
    db.executescript(SCHEMA)
    categories = ("tools", "garden", "kitchen", "toys", "books", "sports", "office", "audio")
    db.executemany(
        "INSERT INTO products VALUES (?, ?, ?, ?)",
        (
            (i, f"product-{i:03d}", rng.choice(categories), round(rng.lognormvariate(3, 0.8), 2))
            for i in range(PRODUCTS)
        ),
    )
    db.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                i,
                int(PRODUCTS * rng.betavariate(0.6, 2.5)),  # a few products sell most
                rng.choice(REGIONS),
                f"{rng.choice(YEARS)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.randint(1, 9),
                rng.choice((0.0, 0.0, 0.05, 0.1, 0.2)),
            )
            for i in range(ORDERS)
        ),
    )
    db.commit()


def _connection() -> sqlite3.Connection:
    """This thread's connection to the process's database (built by the first caller, under a lock)."""
    db: sqlite3.Connection | None = getattr(_local, "db", None)
    if db is None:
        with _build_lock:
            if not _keeper:
                keeper = sqlite3.connect(DATABASE, uri=True)
                _build(keeper)
                _keeper.append(keeper)
        db = sqlite3.connect(DATABASE, uri=True)
        db.execute("PRAGMA query_only = ON")
        _local.db = db
    return db


def revenue_report(year: int = 2024, top: int = 3) -> dict[str, Any]:
    """Revenue per region for ``year`` (largest first) and each region's ``top`` products by revenue."""
    if year not in YEARS or not 1 <= top <= 20:
        raise ValueError(f"year must be in {YEARS.start}..{YEARS.stop - 1} and top in 1..20")
    rows = _connection().execute(REPORT, {"start": f"{year}-01-01", "end": f"{year + 1}-01-01", "top": top})
    regions: dict[str, Any] = {}
    for region, region_revenue, place, product, category, revenue, units in rows:
        entry = regions.setdefault(region, {"revenue": round(region_revenue, 2), "top": []})
        entry["top"].append(
            {"place": place, "product": product, "category": category, "revenue": round(revenue, 2), "units": units}
        )
    return {"year": year, "regions": regions}
