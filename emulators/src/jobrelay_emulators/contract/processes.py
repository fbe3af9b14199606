"""Is anything of a process group still alive? What the kit's cancel tests check.

``group_members`` is the core's own ``/proc`` reading (the local agent kills job groups
with it), so the kit and the platform it tests agree on what "alive" means: zombies are not.
"""

from __future__ import annotations

import asyncio
import time

from jobrelay._procs import group_members

__all__ = ["group_gone_within", "group_members"]


async def group_gone_within(pgid: int, seconds: float) -> bool:
    """True as soon as no live process is left in group ``pgid``; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        await asyncio.sleep(0.05)
    return False
