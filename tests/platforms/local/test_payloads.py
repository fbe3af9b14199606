"""The local platform's row -> ``JobStatus`` mapping says what the CLI's fast path (which
reads the same rows through ``row_view``, without pydantic) says, for any row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay.models import JobRef, JobState
from jobrelay.platforms.local.payloads import row_to_status
from jobrelay.platforms.local.rows import LOCAL_STATE_VALUES, row_view

COLUMNS = (
    "id", "name", "queue", "state", "attempt", "submitted_at", "started_at", "ended_at",
    "exit_code", "message", "owner", "queue_position",
)  # fmt: skip

times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(datetime.isoformat)
text = st.none() | st.text(max_size=20)
rows = st.fixed_dictionaries(
    {
        "id": st.just("j-000000000001"),
        "name": text,
        "queue": text,
        "state": st.sampled_from([*LOCAL_STATE_VALUES, "from-a-newer-version"]),
        "attempt": st.integers(1, 9),
        "submitted_at": times,
        "started_at": times,
        "ended_at": times,
        "exit_code": st.none() | st.integers(-15, 255),
        "message": text,
        "owner": text,
        "queue_position": st.none() | st.integers(0, 99),
    }
)


def as_sqlite_row(values: dict[str, object]) -> sqlite3.Row:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    marks = ", ".join(f"? AS {column}" for column in COLUMNS)
    row: sqlite3.Row = conn.execute(f"SELECT {marks}", [values[c] for c in COLUMNS]).fetchone()
    conn.close()
    return row


@settings(max_examples=60, deadline=None)
@given(rows)
def test_a_rows_status_is_its_view_with_the_ref_and_log_url(values: dict[str, object]) -> None:
    row = as_sqlite_row(values)
    ref = JobRef(platform="local:///tmp/home", id="j-000000000001")
    status = row_to_status(row, ref, url="file:///tmp/home/logs/j-000000000001.log")
    view = row_view(row)

    assert status.ref == ref
    assert status.url == "file:///tmp/home/logs/j-000000000001.log"
    expected = view._asdict()
    del expected["id"]
    expected["state"] = JobState(view.state)
    assert {field: getattr(status, field) for field in expected} == expected
    assert (status.queued_s, status.run_s) == (view.queued_s, view.run_s)
    if values["state"] not in LOCAL_STATE_VALUES:
        assert status.state is JobState.UNKNOWN
