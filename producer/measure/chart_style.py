"""How the charts tell things apart: a pool's colour (from the catalogue), a Celery mode's and a broker's hatch."""

from __future__ import annotations

from config import catalogue

#: A name no catalogue entry has (a record from an extension not loaded now) is drawn grey.
UNKNOWN_COLOUR = "#999999"
#: How a Celery mode's bars are filled (stock solid: the Celery users deploy).
MODE_HATCH = {"lab": "...", "stock": ""}
#: ... and a broker's, added to it (``--broker redis,rabbitmq``).
BROKER_HATCH = {"on redis": "", "on rabbitmq": "xx"}


def side_hatch(side: str | None) -> str:
    """The fill of a chart group: its mode's hatch plus its broker's."""
    words = (side or "").split(" on ")
    mode, broker = (words[0], f"on {words[1]}") if len(words) > 1 else ((side or ""), "")
    if mode.startswith("on "):
        mode, broker = "", mode
    return MODE_HATCH.get(mode, "") + BROKER_HATCH.get(broker, "")


def colour(pool: str) -> str:
    """The pool's chart colour from the catalogue."""
    entry = catalogue.find_pool(pool)
    return entry.colour if entry else UNKNOWN_COLOUR
