"""Start a background agent for a home when none is alive.

Clients call :func:`ensure_agent` around a submit. An ``fcntl.flock`` on
``<home>/agent.lock`` makes the check-then-start atomic across processes, so two clients
submitting at once start one agent, not two. The agent is detached through ``/bin/sh``
(``cmd &``): it is not our child, so it never lingers as our zombie, and it runs in its own
session so a Ctrl-C in the client's terminal does not reach it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from jobrelay.errors import PlatformError
from jobrelay.platforms.local.store import Store, new_agent_id

__all__ = ["agent_command", "ensure_agent"]

# `$1` is the log file; the rest is the agent's argv. `$!` is the detached agent's pid.
_DETACH = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'


def agent_command(home: Path, agent_id: str, idle_timeout: float | None) -> list[str]:
    """The argv that runs an agent for ``home``."""
    return [
        sys.executable,
        "-m",
        "jobrelay.platforms.local.agent",
        "--home",
        str(home),
        "--agent-id",
        agent_id,
        "--idle-timeout",
        "inf" if idle_timeout is None else repr(float(idle_timeout)),
    ]


def ensure_agent(store: Store, *, idle_timeout: float | None = 30.0) -> str | None:
    """Start a detached agent for ``store.home`` unless a live one exists.

    The new agent's row (its pid, a heartbeat of now) is inserted here, so the next
    caller sees it alive before the agent has even imported its modules. Blocking (a file
    lock and a fork); call it from a worker thread in async code. Returns the new agent's
    id, or None when an agent was already alive. Raises ``PlatformError`` if it cannot
    start one.
    """
    home = store.home
    lock_fd = os.open(home / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if store.live_agent_ids():
            return None
        agent_id = new_agent_id()
        argv = agent_command(home, agent_id, idle_timeout)
        try:
            shell = subprocess.run(
                ["/bin/sh", "-c", _DETACH, "jobrelay-spawn", str(home / "agent.log"), *argv],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=home,  # the agent should not keep the client's directory busy
                start_new_session=True,
                timeout=10,
                check=True,
            )
            pid = int(shell.stdout.strip())
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise PlatformError(
                f"could not start a local agent for {home}: {exc}; run one yourself with "
                f"`{sys.executable} -m jobrelay.platforms.local.agent --home {home}`"
            ) from exc
        store.register_agent(agent_id, pid)
        return agent_id
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)
