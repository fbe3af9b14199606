"""The job table of ``jobrelay ls`` as cells, drawn by rich or, when that is sure to give
the same text, by plain string padding (the CLI's fast path has no time to import rich).

Nothing here imports pydantic, rich or the models at module level.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from jobrelay.cli.fast_table import terminal_width

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "NO_WRAP_COLUMNS",
    "STATE_STYLE",
    "STATUS_COLUMNS",
    "StatusLike",
    "plain_table",
    "plain_width",
    "rich_status_table",
    "status_cells",
]

STATE_STYLE = {
    "QUEUED": "yellow",
    "STARTING": "cyan",
    "RUNNING": "blue",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "magenta",
    "UNKNOWN": "dim",
}
STATUS_COLUMNS = (
    "id",
    "name",
    "state",
    "queue",
    "pos",
    "exit",
    "queued",
    "ran",
    "owner",
    "message",
)
# Columns whose cells are never wrapped: an id is what a user copies into the next command,
# a state, a count or a time is read at a glance ('SUCCEEDE' / 'D' is neither). The others
# (name, queue, owner, message: free text) fold when the console is narrow.
NO_WRAP_COLUMNS = frozenset({"id", "state", "pos", "exit", "queued", "ran"})


class StatusLike(Protocol):
    """What a row of the table needs: a ``JobStatus`` or a local ``RowView``."""

    @property
    def name(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def queue_position(self) -> int | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def exit_code(self) -> int | None: ...
    @property
    def queued_s(self) -> float | None: ...
    @property
    def run_s(self) -> float | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def status_cells(job_id: str, state: str, s: StatusLike) -> list[str]:
    """One row of the table as text, in ``STATUS_COLUMNS`` order (``state`` a JobState value)."""
    return [
        job_id,
        s.name or "-",
        state,
        s.queue or "-",
        str(s.queue_position or "-"),
        "-" if s.exit_code is None else str(s.exit_code),
        _seconds(s.queued_s),
        _seconds(s.run_s),
        s.owner or "-",
        (s.message or "")[:60],
    ]


def rich_status_table(rows: Sequence[list[str]]) -> Table:
    """The table as rich draws it: bold headers, the state coloured; the ``NO_WRAP_COLUMNS``
    as wide as their widest cell, the others folded when the console is narrow."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for i, column in enumerate(STATUS_COLUMNS):
        if column in NO_WRAP_COLUMNS:
            widest = max((len(row[i]) for row in rows), default=0)
            table.add_column(
                column, no_wrap=True, overflow="ellipsis", min_width=max(widest, len(column))
            )
        else:
            table.add_column(column, overflow="fold")
    state = STATUS_COLUMNS.index("state")
    for row in rows:
        # Every cell plain Text: ':-1:' in an owner is no emoji code, '[x]' in a queue name
        # no markup.
        cells = [Text(cell) for cell in row]
        cells[state].stylize(STATE_STYLE.get(row[state], ""))
        table.add_row(*cells)
    return table


def plain_width() -> int | None:
    """The width rich would lay out in when it writes to a non-terminal stdout, or None
    when rich would treat stdout as a terminal (colours) or the case is not simple."""
    env = os.environ
    if "TTY_COMPATIBLE" in env or "FORCE_COLOR" in env or "JUPYTER_COLUMNS" in env:
        return None
    try:
        if os.isatty(1):
            return None
    except OSError:
        return None
    return terminal_width()


def _plain_cell(text: str) -> bool:
    # One column per character: printable ASCII only (rich measures wide and combining
    # characters, and treats control characters, differently).
    return text.isascii() and text.isprintable()


def plain_table(rows: Sequence[list[str]], width: int) -> str | None:
    """The text rich prints for ``rich_status_table(rows)`` on a non-terminal console of
    ``width`` columns, or None when that needs rich (a cell that is not printable ASCII,
    or a table wider than ``width``, which rich folds)."""
    header = list(STATUS_COLUMNS)
    if not all(_plain_cell(cell) for row in rows for cell in row):
        return None
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if sum(widths) + 2 * len(widths) > width:
        return None
    lines = [
        "".join(f" {cell.ljust(w)} " for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "".join(line + "\n" for line in lines)
