"""Tables drawn with the standard library alone, for the CLI's fast path (no rich).

On a stdout that is not a terminal, a table that fits the console is exactly the text rich
prints for the same cells (``box=None``: each cell padded with one space on either side,
each column as wide as its widest cell). A wider table is folded: the columns that hold
free text (``flexible``: a queue, an owner, a message, a value) are narrowed, widest
first, and their cells wrapped onto more lines, at spaces where there are some; the other
columns (ids, states, counts, times) keep their width, so a state is never split. On a
terminal the header (or the key column) is bold and states are coloured with ANSI codes;
``NO_COLOR`` leaves the colours out, a dumb terminal every code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Console", "console", "draw", "terminal_width", "text_width"]

# The state colours of ``cli.tables.STATE_STYLE`` as SGR parameters.
_SGR = {
    "yellow": "33",
    "cyan": "36",
    "blue": "34",
    "green": "32",
    "red": "31",
    "magenta": "35",
    "dim": "2",
}
_NOT_COLOUR = frozenset({"dim"})  # kept under NO_COLOR, as bold is
_BOLD = "1"
_FLOOR = 8  # a flexible column is narrowed below this (or its header) only if it must
_LAST_FLOOR = 4


class Console(NamedTuple):  # not a dataclass: that imports inspect, slow to start
    """Where the table goes: its width in columns and which ANSI codes it takes."""

    width: int
    escapes: bool = False  # bold and dim
    colour: bool = False

    def sgr(self, style: str, text: str) -> str:
        """``text`` in ``style`` (a ``STATE_STYLE`` value or ``"bold"``) as this console
        shows it."""
        code = _BOLD if style == "bold" else _SGR.get(style)
        if code is None or not self.escapes or (style in _SGR and not self._allows(style)):
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def _allows(self, style: str) -> bool:
        return self.colour or style in _NOT_COLOUR


def console() -> Console:
    """The console stdout is: its width as rich would take it (``COLUMNS``, else the size
    of the first standard stream that is a terminal, else 80), and escapes only on a
    terminal (or with ``FORCE_COLOR``)."""
    env = os.environ
    width = terminal_width()
    try:
        terminal = os.isatty(1)
    except OSError:
        terminal = False
    terminal = terminal or bool(env.get("FORCE_COLOR"))
    if not terminal:
        return Console(width)
    dumb = env.get("TERM", "").lower() in ("dumb", "unknown")
    return Console(width, escapes=not dumb, colour=not dumb and not env.get("NO_COLOR"))


def terminal_width() -> int:
    """The width rich lays stdout out in: ``COLUMNS`` when it is a number, else the size of
    the first standard stream that is a terminal, else 80."""
    width = 0
    for fd in (0, 1, 2):  # as rich: the first standard stream with a size
        try:
            width = os.get_terminal_size(fd).columns
        except (ValueError, OSError):
            continue
        break
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        width = int(columns)
    return width or 80


def _char_width(char: str) -> int:
    if char.isascii():
        return 1
    import unicodedata  # only for a cell that is not ASCII

    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def _fit(text: str, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` columns (at least one)."""
    if text.isascii():
        return max(1, min(len(text), width))
    used = 0
    for i, char in enumerate(text):
        used += _char_width(char)
        if used > width:
            return max(1, i)
    return len(text)


def wrap(text: str, width: int) -> list[str]:
    """``text`` as lines of at most ``width`` columns: broken at a space where there is
    one, else folded (a word longer than the column is cut, never dropped)."""
    lines: list[str] = []
    rest = text
    while text_width(rest) > width:
        cut = _fit(rest, width)
        space = rest.rfind(" ", 0, cut + 1)
        head = rest[:space].rstrip(" ") if space > 0 else ""
        if head:
            lines.append(head)
            rest = rest[space:].lstrip(" ")
        else:
            lines.append(rest[:cut])
            rest = rest[cut:]
    if rest or not lines:
        lines.append(rest)
    return lines


def _widths(
    rows: Sequence[Sequence[str]], header: Sequence[str] | None, flexible: Sequence[bool], room: int
) -> list[int]:
    heads = [text_width(h) for h in header] if header is not None else [0] * len(flexible)
    widths = [max([heads[i], *(text_width(row[i]) for row in rows)]) for i in range(len(flexible))]
    # Free text first gives way down to its header (or a few characters), then, if the
    # table is still too wide, down to a few characters with its header wrapped too.
    for floors in (
        [
            max(min(w, _FLOOR), h) if flex else w
            for w, h, flex in zip(widths, heads, flexible, strict=True)
        ],
        [min(w, _LAST_FLOOR) if flex else w for w, flex in zip(widths, flexible, strict=True)],
    ):
        _narrow(widths, floors, sum(widths) + 2 * len(widths) - room)
    return widths


def _narrow(widths: list[int], floors: Sequence[int], excess: int) -> None:
    while excess > 0:
        # The widest column that can give a column back gives it: long free text folds
        # first, short cells stay whole.
        free = [i for i, w in enumerate(widths) if w > floors[i]]
        if not free:
            return  # the fixed columns alone are wider than the console: lines run over
        widest = max(free, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1


def draw(
    rows: Sequence[Sequence[str]],
    out: Console,
    *,
    header: Sequence[str] | None = None,
    flexible: Sequence[bool],
    styles: Sequence[Sequence[str]] | None = None,
) -> str | None:
    """The table's text for ``out``, or None when a cell holds a character it cannot lay
    out (a control character: the caller lets rich draw it).

    ``flexible[i]`` says column ``i`` may be narrowed and wrapped; ``styles`` (one per row
    and column, ``""`` for none) colours cells; a header is bold.
    """
    if any(not cell.isprintable() for row in rows for cell in row):
        return None
    if header is not None and any(not cell.isprintable() for cell in header):
        return None
    widths = _widths(rows, header, flexible, out.width)
    body: list[tuple[Sequence[str], Sequence[str]]] = []
    if header is not None:
        body.append((header, ["bold"] * len(header)))
    for i, row in enumerate(rows):
        body.append((row, styles[i] if styles is not None else [""] * len(row)))
    lines: list[str] = []
    for cells, cell_styles in body:
        wrapped = [wrap(cell, w) for cell, w in zip(cells, widths, strict=True)]
        for n in range(max(len(parts) for parts in wrapped)):
            line = []
            for parts, w, style in zip(wrapped, widths, cell_styles, strict=True):
                part = parts[n] if n < len(parts) else ""
                pad = " " * (w - text_width(part))
                shown = out.sgr(style, part) if style and part else part
                line.append(f" {shown}{pad} ")
            lines.append("".join(line) + "\n")
    return "".join(lines)
