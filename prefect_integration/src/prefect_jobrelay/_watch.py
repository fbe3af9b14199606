"""Stop a wait when its flow run is cancelled, wherever the wait runs.

Prefect delivers a flow-run cancel as a SIGTERM to the flow-run process, which reaches
only the main thread (reference §6). A task started with ``.submit()`` runs on a worker
thread and gets nothing: Prefect's thread pool then waits for it (Prefect 3.7.7's
``ThreadPoolTaskRunner.__exit__``) until the runner SIGKILLs the process 30 s later, and
only then runs the flow's ``on_cancellation`` hooks. And a process worker notices a
cancel only at its next poll. So every wait inside a flow run also reads its flow run's
state (one API call a second, shared by all the waits of the process) and, once the run
is Cancelling or Cancelled, stops the wait through its kill switch: the job is cancelled
on the wait's own loop, then :class:`~jobrelay.integration.Killed` is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from jobrelay.integration import KillSwitch
from prefect.client.orchestration import get_client
from prefect.logging import get_logger

from prefect_jobrelay._identity import current_flow_run_id

__all__ = ["WATCH_INTERVAL_S", "watching"]

T = TypeVar("T")

WATCH_INTERVAL_S = 1.0

log = get_logger("prefect_jobrelay")
_lock = threading.Lock()
# flow run id -> (monotonic time read, cancelled?): one read a tick for the whole process
_seen: dict[UUID, tuple[float, bool]] = {}


async def _cancelled(client: Any, flow_run_id: UUID, interval: float) -> bool:
    now = time.monotonic()
    with _lock:
        seen = _seen.get(flow_run_id)
    if seen is not None and now - seen[0] < interval * 0.9:
        return seen[1]
    state = (await client.read_flow_run(flow_run_id)).state
    cancelled = state is not None and (state.is_cancelling() or state.is_cancelled())
    with _lock:
        _seen[flow_run_id] = (now, cancelled)
    return cancelled


async def _watch(flow_run_id: UUID, kill: KillSwitch, interval: float) -> None:
    async with get_client() as client:
        while True:
            await asyncio.sleep(interval)
            try:
                cancelled = await _cancelled(client, flow_run_id, interval)
            except Exception as exc:  # the API is away: keep waiting, the wait goes on
                log.debug("Could not read flow run %s: %s", flow_run_id, exc)
                continue
            if cancelled:
                log.info("Flow run %s is cancelled: stopping the wait", flow_run_id)
                kill.request()
                return


def watching(
    work: Callable[[], Awaitable[T]], kill: KillSwitch, *, interval: float = WATCH_INTERVAL_S
) -> Callable[[], Awaitable[T]]:
    """``work`` with a watch on the current flow run beside it (none outside a flow run):
    a cancel of the flow run requests ``kill``."""
    flow_run_id = current_flow_run_id()
    if flow_run_id is None:
        return work

    async def watched() -> T:
        watcher = asyncio.create_task(_watch(flow_run_id, kill, interval))
        try:
            return await work()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    return watched
