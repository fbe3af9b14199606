"""What an emulator started, and stopping all of it before its folders are removed.

An emulator runs its jobs as local processes, each the leader of its own session and process
group (whatever a job starts stays in its group). It records every one in a
:class:`ProcessGroups`: as it starts it (:meth:`ProcessGroups.popen`), or as it learns of one
another program started on its behalf (:meth:`ProcessGroups.adopt`: the W&B emulator's local
agent and the jobs that agent runs). :meth:`ProcessGroups.stop_all` ends them all (SIGTERM, a
grace period, SIGKILL) and returns only once they are gone, so the caller can then remove the
folders they ran in. After it, nothing new can be started.

A recorded pid is checked against the start time it had when recorded, so a pid (or process
group id) the system has since reused for an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobrelay._procs import proc_start_time

__all__ = ["ProcessGroups", "Stopping"]

_POLL_S = 0.02
_KILL_WAIT_S = 5.0  # after SIGKILL a process is gone within milliseconds; this is a bound


class Stopping(RuntimeError):
    """Raised by :meth:`ProcessGroups.popen` once :meth:`ProcessGroups.stop_all` has begun."""


@dataclass
class _Snapshot:
    """The live (not zombie) processes at one moment: start times by pid and by group."""

    starts: dict[int, int] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def take(cls) -> _Snapshot:
        # One pass over /proc serves every check of a round, however many groups there are.
        found = cls()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            # comm may hold spaces and parentheses: the fields start after its last ')'.
            fields = raw[raw.rfind(")") + 2 :].split()
            if len(fields) <= 19 or fields[0] in ("Z", "X"):
                continue
            start = int(fields[19])
            found.starts[int(entry.name)] = start
            found.groups.setdefault(int(fields[2]), []).append(start)
        return found


@dataclass
class _Started:
    pid: int
    start: int | None  # the pid's start time (clock ticks since boot) when it was recorded
    group: bool  # the whole process group ``pid`` leads, not only the process
    popen: subprocess.Popen[bytes] | None = None

    def alive(self, now: _Snapshot) -> bool:
        if self.popen is not None:
            self.popen.poll()  # reap our own child, so it does not linger as a zombie
        start = now.starts.get(self.pid)
        if start is not None and self.start is not None and start != self.start:
            return False  # the pid was reused by an unrelated process
        if self.group:
            # Members started before the leader belong to a reused group id, not to us.
            return any(
                self.start is None or member >= self.start
                for member in now.groups.get(self.pid, ())
            )
        return start is not None

    def signal(self, sig: int, now: _Snapshot | None = None) -> None:
        if not self.alive(now or _Snapshot.take()):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)


class ProcessGroups:
    """The processes an emulator started; ``grace_s`` is the wait between SIGTERM and SIGKILL.

    Thread-safe: jobs may start from handler and scheduler threads while another thread stops.
    """

    def __init__(self, *, grace_s: float = 2.0) -> None:
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._started: list[_Started] = []
        self._stopping = False

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """``subprocess.Popen(argv, **options)`` as the leader of a new session, recorded.

        Raises :class:`Stopping` once :meth:`stop_all` has begun (nothing new may start then).
        """
        with self._lock:  # so stop_all cannot miss a process that is being started
            if self._stopping:
                raise Stopping("the emulator is stopping; no new processes")
            process = subprocess.Popen(list(argv), start_new_session=True, **options)
            self._started.append(_Started(process.pid, proc_start_time(process.pid), True, process))
        return process

    def adopt(self, pid: int, *, group: bool, start: int | None = None) -> None:
        """Record a process that another program started for the emulator (and, with
        ``group``, the process group it leads). ``start`` is its start time as recorded
        when it was started (``/proc/<pid>/stat`` field 22), if known; else it is read now,
        and a pid already gone is ignored."""
        start = start if start is not None else proc_start_time(pid)
        if start is None:
            return
        with self._lock:
            if any(s.pid == pid and s.start == start for s in self._started):
                return
            self._started.append(_Started(pid, start, group))

    def terminate(self, process: subprocess.Popen[bytes], grace_s: float | None = None) -> None:
        """Stop one recorded job now without waiting: SIGTERM its group, and SIGKILL it
        ``grace_s`` later (default :attr:`grace_s`) if it is still there; 0 kills at once."""
        found = self._find(process)
        grace = self.grace_s if grace_s is None else grace_s
        if grace <= 0:
            found.signal(signal.SIGKILL)
            return
        found.signal(signal.SIGTERM)
        timer = threading.Timer(grace, found.signal, args=(signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    def stop_all(self, grace_s: float | None = None) -> list[int]:
        """Stop everything recorded and wait until it is gone; returns the pids still alive
        after SIGKILL (none, unless a process is stuck in the kernel). Idempotent."""
        grace = self.grace_s if grace_s is None else grace_s
        with self._lock:
            self._stopping = True
            started = list(self._started)
        now = _Snapshot.take()
        live = [item for item in started if item.alive(now)]
        for item in live:
            item.signal(signal.SIGTERM if grace > 0 else signal.SIGKILL, now)
        live = _wait_gone(live, grace)
        now = _Snapshot.take()
        for item in live:
            item.signal(signal.SIGKILL, now)
        live = _wait_gone(live, _KILL_WAIT_S)
        for item in started:
            if item.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    item.popen.wait(0.1)
        return [item.pid for item in live]

    def _find(self, process: subprocess.Popen[bytes]) -> _Started:
        with self._lock:
            for item in self._started:
                if item.popen is process:
                    return item
        return _Started(process.pid, proc_start_time(process.pid), True, process)


def _wait_gone(items: list[_Started], seconds: float) -> list[_Started]:
    deadline = time.monotonic() + seconds
    while True:
        now = _Snapshot.take()
        items = [item for item in items if item.alive(now)]
        if not items or time.monotonic() >= deadline:
            return items
        time.sleep(_POLL_S)
