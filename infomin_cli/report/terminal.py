"""The one place where rich consoles are made: ``NO_COLOR`` honoured in full, and tables that
fit the terminal.

``NO_COLOR`` (any non-empty value, https://no-color.org) means no ANSI styling at all: rich's own
``no_color`` still prints bold and italic, so a console without a colour system is made instead
(no style is rendered; the text is unchanged). Output that is not a terminal (a pipe, a file,
a test) is laid out ``PIPED_WIDTH`` wide unless ``COLUMNS`` says otherwise.
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

#: the width of a table written to a pipe or a file when ``COLUMNS`` is not set
PIPED_WIDTH = 120


def no_color() -> bool:
    """``NO_COLOR`` is set to a non-empty value: print no ANSI styling at all."""
    return bool(os.environ.get("NO_COLOR"))


def make_console(*, stderr: bool = False, file: IO[str] | None = None,
                 force_terminal: bool | None = None, highlight: bool = True) -> Console:
    """A console on stdout (``stderr``: on stderr; ``file``: there) that honours ``NO_COLOR``
    (no styling at all) and ``COLUMNS`` (rich reads it); when not writing to a terminal and
    ``COLUMNS`` is unset, :data:`PIPED_WIDTH` columns wide."""
    colour = None if no_color() else "auto"
    console = Console(stderr=stderr, file=file, force_terminal=force_terminal,
                      color_system=colour, highlight=highlight)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(stderr=stderr, file=file, force_terminal=force_terminal,
                          color_system=colour, highlight=highlight, width=PIPED_WIDTH)
    return console


def fits(console: Console, renderable: RenderableType, *, wrapped: bool = False) -> bool:
    """Whether ``renderable`` prints within the console's width at its natural width
    (nothing wrapped, folded or cut), or, ``wrapped``, with its text wrapped between words
    (no word, hence no number, broken)."""
    unbounded = console.options.update_width(1_000_000)
    width = console.measure(renderable, options=unbounded)
    return (width.minimum if wrapped else width.maximum) <= console.width


def table_or_blocks(console: Console, table: Table, rows: list[list[str]]) -> RenderableType:
    """``table`` when it fits the console (its text columns wrapped between words); else the
    same ``rows`` (plain text, one per row of ``table``) as one block per row: its first cell
    in bold, then ``header value`` pairs wrapping between words (a number is never cut)."""
    if fits(console, table, wrapped=True):
        return table
    heads = [str(c.header) for c in table.columns]
    blocks: list[RenderableType] = [Text(str(table.title), style="italic")] if table.title else []
    for row in rows:
        pairs = "  ".join(f"{h} {v}" for h, v in zip(heads[1:], row[1:]) if v not in ("", "-"))
        blocks += [Text(row[0], style="bold"), Padding(Text(pairs), (0, 0, 0, 2), expand=False)]
    return Group(*blocks)
