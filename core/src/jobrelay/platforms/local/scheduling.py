"""The agent's side of the store: claiming jobs, recording attempts, recovering lost work.

Every function here is one short ``BEGIN IMMEDIATE`` transaction, so any number of agents
can share a home: a job is claimed by exactly one of them, a queue never runs more than its
``max_concurrency`` jobs, and the jobs of an agent that died are recovered exactly once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Literal

from jobrelay._procs import kill_job_group, pid_alive
from jobrelay.platforms.local import logs
from jobrelay.platforms.local.store import (
    AGENT_STALE_AFTER_S,
    DEFAULT_QUEUE,
    QUEUE_ORDER_SQL,
    Store,
    utc_now,
)

__all__ = [
    "Claim",
    "Outcome",
    "active_job_count",
    "cancel_requested_ids",
    "claim_next",
    "finish_attempt",
    "heartbeat",
    "mark_running",
    "recover_lost_jobs",
    "remove_agent",
    "retire_if_idle",
]

Outcome = Literal["succeeded", "failed", "cancelled"]


@dataclass(frozen=True)
class Claim:
    """A job this agent has claimed and must now start."""

    job_id: str
    attempt: int
    max_retries: int
    timeout_s: float | None
    spec: dict[str, Any]
    cancel_requested: bool


def _queue_settings(conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    settings = {DEFAULT_QUEUE: (os.cpu_count() or 1, "FIFO")}
    for row in conn.execute("SELECT name, max_concurrency, mode FROM queues"):
        settings[row["name"]] = (row["max_concurrency"], row["mode"])
    return settings


def claim_next(store: Store, agent_id: str) -> Claim | None:
    """Atomically claim the next job any queue with a free slot may start, or None.

    Each queue hands out jobs in its own order (FIFO, LIFO or PRIORITY) and only while
    fewer than ``max_concurrency`` of its jobs are claimed or running. Between queues the
    oldest candidate goes first, so one busy queue cannot starve another.
    """
    with store.reading() as conn:
        # Agents ask many times a second; only take the write lock when there is work.
        if conn.execute("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1").fetchone() is None:
            return None
    with store.transaction() as conn:
        settings = _queue_settings(conn)
        busy = {
            r["queue"]: r["n"]
            for r in conn.execute(
                "SELECT queue, COUNT(*) AS n FROM jobs"
                " WHERE state IN ('claimed', 'running') GROUP BY queue"
            )
        }
        waiting = [
            r["queue"]
            for r in conn.execute("SELECT DISTINCT queue FROM jobs WHERE state = 'queued'")
        ]
        best: sqlite3.Row | None = None
        for queue in waiting:
            limit, mode = settings.get(queue, settings[DEFAULT_QUEUE])
            if busy.get(queue, 0) >= limit:
                continue
            head = conn.execute(
                "SELECT id, seq, attempt, max_retries, timeout_s, spec, cancel_requested"
                f" FROM jobs WHERE queue = ? AND state = 'queued' ORDER BY {QUEUE_ORDER_SQL[mode]}"
                " LIMIT 1",
                (queue,),
            ).fetchone()
            if head is not None and (best is None or head["seq"] < best["seq"]):
                best = head
        if best is None:
            return None
        now = utc_now()
        conn.execute(
            "UPDATE jobs SET state = 'claimed', agent_id = ?, pid = NULL, pgid = NULL,"
            " proc_start = NULL WHERE id = ?",
            (agent_id, best["id"]),
        )
        conn.execute(
            "INSERT OR REPLACE INTO attempts (job_id, attempt, agent_id, started_at, state)"
            " VALUES (?, ?, ?, ?, 'claimed')",
            (best["id"], best["attempt"], agent_id, now),
        )
    return Claim(
        job_id=best["id"],
        attempt=best["attempt"],
        max_retries=best["max_retries"],
        timeout_s=best["timeout_s"],
        spec=json.loads(best["spec"]),
        cancel_requested=bool(best["cancel_requested"]),
    )


def mark_running(
    store: Store, claim: Claim, agent_id: str, *, pid: int, proc_start: int | None
) -> None:
    """Record that the claimed job's process started (its pid is its process group)."""
    now = utc_now()
    with store.transaction() as conn:
        conn.execute(
            "UPDATE jobs SET state = 'running', started_at = ?, pid = ?, pgid = ?,"
            " proc_start = ? WHERE id = ? AND agent_id = ? AND attempt = ?",
            (now, pid, pid, proc_start, claim.job_id, agent_id, claim.attempt),
        )
        conn.execute(
            "UPDATE attempts SET state = 'running', started_at = ?"
            " WHERE job_id = ? AND attempt = ?",
            (now, claim.job_id, claim.attempt),
        )


