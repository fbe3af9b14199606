"""Test helper: stop everything a local-platform home started.

Tests (ours and users') run agents in a throwaway home; :func:`stop_local_home` kills its
agents and any job process group still recorded there, so nothing outlives the test that
started it. :func:`adopt_local_home` hands the same processes to an emulator's
:class:`~jobrelay_emulators.processes.ProcessGroups` (the W&B emulator's launch agent runs its
jobs on a local home).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection
from pathlib import Path

from jobrelay_emulators.processes import ProcessGroups

__all__ = ["adopt_local_home", "agent_ids", "stop_local_home"]


def _read(home: Path, query: str) -> list[tuple[object, ...]]:
    db = home / "jobrelay.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(conn.execute(query).fetchall())


def agent_ids(home: Path) -> set[str]:
    """The ids of the agents registered in ``home`` now (none when it has no database)."""
    return {str(agent_id) for (agent_id,) in _read(home, "SELECT id FROM agents")}


def adopt_local_home(
    processes: ProcessGroups,
    home: Path,
    *,
    except_agents: Collection[str] = (),
    job_ids: Collection[str] | None = None,
) -> None:
    """Record in ``processes`` the agents registered in ``home`` (but ``except_agents``) and
    the process groups of its jobs (only of ``job_ids`` when given)."""
    for agent_id, pid in _read(home, "SELECT id, pid FROM agents"):
        if agent_id not in except_agents:
            processes.adopt(int(str(pid)), group=False)
    groups = _read(home, "SELECT id, pgid, proc_start FROM jobs WHERE pgid IS NOT NULL")
    for job_id, pgid, start in groups:
        if job_ids is None or job_id in job_ids:
            processes.adopt(
                int(str(pgid)), group=True, start=int(str(start)) if start is not None else None
            )


def stop_local_home(home: Path) -> None:
    """SIGKILL the home's agents and the process groups of the jobs they ran, and wait
    (a few seconds at most) until they are gone."""
    processes = ProcessGroups()
    adopt_local_home(processes, home)
    processes.stop_all(grace_s=0)
