"""Reading the local platform's job rows with the standard library alone.

The status queries and the row -> status rules live here so that the local platform
(:mod:`.store`, :mod:`.states`) and the CLI's fast path (:mod:`jobrelay.cli.fast`, which
must not import pydantic) read jobs the same way.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from jobrelay._spans import JobSpans

__all__ = [
    "LOCAL_STATE_VALUES",
    "STATUSES_SQL",
    "STATUS_COLUMNS",
    "TERMINAL_VALUES",
    "RowView",
    "log_path",
    "parse_time",
    "recent_ids",
    "row_view",
    "status_rows",
]

# DESIGN §4: the local column of the state table, as ``JobState`` values.
LOCAL_STATE_VALUES: dict[str, str] = {
    "queued": "QUEUED",
    "claimed": "STARTING",
    "running": "RUNNING",
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "lost": "FAILED",
    "cancelled": "CANCELLED",
}
UNKNOWN_VALUE = "UNKNOWN"
TERMINAL_VALUES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

STATUS_COLUMNS = (
    "j.id, j.name, j.queue, j.priority, j.state, j.idempotency_key, j.attempt, j.max_retries,"
    " j.timeout_s, j.submitted_at, j.started_at, j.ended_at, j.exit_code, j.message,"
    " j.agent_id, j.cancel_requested, json_extract(j.spec, '$.owner') AS owner"
)

# Position of each queued job within its queue, in that queue's order, for the queues of
# the asked jobs only. One statement answers any number of ids (passed as a JSON array).
STATUSES_SQL = f"""
WITH wanted(id) AS (SELECT value FROM json_each(?)),
ranked AS (
    SELECT j.id AS id, ROW_NUMBER() OVER (
        PARTITION BY j.queue
        ORDER BY CASE COALESCE(q.mode, 'FIFO') WHEN 'PRIORITY' THEN -j.priority ELSE 0 END,
                 CASE COALESCE(q.mode, 'FIFO') WHEN 'LIFO' THEN -j.seq ELSE j.seq END
    ) AS position
    FROM jobs j LEFT JOIN queues q ON q.name = j.queue
    WHERE j.state = 'queued' AND j.queue IN (
        SELECT queue FROM jobs WHERE state = 'queued' AND id IN (SELECT id FROM wanted))
)
SELECT {STATUS_COLUMNS}, r.position AS queue_position
FROM jobs j JOIN wanted w ON w.id = j.id LEFT JOIN ranked r ON r.id = j.id
"""


def log_path(home: Path, job_id: str) -> Path:
    """Where a job's log lives: ``<home>/logs/<job_id>.jsonl`` (see :mod:`.logs`)."""
    return home / "logs" / f"{job_id}.jsonl"


def status_rows(conn: sqlite3.Connection, ids: list[str]) -> list[sqlite3.Row]:
    """Status rows (with ``queue_position``) for ``ids``, unknown ids left out.

    ``conn`` must have ``row_factory = sqlite3.Row``.
    """
    if not ids:
        return []
    return conn.execute(STATUSES_SQL, (json.dumps(ids),)).fetchall()


def recent_ids(conn: sqlite3.Connection, limit: int, queue: str | None) -> list[str]:
    """The ids of the newest ``limit`` jobs (of ``queue`` if given), newest first."""
    where = "WHERE j.queue = ?" if queue else ""
    params: tuple[object, ...] = (queue, limit) if queue else (limit,)
    sql = f"SELECT j.id FROM jobs j {where} ORDER BY j.seq DESC LIMIT ?"
    return [str(r[0]) for r in conn.execute(sql, params)]


def parse_time(text: str | None) -> datetime | None:
    """A stored ISO time as an aware UTC datetime (naive values are taken as UTC)."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _RowFields(NamedTuple):
    """The columns of a :class:`RowView`."""

    id: str
    name: str | None
    state: str  # a JobState value
    platform_state: str
    message: str | None
    queue: str | None
    queue_position: int | None
    attempt: int
    submitted_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    exit_code: int | None
    owner: str | None


class RowView(_RowFields, JobSpans):
    """What a job's row says once the local state rules are applied (see ``row_view``),
    with ``queued_s`` and ``run_s`` as ``JobStatus`` has them.

    A named tuple, not a dataclass: ``dataclasses`` imports ``inspect``, which the CLI's
    fast path has no time for."""

    __slots__ = ()


def row_view(row: sqlite3.Row) -> RowView:
    """A row of ``status_rows`` with the local rules: a position only while queued; a job
    queued again for a retry shows no start, end or exit code until it runs."""
    platform_state = str(row["state"])
    state = LOCAL_STATE_VALUES.get(platform_state, UNKNOWN_VALUE)
    terminal = state in TERMINAL_VALUES
    return RowView(
        id=str(row["id"]),
        name=row["name"],
        state=state,
        platform_state=platform_state,
        message=row["message"],
        queue=row["queue"],
        queue_position=row["queue_position"] if state == "QUEUED" else None,
        attempt=row["attempt"],
        submitted_at=parse_time(row["submitted_at"]),
        started_at=None if state == "QUEUED" else parse_time(row["started_at"]),
        ended_at=parse_time(row["ended_at"]) if terminal else None,
        exit_code=row["exit_code"] if terminal else None,
        owner=row["owner"],
    )
