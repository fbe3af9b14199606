"""Database rows -> the unified models: state mapping, times and messages (pure logic)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from jobrelay.models import JobRef, JobState, JobStatus

__all__ = ["LOCAL_STATES", "parse_time", "row_to_status", "to_job_state"]

# DESIGN §4: the local column of the state table.
LOCAL_STATES: dict[str, JobState] = {
    "queued": JobState.QUEUED,
    "claimed": JobState.STARTING,
    "running": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "lost": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


def to_job_state(platform_state: str) -> JobState:
    """The unified state for a local state string; unseen strings are UNKNOWN."""
    return LOCAL_STATES.get(platform_state, JobState.UNKNOWN)


def parse_time(text: str | None) -> datetime | None:
    """A stored ISO time as an aware UTC datetime (naive values are taken as UTC)."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def row_to_status(row: sqlite3.Row, ref: JobRef, *, url: str | None = None) -> JobStatus:
    """A :class:`JobStatus` from a row of ``Store.job_rows``; ``url`` is where its log is."""
    platform_state = str(row["state"])
    state = to_job_state(platform_state)
    return JobStatus(
        ref=ref,
        state=state,
        platform_state=platform_state,
        message=row["message"],
        queue=row["queue"],
        queue_position=row["queue_position"] if state is JobState.QUEUED else None,
        attempt=row["attempt"],
        submitted_at=parse_time(row["submitted_at"]),
        # A job queued again for a retry shows no start, end or exit code until it runs.
        started_at=None if state is JobState.QUEUED else parse_time(row["started_at"]),
        ended_at=parse_time(row["ended_at"]) if state.is_terminal else None,
        exit_code=row["exit_code"] if state.is_terminal else None,
        url=url,
        owner=row["owner"],
    )
