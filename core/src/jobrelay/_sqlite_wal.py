"""Switching a SQLite database to WAL safely while other processes open it too.

Turning on WAL needs an exclusive lock. When two processes create the same database at
once, the switch can fail with "database is locked" despite the connection's busy timeout
(seen in CI: two artifact writers racing on a new store; SQLite does not always run its
busy handler for this lock). The mode sticks to the file, so the switch is retried for a
while; once the file is in WAL mode the call is a no-op.
"""

from __future__ import annotations

import sqlite3
import time

__all__ = ["enable_wal"]


def enable_wal(conn: sqlite3.Connection, *, timeout_s: float = 30.0) -> None:
    """Put ``conn``'s database in WAL mode, retrying while another process holds it."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(0.1, delay * 2)
