"""The report as text: Markdown (a file beside the HTML) and the terminal (rich), from the same document.

Charts are only named here (they live inline in the HTML). Terminal text goes through :class:`rich.text.Text`,
so square brackets in user task names or arguments are shown, never read as rich markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from producer.measure.report_doc import Block, Bullets, Chart, Command, Document, Table

STYLES = {"inproc": "dim", "bad": "red", "pick": "bold green"}


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> list[str]:
    if isinstance(block, str):
        return [block, ""]
    if isinstance(block, Bullets):
        return [*(f"- {item}" for item in block.items), ""]
    if isinstance(block, Command):
        return ["```sh", block.text, "```", ""]
    if isinstance(block, Chart):
        return [f"_chart: {block.title} (inline in the HTML report)_", ""]
    lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |"]
    lines.append("|" + "".join("---:|" if block.column_align(i) == "r" else "---|" for i in range(len(block.headers))))
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in block.rows]
    return [*lines, *([f"_{block.caption}_"] if block.caption else []), ""]


def markdown(document: Document) -> str:
    """The document as Markdown (tables, lists, commands in fences)."""
    lines = [f"# {document.title}", ""]
    lines += [line for note in document.notes for line in (f"_{note}_", "")]
    for section in document.sections:
        lines += ["#" * section.level + f" {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines)


def rich_table(table: Table) -> RichTable:
    """A report table for the terminal (no markup read from the values)."""
    shown = RichTable(caption=Text(table.caption) if table.caption else None)
    for index, header in enumerate(table.headers):
        shown.add_column(Text(header), justify="right" if table.column_align(index) == "r" else "left", overflow="fold")
    for row, style in zip(table.rows, table.styles, strict=True):
        shown.add_row(*(Text(value) for value in row), style=STYLES.get(style))
    return shown


def print_terminal(document: Document, console: Console) -> None:
    """The document on the terminal: headings as rules, then its text, lists, tables and commands."""
    for section in document.sections:
        if section.level == 2:
            console.print(Rule(Text(section.title)))
        else:
            console.print(Text(section.title, style="bold"))
        for block in section.blocks:
            if isinstance(block, str):
                console.print(Text(block))
            elif isinstance(block, Bullets):
                for item in block.items:
                    console.print(Text(f"  - {item}"))
            elif isinstance(block, Command):
                console.print(Text(f"  {block.text}", style="bold"), soft_wrap=True)
            elif isinstance(block, Table):
                console.print(rich_table(block))
        console.print()
