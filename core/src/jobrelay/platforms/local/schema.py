"""The local platform's SQLite schema, its version and the connection settings.

The schema version lives in ``PRAGMA user_version``; :func:`migrate` brings an older
database up to :data:`SCHEMA_VERSION` inside one ``BEGIN IMMEDIATE`` transaction, so two
processes opening a fresh home at once cannot both create the tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from jobrelay._sqlite_wal import enable_wal
from jobrelay.errors import PlatformError

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "connect", "migrate"]

DB_FILENAME = "jobrelay.db"
SCHEMA_VERSION = 1
# Writers hold the lock for milliseconds; a generous wait only matters under heavy load.
BUSY_TIMEOUT_MS = 15_000

_V1 = [
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        name TEXT,
        queue TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        spec TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN
            ('queued', 'claimed', 'running', 'succeeded', 'failed', 'lost', 'cancelled')),
        idempotency_key TEXT UNIQUE,
        attempt INTEGER NOT NULL DEFAULT 1,
        max_retries INTEGER NOT NULL DEFAULT 0,
        timeout_s REAL,
        submitted_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        exit_code INTEGER,
        message TEXT,
        agent_id TEXT,
        pid INTEGER,
        pgid INTEGER,
        proc_start INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX jobs_queue_state_seq ON jobs (queue, state, seq)",
    "CREATE INDEX jobs_queue_state_priority ON jobs (queue, state, priority DESC, seq)",
    "CREATE INDEX jobs_state_agent ON jobs (state, agent_id)",
    """
    CREATE TABLE attempts (
        job_id TEXT NOT NULL REFERENCES jobs (id),
        attempt INTEGER NOT NULL,
        agent_id TEXT,
        started_at TEXT,
        ended_at TEXT,
        exit_code INTEGER,
        state TEXT NOT NULL,
        message TEXT,
        PRIMARY KEY (job_id, attempt)
    )
    """,
    """
    CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        max_concurrency INTEGER NOT NULL CHECK (max_concurrency >= 1),
        mode TEXT NOT NULL CHECK (mode IN ('FIFO', 'LIFO', 'PRIORITY')),
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        heartbeat_at REAL NOT NULL,
        started_at TEXT NOT NULL
    )
    """,
]


def _create_v1(conn: sqlite3.Connection) -> None:
    for statement in _V1:
        conn.execute(statement)


# _MIGRATIONS[v] upgrades a database at version v to v + 1.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_v1]
assert len(_MIGRATIONS) == SCHEMA_VERSION


def _user_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`; a newer database is refused."""
    if _user_version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _user_version(conn)  # another process may have migrated meanwhile
        if version > SCHEMA_VERSION:
            raise PlatformError(
                f"the local platform database has schema version {version}, newer than "
                f"this jobrelay understands ({SCHEMA_VERSION}); upgrade jobrelay"
            )
        for step in _MIGRATIONS[version:]:
            step(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def connect(home: Path) -> sqlite3.Connection:
    """Open ``<home>/jobrelay.db`` in WAL mode with a busy timeout, migrated.

    The connection is in autocommit mode (``isolation_level=None``): callers open their
    own ``BEGIN IMMEDIATE`` transactions where they need atomicity.
    """
    conn = sqlite3.connect(
        home / DB_FILENAME,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    enable_wal(conn)
    # In WAL mode NORMAL survives process crashes; only an OS crash can lose the last commit.
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn)
    return conn
