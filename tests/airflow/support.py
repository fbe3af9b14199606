"""Helpers for the provider's tests: the test platform, XComs and jobs as a user sees them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from airflow_jobrelay._spec import idempotency_key
from jobrelay import Client, JobStatus

from .conftest import _HOME, PLATFORM_HOME


def xcoms(dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    """The XComs a task pushed, by key, read from the metadata DB."""
    with sqlite3.connect(_HOME / "airflow.db") as db:
        rows = db.execute(
            "SELECT key, value FROM xcom WHERE dag_id=? AND run_id=? AND task_id=?",
            (dag_id, run_id, task_id),
        ).fetchall()
    return {key: json.loads(value) for key, value in rows}


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    with sqlite3.connect(_HOME / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id=? AND run_id=?",
            (dag_id, run_id),
        ).fetchall()
    return dict(rows)


def trigger_kwargs_rows() -> list[str]:
    with sqlite3.connect(_HOME / "airflow.db") as db:
        return [str(row[0]) for row in db.execute("SELECT kwargs FROM trigger").fetchall()]


def jobs_for(dag_id: str, task_id: str, run_id: str, home: Path = PLATFORM_HOME) -> list[JobStatus]:
    """Every job on the test platform submitted for one task instance (any try)."""
    prefix = idempotency_key(dag_id, task_id, run_id, -1).removesuffix("-1")
    with Client(f"local://{home}?autostart=0") as client:
        return [
            s
            for s in client.list_jobs(limit=1000)
            if (s.ref.idempotency_key or "").startswith(prefix)
        ]
