"""The report as ONE self-contained HTML file: CSS inline, charts as base64 PNG data, no external reference.

Every piece of text is escaped (task names, arguments and notes come from users and from the
records on disk); the only links are to anchors inside the page.
"""

from __future__ import annotations

import base64
from html import escape

from producer.measure.report_doc import Block, Bullets, Chart, Command, Document, Section, Table

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;color:#222}"
    "h1,h2,h3{font-weight:600}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;font-size:13px;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
    "th{background:#f3f3f3}td.r{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.inproc{color:#777}tr.bad{background:#fdd}tr.pick{background:#dfd;font-weight:600}"
    "caption{caption-side:bottom;text-align:left;color:#555;font-size:12px;padding-top:.3em}"
    "pre.cmd{background:#1e1e1e;color:#e8e8e8;padding:.7em 1em;border-radius:4px;overflow-x:auto}"
    "figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:12px}"
    "p.note{color:#8a5a00}nav ul{columns:2}"
)


RIGHT = '<td class="r">'


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in table.headers)
    rows = []
    for row, style in zip(table.rows, table.styles, strict=True):
        css = f' class="{escape(style)}"' if style else ""
        cells = "".join(
            (RIGHT if table.column_align(i) == "r" else "<td>") + f"{escape(value)}</td>" for i, value in enumerate(row)
        )
        rows.append(f"<tr{css}>{cells}</tr>")
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _block(block: Block) -> str:
    if isinstance(block, str):
        return f"<p>{escape(block)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Command):
        return f'<pre class="cmd"><code>{escape(block.text)}</code></pre>'
    if isinstance(block, Chart):
        data = base64.b64encode(block.png).decode("ascii")
        title = escape(block.title)
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{title}"><figcaption>{title}</figcaption></figure>'
        )
    raise TypeError(f"not a report block: {type(block).__name__}")


def _section(section: Section) -> str:
    tag = f"h{section.level}"
    body = "\n".join(_block(block) for block in section.blocks)
    return f'<section id="{escape(section.anchor)}"><{tag}>{escape(section.title)}</{tag}>\n{body}</section>'


def _contents(document: Document) -> str:
    items = "".join(
        f'<li><a href="#{escape(s.anchor)}">{escape(s.title)}</a></li>' for s in document.sections if s.level == 2
    )
    return f"<nav><ul>{items}</ul></nav>" if items else ""


def render_html(document: Document) -> str:
    """The whole page: one string, nothing it needs lives in another file."""
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in document.notes)
    sections = "\n".join(_section(section) for section in document.sections)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(document.title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{escape(document.title)}</h1>{notes}{_contents(document)}\n{sections}\n</body></html>\n"
    )
