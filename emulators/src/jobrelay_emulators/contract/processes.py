"""Is anything of a process group still alive? What the kit's cancel tests check.

Read from ``/proc`` (the emulators and the kit run on Linux), so the kit needs no process
library of its own.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

_PROC = Path("/proc")


def _is_zombie(pid: int) -> bool:
    """True when the process has exited and waits for its parent to reap it."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return True  # gone between the listing and this read: not alive either
    # The command name in parentheses may hold spaces or ')': the state follows the last ')'.
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes in process group ``pgid``, as pids."""
    members = []
    for entry in os.listdir(_PROC):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getpgid(pid) != pgid:
                continue
        except (ProcessLookupError, PermissionError):
            continue
        if not _is_zombie(pid):
            members.append(pid)
    return members


async def group_gone_within(pgid: int, seconds: float) -> bool:
    """True as soon as no live process is left in group ``pgid``; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        await asyncio.sleep(0.05)
    return False
