"""Durable state of the local platform: jobs, attempts, queues and agents in SQLite.

One :class:`Store` wraps one connection to ``<home>/jobrelay.db``. Many processes (clients
and agents) open the same database at once; every write that reads-then-writes runs in a
``BEGIN IMMEDIATE`` transaction so it is atomic across processes. The methods are
synchronous and quick; async callers run them in a worker thread. The agent's own
operations (claim, finish, recovery) are in :mod:`.scheduling`.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from jobrelay._procs import pid_alive
from jobrelay.errors import ConflictError, NotFoundError
from jobrelay.models import JobSpec, QueueMode
from jobrelay.platforms.local.rows import recent_ids, status_rows
from jobrelay.platforms.local.schema import connect

__all__ = [
    "ACTIVE_STATES",
    "AGENT_STALE_AFTER_S",
    "DEFAULT_QUEUE",
    "QueueRow",
    "Store",
    "default_queue",
    "new_agent_id",
    "new_job_id",
    "utc_now",
]

DEFAULT_QUEUE = "default"
ACTIVE_STATES = ("queued", "claimed", "running")
# An agent heartbeats every 0.5 s; three seconds of silence means it is gone or wedged.
AGENT_STALE_AFTER_S = 3.0

# How each queue mode orders its queued jobs, as SQL over the jobs table.
QUEUE_ORDER_SQL: dict[str, str] = {
    "FIFO": "seq ASC",
    "LIFO": "seq DESC",
    "PRIORITY": "priority DESC, seq ASC",
}


def utc_now() -> str:
    """The current UTC time as stored in the database (ISO 8601 with offset)."""
    return datetime.now(UTC).isoformat()


def new_agent_id() -> str:
    """A fresh agent id such as ``a-0c1d2e3f4a5b``."""
    return f"a-{secrets.token_hex(6)}"


def new_job_id() -> str:
    """A fresh job id such as ``j-3f9c0a1b2c4d``."""
    return f"j-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class QueueRow:
    """A queue's settings and what it holds right now."""

    name: str
    max_concurrency: int
    mode: QueueMode
    queued: int = 0
    running: int = 0


def default_queue() -> QueueRow:
    """The implicit ``default`` queue: FIFO, one slot per CPU."""
    return QueueRow(DEFAULT_QUEUE, os.cpu_count() or 1, QueueMode.FIFO)


