"""What tests check about real processes: is anything of a process group still alive?"""

from __future__ import annotations

import asyncio
import os
import time

import psutil


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return members


async def group_gone_within(pgid: int, seconds: float) -> bool:
    """True as soon as no live process is left in the group; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        await asyncio.sleep(0.05)
    return False
