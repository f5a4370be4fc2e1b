"""Terminal output for the CLI: Rich consoles, tables, and one way to fail.

Colour and live displays only on a terminal; plain text when piped or when
``NO_COLOR`` is set (Rich honours it), so scripts can parse what they read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import NoReturn

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "err_console", "fail", "out_console", "table"]

EXIT_USAGE = 2  # the user's input is wrong (config, flags)
EXIT_FAILURE = 1  # something else went wrong (server unreachable, error answer)


def out_console() -> Console:
    """Standard output; no highlighting of numbers or paths in plain text."""
    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``hoshikage: message`` to stderr and exit with ``code``."""
    text = message if message.startswith("hoshikage") else f"hoshikage: {message}"
    err_console().print(text, markup=False, style="red")
    sys.exit(code)


def table(header: Sequence[str], rows: Iterable[Sequence[str]],
          console: Console) -> RenderableType:
    """A Rich table on a terminal; elsewhere plain columns, two spaces apart, never
    wrapped or cut, so that scripts can read them."""
    rows = [tuple(row) for row in rows]
    if not console.is_terminal:
        lines = [tuple(header), *rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return Text("\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths))
                              .rstrip() for line in lines))
    result = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in header:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result