class Store:
    """Synchronous access to one home's database, safe to share between threads."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._conn = connect(home)
        # One sqlite3 connection must not run two statements at once from two threads.
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same snapshot."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # -- queues -------------------------------------------------------------------------

    def queue(self, conn: sqlite3.Connection, name: str) -> QueueRow | None:
        row = conn.execute(
            "SELECT name, max_concurrency, mode FROM queues WHERE name = ?", (name,)
        ).fetchone()
        if row is not None:
            return QueueRow(row["name"], row["max_concurrency"], QueueMode(row["mode"]))
        return default_queue() if name == DEFAULT_QUEUE else None

    def upsert_queue(
        self, name: str, max_concurrency: int, mode: QueueMode, *, exist_ok: bool
    ) -> QueueRow:
        """Create a queue, or update its settings when it exists and ``exist_ok``."""
        with self.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone()
            if exists and not exist_ok:
                raise ConflictError(
                    f"queue {name!r} already exists; pass exist_ok=True to update it",
                    status_code=409,
                    operation="create_queue",
                )
            conn.execute(
                "INSERT INTO queues (name, max_concurrency, mode, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " max_concurrency = excluded.max_concurrency, mode = excluded.mode",
                (name, max_concurrency, mode.value, utc_now()),
            )
        return next(q for q in self.list_queues() if q.name == name)

    def list_queues(self) -> list[QueueRow]:
        """Every queue (the implicit ``default`` included) with queued/running counts."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT name, max_concurrency, mode FROM queues ORDER BY name"
            ).fetchall()
            counts = conn.execute(
                "SELECT queue, SUM(state = 'queued') AS queued,"
                " SUM(state IN ('claimed', 'running')) AS running"
                " FROM jobs WHERE state IN ('queued', 'claimed', 'running') GROUP BY queue"
            ).fetchall()
        by_name = {r["queue"]: (int(r["queued"]), int(r["running"])) for r in counts}
        queues = [QueueRow(r["name"], r["max_concurrency"], QueueMode(r["mode"])) for r in rows]
        if not any(q.name == DEFAULT_QUEUE for q in queues):
            queues.insert(0, default_queue())
        return [
            QueueRow(q.name, q.max_concurrency, q.mode, *by_name.get(q.name, (0, 0)))
            for q in queues
        ]

    # -- jobs ---------------------------------------------------------------------------

    def insert_job(self, spec: JobSpec) -> str:
        """Queue a job; returns its id.

        Raises ``NotFoundError`` for an unknown queue (as W&B does for a run queue that is
        not there) and ``ConflictError`` when another job already holds the idempotency
        key. Nothing is written then.
        """
        queue = spec.queue or DEFAULT_QUEUE
        job_id = new_job_id()
        with self.transaction() as conn:
            if self.queue(conn, queue) is None:
                raise NotFoundError(
                    f"queue {queue!r} does not exist on this local platform; create it with "
                    f"`jobrelay queue create {queue}` or submit to 'default'",
                    status_code=404,
                    operation="submit",
                )
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            try:
                conn.execute(
                    "INSERT INTO jobs (id, seq, name, queue, priority, spec, state,"
                    " idempotency_key, max_retries, timeout_s, submitted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                    (
                        job_id,
                        seq,
                        spec.name,
                        queue,
                        spec.priority,
                        spec.model_dump_json(),
                        spec.idempotency_key,
                        spec.max_retries,
                        spec.timeout_s,
                        utc_now(),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                if spec.idempotency_key and "idempotency_key" in str(exc):
                    raise ConflictError(
                        f"a job with idempotency key {spec.idempotency_key!r} already exists; "
                        "use find() to get it",
                        status_code=409,
                        operation="submit",
                    ) from None
                raise
        return job_id

    def find_by_key(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM jobs WHERE idempotency_key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row["id"])

    def job_rows(self, ids: Sequence[str]) -> list[sqlite3.Row]:
        """Status rows (with ``queue_position``) for the given ids, unknown ids left out."""
        if not ids:
            return []
        with self._lock:
            return status_rows(self._conn, list(ids))

    def recent_rows(self, limit: int, queue: str | None) -> list[sqlite3.Row]:
        """The newest ``limit`` jobs (optionally of one queue), newest first."""
        with self._lock:
            ids = recent_ids(self._conn, limit, queue)
        order = {job_id: i for i, job_id in enumerate(ids)}
        return sorted(self.job_rows(ids), key=lambda r: order[r["id"]])

    def cancel(self, job_id: str) -> Literal["cancelled", "requested", "finished"]:
        """Cancel a queued job at once, or ask the agent to stop a claimed/running one.

        Returns what happened; raises ``NotFoundError`` for an unknown id.
        """
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE jobs SET state = 'cancelled', ended_at = ?, cancel_requested = 1,"
                " message = 'cancelled while queued' WHERE id = ? AND state = 'queued'",
                (utc_now(), job_id),
            ).rowcount
            if done:
                return "cancelled"
            asked = conn.execute(
                "UPDATE jobs SET cancel_requested = 1"
                " WHERE id = ? AND state IN ('claimed', 'running')",
                (job_id,),
            ).rowcount
            if asked:
                return "requested"
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise NotFoundError(
                    f"job {job_id} is not known to this local platform",
                    status_code=404,
                    operation="cancel",
                )
        return "finished"

    def attempts(self, job_id: str) -> list[sqlite3.Row]:
        """The recorded attempts of a job, oldest first."""
        with self._lock:
            return self._conn.execute(
                "SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt", (job_id,)
            ).fetchall()

    def count_jobs(self) -> int:
        with self._lock:
            count: int = self._conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        return count

    # -- agents -------------------------------------------------------------------------

    def live_agent_ids(self, now: float | None = None) -> list[str]:
        """Agents with a fresh heartbeat whose process still exists."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute("SELECT id, pid, heartbeat_at FROM agents").fetchall()
        return [
            r["id"]
            for r in rows
            if now - r["heartbeat_at"] < AGENT_STALE_AFTER_S and pid_alive(r["pid"])
        ]

    def agent_pids(self) -> list[int]:
        with self._lock:
            return [int(r["pid"]) for r in self._conn.execute("SELECT pid FROM agents")]

    def register_agent(self, agent_id: str, pid: int) -> None:
        """Insert or refresh an agent row with a heartbeat of now."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO agents (id, pid, heartbeat_at, started_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET pid = excluded.pid,"
                " heartbeat_at = excluded.heartbeat_at",
                (agent_id, pid, time.time(), utc_now()),
            )
