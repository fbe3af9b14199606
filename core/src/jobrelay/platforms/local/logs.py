"""Job logs as JSON-lines files, and cursor-based paging over them.

Each job's output lives in ``<home>/logs/<job_id>.jsonl``, one record per line::

    {"t": "2025-01-01T12:00:00.123456+00:00", "s": "stdout", "m": "epoch 1 done"}

A record is written with a single ``write`` on an ``O_APPEND`` descriptor, so records of
concurrent writers never interleave. The cursor is the byte offset of the next unread
record, as a decimal string. A reader only ever consumes whole lines (ending in ``\\n``),
so a cursor never points inside a record, and a record is never returned twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from jobrelay.errors import ConfigError
from jobrelay.models import LogLine
from jobrelay.platforms.local.rows import log_path

__all__ = [
    "MAX_PAGE_BYTES",
    "MAX_PAGE_LINES",
    "LogWriter",
    "Page",
    "Stream",
    "append_record",
    "encode_record",
    "log_path",
    "parse_cursor",
    "read_page",
]

Stream = Literal["stdout", "stderr", "system"]
MAX_PAGE_LINES = 1000
MAX_PAGE_BYTES = 1 << 20
_STREAMS = frozenset({"stdout", "stderr", "system"})


def log_url(home: Path, job_id: str) -> str:
    """The job's page on the local platform: a ``file://`` URL of its log (one JSON record
    a line), which opens on the machine that ran it."""
    return log_path(home.absolute(), job_id).as_uri()


def encode_record(stream: Stream, text: str, when: datetime | None = None) -> bytes:
    """One JSON line (with its newline) for a log record."""
    when = when or datetime.now(UTC)
    record = {"t": when.isoformat(), "s": stream, "m": text}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace")


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


class LogWriter:
    """Appends records to one job's log; each record is one ``write`` system call."""

    def __init__(self, home: Path, job_id: str) -> None:
        self._fd = _open_append(log_path(home, job_id))

    def write(self, stream: Stream, text: str) -> None:
        data = encode_record(stream, text)
        # A regular-file append is done in one write unless the disk is full; loop anyway
        # so a short write cannot leave a torn record behind.
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def append_record(home: Path, job_id: str, stream: Stream, text: str) -> None:
    """Append one record to a job's log (opening and closing the file)."""
    writer = LogWriter(home, job_id)
    try:
        writer.write(stream, text)
    finally:
        writer.close()


def parse_cursor(cursor: str | None) -> int:
    """The byte offset a cursor stands for; a malformed cursor is a ``ConfigError``."""
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit():
        raise ConfigError(
            f"{cursor!r} is not a local log cursor; pass None or a cursor a previous "
            "logs() call returned",
            field="cursor",
        )
    return int(cursor)


@dataclass(frozen=True)
class Page:
    """Lines read from a log, the offset after them, and whether the end was reached."""

    lines: list[LogLine]
    next_offset: int
    at_eof: bool


def _parse_line(raw: bytes) -> LogLine:
    try:
        record = json.loads(raw)
        stream = record.get("s")
        return LogLine(
            text=str(record.get("m", "")),
            stream=stream if stream in _STREAMS else "system",
            time=record.get("t"),
        )
    except (ValueError, AttributeError):
        # A record damaged on disk is shown as it is rather than hiding the rest.
        return LogLine(text=raw.decode("utf-8", "replace"), stream="system")


def read_page(
    path: Path,
    offset: int,
    *,
    max_lines: int = MAX_PAGE_LINES,
    max_bytes: int = MAX_PAGE_BYTES,
) -> Page:
    """Read up to ``max_lines`` complete records (about ``max_bytes``) from ``offset``.

    An incomplete last record (still being written) is left for the next read. A single
    record larger than ``max_bytes`` is still returned whole.
    """
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return Page([], offset, at_eof=True)
    with f:
        size = os.fstat(f.fileno()).st_size
        if offset >= size:
            return Page([], offset, at_eof=True)
        f.seek(offset)
        data = f.read(min(max_bytes, size - offset))
        while b"\n" not in data and offset + len(data) < size:
            more = f.read(min(max_bytes, size - offset - len(data)))
            if not more:
                break
            data += more
    end = data.rfind(b"\n") + 1  # 0 when no complete record is there yet
    lines: list[LogLine] = []
    consumed = 0
    for raw in data[: end - 1].split(b"\n") if end else []:
        if len(lines) == max_lines:
            break
        lines.append(_parse_line(raw))
        consumed += len(raw) + 1
    next_offset = offset + consumed
    return Page(lines, next_offset, at_eof=next_offset >= size)
