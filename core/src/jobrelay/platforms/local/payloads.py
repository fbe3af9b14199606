"""Database rows -> the unified models: state mapping, times and messages (pure logic, no
I/O: the rows come from the store). Local has no wire format; these are its payloads."""

from __future__ import annotations

import sqlite3

from jobrelay.models import JobRef, JobState, JobStatus
from jobrelay.platforms.local.rows import LOCAL_STATE_VALUES, parse_time, row_view

__all__ = ["LOCAL_STATES", "parse_time", "row_to_status", "to_job_state"]

# DESIGN §4: the local column of the state table (rows.py holds it as plain values).
LOCAL_STATES: dict[str, JobState] = {
    local: JobState(value) for local, value in LOCAL_STATE_VALUES.items()
}


def to_job_state(platform_state: str) -> JobState:
    """The unified state for a local state string; unseen strings are UNKNOWN."""
    return LOCAL_STATES.get(platform_state, JobState.UNKNOWN)


def row_to_status(row: sqlite3.Row, ref: JobRef, *, url: str | None = None) -> JobStatus:
    """A :class:`JobStatus` from a row of ``Store.job_rows``; ``url`` is where its log is."""
    view = row_view(row)
    return JobStatus(
        ref=ref,
        name=row["name"],
        state=JobState(view.state),
        platform_state=view.platform_state,
        message=view.message,
        queue=view.queue,
        queue_position=view.queue_position,
        attempt=view.attempt,
        submitted_at=view.submitted_at,
        started_at=view.started_at,
        ended_at=view.ended_at,
        exit_code=view.exit_code,
        url=url,
        owner=view.owner,
    )
