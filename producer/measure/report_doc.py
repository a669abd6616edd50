"""The report as a document: sections of paragraphs, lists, tables, commands and charts, plus number formats.

One document is built from the records (:mod:`producer.measure.report`) and rendered three ways:
self-contained HTML (:mod:`producer.measure.html_report`), Markdown and the terminal
(:mod:`producer.measure.text_report`), so the three always show the same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Table:
    """Rows of text under headers; ``styles`` per row ("inproc", "bad", "pick" or ""); ``align`` 'l'/'r' per column."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    align: str = ""
    caption: str = ""

    def add(self, row: list[str], style: str = "") -> None:
        """Append a row and its style."""
        self.rows.append(row)
        self.styles.append(style)

    def drop_empty(self, *names: str) -> Table:
        """Leave out the named columns where no row has a value ("–"): figures an older record lacks."""
        empty = {
            i for i, header in enumerate(self.headers) if header in names and all(row[i] == "–" for row in self.rows)
        }
        keep = [i for i in range(len(self.headers)) if i not in empty]
        self.headers = [self.headers[i] for i in keep]
        self.rows = [[row[i] for i in keep] for row in self.rows]
        self.align = "".join(self.column_align(i) for i in keep)
        return self

    def column_align(self, index: int) -> str:
        """'l' or 'r' for the column (left when not given)."""
        return self.align[index] if index < len(self.align) else "l"


@dataclass
class Bullets:
    """A list of lines."""

    items: list[str]


@dataclass
class Command:
    """A command to paste, shown verbatim."""

    text: str


@dataclass
class Chart:
    """A PNG chart, inlined in HTML; named in text renderings."""

    title: str
    png: bytes


Block = str | Bullets | Table | Command | Chart


@dataclass
class Section:
    """A heading (level 2 or 3), an anchor id, and its blocks in order."""

    title: str
    anchor: str
    level: int = 2
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block | None) -> None:
        """Append the blocks that are not None (and lists that are not empty)."""
        for block in blocks:
            if block is None or (isinstance(block, Bullets) and not block.items):
                continue
            if isinstance(block, Table) and not block.rows:
                continue
            self.blocks.append(block)


@dataclass
class Document:
    """The whole report: a title, notes for the reader (charts missing, records skipped), the sections."""

    title: str
    notes: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def charts(self) -> list[Chart]:
        """Every chart in the document, in order."""
        return [block for section in self.sections for block in section.blocks if isinstance(block, Chart)]


def num(value: float | None, fmt: str = ",.1f", suffix: str = "") -> str:
    """A figure as text, or "–" when it is missing or not finite."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    return f"{value:{fmt}}{suffix}"


def ms(seconds: float | None) -> str:
    """Seconds as whole milliseconds ("–" when missing)."""
    return num(None if seconds is None else seconds * 1000, ",.0f", " ms")


def mib(value: float | None) -> str:
    """MiB with one decimal below 10, whole above ("–" when missing)."""
    if value is None:
        return "–"
    return num(value, ",.1f" if abs(value) < 10 else ",.0f", " MiB")


def times(value: float | None) -> str:
    """A ratio as "1.23×" ("–" when missing)."""
    return num(value, ".2f", "×")


def percent(value: float | None) -> str:
    """A share as "87%" ("–" when missing)."""
    return num(None if value is None else value * 100, ".0f", "%")