def finish_attempt(
    store: Store,
    claim: Claim,
    agent_id: str,
    *,
    outcome: Outcome,
    exit_code: int | None,
    message: str | None,
) -> str:
    """Record how an attempt ended; a failed attempt with retries left is queued again.

    Returns the job's new platform state (``queued`` when it will be retried). If the job
    was taken away from this agent meanwhile (declared lost), nothing is written.
    """
    now = utc_now()
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT cancel_requested FROM jobs WHERE id = ? AND agent_id = ? AND attempt = ?"
            " AND state IN ('claimed', 'running')",
            (claim.job_id, agent_id, claim.attempt),
        ).fetchone()
        if row is None:
            return "lost"
        conn.execute(
            "UPDATE attempts SET state = ?, ended_at = ?, exit_code = ?, message = ?"
            " WHERE job_id = ? AND attempt = ?",
            (outcome, now, exit_code, message, claim.job_id, claim.attempt),
        )
        retry = (
            outcome == "failed"
            and claim.attempt <= claim.max_retries
            and not row["cancel_requested"]
        )
        if retry:
            conn.execute(
                "UPDATE jobs SET state = 'queued', attempt = attempt + 1, agent_id = NULL,"
                " pid = NULL, pgid = NULL, proc_start = NULL, exit_code = ?, message = ?"
                " WHERE id = ?",
                (exit_code, f"attempt {claim.attempt} {message}; retrying", claim.job_id),
            )
            return "queued"
        conn.execute(
            "UPDATE jobs SET state = ?, ended_at = ?, exit_code = ?, message = ? WHERE id = ?",
            (outcome, now, exit_code, message, claim.job_id),
        )
    return outcome


def cancel_requested_ids(store: Store, agent_id: str) -> set[str]:
    """Ids of this agent's jobs that a client asked to cancel."""
    with store.reading() as conn:
        return {
            r["id"]
            for r in conn.execute(
                "SELECT id FROM jobs WHERE agent_id = ? AND cancel_requested = 1"
                " AND state IN ('claimed', 'running')",
                (agent_id,),
            )
        }


def active_job_count(store: Store) -> int:
    """Jobs queued, claimed or running anywhere in this home."""
    with store.reading() as conn:
        count: int = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'claimed', 'running')"
        ).fetchone()[0]
    return count


def heartbeat(store: Store, agent_id: str, pid: int) -> None:
    """Refresh this agent's heartbeat (re-inserting its row if a peer removed it)."""
    store.register_agent(agent_id, pid)


def retire_if_idle(store: Store, agent_id: str) -> bool:
    """Remove this agent's row if no job is active; True when the agent may exit.

    Done in one transaction with the check, so a client that queues a job right after
    either sees this agent gone (and starts another) or has its job seen here.
    """
    with store.transaction() as conn:
        active = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'claimed', 'running')"
        ).fetchone()[0]
        if active:
            return False
        conn.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
    return True


