"""Turning on WAL while another process holds the database (two creators at once)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from jobrelay._sqlite_wal import enable_wal


def test_wal_switch_waits_for_a_reader_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM t").fetchall()  # a shared lock, as another process would hold
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("PRAGMA journal_mode=WAL")  # a plain switch gives up

    threading.Timer(0.2, lambda: holder.execute("COMMIT")).start()
    enable_wal(other, timeout_s=5)

    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()
    other.close()
