"""Terminal output: rich consoles for tables (stdout) and progress/messages (stderr).

When stdout is not a terminal (``make demo | tee``, CI logs) rich would fall back to 80 columns and
squash wide tables, so a wider fixed width is used there.
"""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 160


def _width(stream_is_tty: bool) -> int | None:
    return None if stream_is_tty else PIPE_WIDTH


#: Tables and reports.
out = Console(width=_width(sys.stdout.isatty()))
#: Progress bars, notes and errors. soft_wrap: a message stays one line (a long error must not break in two).
err = Console(stderr=True, width=_width(sys.stderr.isatty()), soft_wrap=True)