def remove_agent(store: Store, agent_id: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM agents WHERE id = ?", (agent_id,))


def _lost_outcome(job: sqlite3.Row, why: str) -> tuple[str, str]:
    """The new platform state and message for a job whose agent went away."""
    attempt = job["attempt"]
    if job["cancel_requested"]:
        return "cancelled", f"cancelled ({why} while running attempt {attempt})"
    if attempt <= job["max_retries"]:
        return "queued", f"{why} while running attempt {attempt}; retrying as attempt {attempt + 1}"
    return "lost", f"{why} while running attempt {attempt} (no retries left)"


def _live(agents: list[sqlite3.Row], now: float) -> set[str]:
    """Ids of agents with a fresh heartbeat whose process still exists."""
    return {
        a["id"]
        for a in agents
        if now - a["heartbeat_at"] < AGENT_STALE_AFTER_S and pid_alive(a["pid"])
    }


def _anything_to_recover(store: Store, own_id: str | None, now: float) -> bool:
    with store.reading() as conn:
        agents = conn.execute("SELECT id, pid, heartbeat_at FROM agents").fetchall()
        owners = {
            r["agent_id"]
            for r in conn.execute(
                "SELECT DISTINCT agent_id FROM jobs WHERE state IN ('claimed', 'running')"
            )
        }
    alive = _live(agents, now) | {own_id}
    return any(a["id"] not in alive for a in agents) or bool(owners - alive)


def recover_lost_jobs(
    store: Store, own_id: str | None, *, release_own: bool = False, now: float | None = None
) -> list[tuple[str, str]]:
    """Take back the claimed/running jobs of dead agents (or of ``own_id`` when shutting down).

    An agent is dead when its heartbeat is older than ``AGENT_STALE_AFTER_S`` or its
    process is gone. Each of its jobs has its process group killed (when the group is
    verifiably still the job's), then is queued again as the next attempt if retries
    remain, else ends as ``lost`` (FAILED), or ``cancelled`` if a cancel was asked.
    With ``release_own`` (an agent shutting down), ``own_id``'s jobs are released too.
    Returns ``(job_id, new_state)`` pairs.
    """
    now = time.time() if now is None else now
    if not release_own and not _anything_to_recover(store, own_id, now):
        return []  # the common case, answered without taking the write lock
    recovered = []
    with store.transaction() as conn:
        agents = conn.execute("SELECT id, pid, heartbeat_at FROM agents").fetchall()
        alive = _live(agents, now)
        if own_id is not None and release_own:
            alive.discard(own_id)
        elif own_id is not None:
            alive.add(own_id)
        jobs = [
            j
            for j in conn.execute(
                "SELECT id, attempt, max_retries, cancel_requested, agent_id, pgid, proc_start"
                " FROM jobs WHERE state IN ('claimed', 'running')"
            )
            if j["agent_id"] not in alive
        ]
        ended = utc_now()
        for job in jobs:
            kill_job_group(job["pgid"], job["proc_start"])
            why = "agent stopped" if job["agent_id"] == own_id else "agent lost"
            state, message = _lost_outcome(job, why)
            logs.append_record(store.home, job["id"], "system", message)
            conn.execute(
                "UPDATE attempts SET state = 'lost', ended_at = ?, message = ?"
                " WHERE job_id = ? AND attempt = ?",
                (ended, message, job["id"], job["attempt"]),
            )
            if state == "queued":
                conn.execute(
                    "UPDATE jobs SET state = 'queued', attempt = attempt + 1, agent_id = NULL,"
                    " pid = NULL, pgid = NULL, proc_start = NULL, message = ? WHERE id = ?",
                    (message, job["id"]),
                )
            else:
                conn.execute(
                    "UPDATE jobs SET state = ?, ended_at = ?, message = ? WHERE id = ?",
                    (state, ended, message, job["id"]),
                )
            recovered.append((job["id"], state))
        for agent in agents:
            if agent["id"] not in alive and agent["id"] != own_id:
                conn.execute("DELETE FROM agents WHERE id = ?", (agent["id"],))
    return recovered
