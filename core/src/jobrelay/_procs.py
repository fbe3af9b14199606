"""Process and process-group helpers (Linux ``/proc`` based), for the local agent and the stores.

Every job runs as the leader of its own session and process group, so the group id is
the leader's pid. A group id can be reused once every member is gone, so before killing
the group of a job that another (dead) agent started we compare process start times read
from ``/proc`` with the start time recorded when the job was launched.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "group_members",
    "kill_group",
    "kill_job_group",
    "pdeathsig_preexec",
    "pid_alive",
    "proc_start_time",
]

_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the ``(comm)`` field, or None if gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses, so split after its last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None if the pid is gone."""
    fields = _stat_fields(pid)
    # Field 22 of stat (starttime) is index 19 once pid and comm are stripped.
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """True if ``pid`` names a running (not zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    # An unreaped child of a dead agent stays a zombie if nobody reaps it; it is not alive.
    return fields is not None and fields[0] not in ("Z", "X")


def group_members(pgid: int, *, started_since: int | None = None) -> list[int]:
    """Pids whose process group is ``pgid`` (optionally started at or after a tick)."""
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if not fields or len(fields) <= 19 or fields[0] in ("Z", "X"):
            continue
        if int(fields[2]) != pgid:
            continue
        if started_since is not None and int(fields[19]) < started_since:
            continue
        members.append(int(entry.name))
    return members


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to a process group we own; False when the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def kill_job_group(pgid: int | None, leader_start: int | None) -> bool:
    """SIGKILL the group of a job started by another agent, if it is still that job's group.

    The group is the job's when its leader (pid == pgid) still has the recorded start
    time, or when the leader is gone and the surviving members started no earlier than
    it did. Returns True when a signal was sent.
    """
    if pgid is None or leader_start is None:
        return False
    leader_now = proc_start_time(pgid)
    if leader_now is not None and leader_now != leader_start:
        return False  # the pid was reused by an unrelated process: not ours to kill
    if not group_members(pgid, started_since=leader_start):
        return False
    return kill_group(pgid, signal.SIGKILL)


def pdeathsig_preexec() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child die with SIGKILL when its parent dies.

    libc is resolved here, in the parent, so the forked child only makes two system calls.
    If the parent died between fork and prctl the child exits at once.
    """
    # ctypes loads here, not at import: the CLI fast path imports pid_alive.
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)

    return preexec
