"""``jobrelay status JOB`` on the local platform with the standard library alone.

What the full command shows (``cli.render.status_detail``), read from the home's database
and, for a succeeded job's outputs, from what the artifact handoff saved when it collected
them (``<home>/handoff/<token>/outputs/.collected.json``). Where the full command would do
something besides reading, this answers None and the full command runs: outputs not yet
collected (it stores them), an active job with no live agent (it starts one).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from jobrelay._procs import pid_alive
from jobrelay.cli import fast_table
from jobrelay.cli.tables import STATE_STYLE
from jobrelay.platforms.local import rows

__all__ = ["AGENT_STALE_AFTER_S", "pid_alive", "status_text"]

# As ``platforms.local.store.AGENT_STALE_AFTER_S`` (that module imports pydantic; a test
# keeps the two equal): an agent whose heartbeat is older is taken for dead.
AGENT_STALE_AFTER_S = 3.0
_COLLECTED = ".collected.json"  # as ``artifacts.handoff.COLLECTED_FILE``


def status_text(
    conn: sqlite3.Connection, home: Path, job_id: str, out: fast_table.Console
) -> str | None:
    """The full command's text for ``job_id``, or None to let it run."""
    found = rows.status_rows(conn, [job_id])
    if not found:
        return None  # the full command says it is not found, with its exit code
    view = rows.row_view(found[0])
    if view.state not in rows.TERMINAL_VALUES and not _agent_alive(conn):
        return None
    outputs: list[tuple[str, str]] = []
    if view.state == "SUCCEEDED":
        collected = _collected_outputs(home, job_id)
        if collected is None:
            return None
        outputs = collected

    def when(value: object) -> str:
        return "-" if value is None else str(value)

    pairs = [
        ("job", view.id),
        ("name", view.name or "-"),
        ("state", view.state),
        ("platform state", view.platform_state),
        ("queue", view.queue or "-"),
        ("position", str(view.queue_position or "-")),
        ("attempt", str(view.attempt)),
        ("exit code", "-" if view.exit_code is None else str(view.exit_code)),
        ("submitted", when(view.submitted_at)),
        ("started", when(view.started_at)),
        ("ended", when(view.ended_at)),
        ("owner", view.owner or "-"),
        ("message", view.message or "-"),
        ("url", rows.log_path(home.absolute(), job_id).as_uri()),
        *outputs,
    ]
    styles = [
        ["bold", STATE_STYLE.get(view.state, "") if key == "state" else ""] for key, _ in pairs
    ]
    return fast_table.draw(
        [list(pair) for pair in pairs], out, flexible=(False, True), styles=styles
    )


def _agent_alive(conn: sqlite3.Connection) -> bool:
    """Whether an agent serves the home (a fresh heartbeat and its process there)."""
    now = time.time()
    return any(
        now - heartbeat < AGENT_STALE_AFTER_S and pid_alive(pid)
        for pid, heartbeat in conn.execute("SELECT pid, heartbeat_at FROM agents")
    )


def _collected_outputs(home: Path, job_id: str) -> list[tuple[str, str]] | None:
    """A succeeded job's outputs as ``(output NAME, "NAME:VERSION DIGEST")`` rows, from what
    the handoff saved; None when they are still to be collected (or it cannot tell)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id)  # job_area's rule
    try:
        token = (home / "handoff" / "jobs" / safe).read_text().strip()
    except FileNotFoundError:
        return []  # submitted without the handoff: no outputs
    if not token.isalnum():
        return []
    folder = home / "handoff" / token / "outputs"
    try:
        saved: Any = json.loads((folder / _COLLECTED).read_bytes())
    except FileNotFoundError:
        # Not collected yet: the full command collects (and stores) them, or records that
        # there are none; with no folder there is nothing to collect.
        return [] if not folder.exists() else None
    if not isinstance(saved, dict):
        return None
    shown: list[tuple[str, str]] = []
    for name, ref in saved.items():
        if not isinstance(ref, dict):
            return None
        parts = [ref.get("name"), ref.get("version"), ref.get("digest")]
        if not all(isinstance(part, str) for part in parts):
            return None
        algorithm, _, hexdigest = str(parts[2]).partition(":")
        short = f"{algorithm}:{hexdigest[:10]}" if hexdigest else parts[2]  # short_digest
        shown.append((f"output {name}", f"{parts[0]}:{parts[1]} {short}"))
    return shown
