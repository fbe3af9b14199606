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
    """A :class:`JobStatus` from a row of ``Store.job_rows``; ``url`` is where its log is.

    The row's view (``rows.row_view``, the local state rules) names its fields as
    ``JobStatus`` does: they pass over as they are, the job id as ``ref``."""
    fields = row_view(row)._asdict()
    del fields["id"]
    return JobStatus(ref=ref, url=url, **fields)
