"""Test helper: stop everything a local-platform home started.

Tests (ours and users') run agents in a throwaway home; this kills its agents and any job
process group still recorded there, so nothing outlives the test that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path

from jobrelay.platforms.local.procs import kill_job_group

__all__ = ["stop_local_home"]


def stop_local_home(home: Path) -> None:
    """SIGKILL the home's agents and the process groups of the jobs they ran."""
    db = home / "jobrelay.db"
    if not db.exists():
        return
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        agents = [int(pid) for (pid,) in conn.execute("SELECT pid FROM agents")]
        groups = conn.execute("SELECT pgid, proc_start FROM jobs WHERE pgid IS NOT NULL").fetchall()
    for pid in agents:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pgid, start in groups:
        kill_job_group(int(pgid), int(start) if start is not None else None)
