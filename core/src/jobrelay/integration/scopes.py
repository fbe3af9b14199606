"""The jobs of one orchestrator run, found again by their keys, and cancelled together.

A run can end without its task code getting a chance to cancel (a process killed outright,
a task thread the orchestrator never interrupts). A hook that runs elsewhere (the serving
process, a worker) then needs the run's jobs without any handle the task kept: every job
the adapter submits for the run carries a :func:`~jobrelay.integration.scoped_key`, and the
platform's job list finds them by the key's prefix.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jobrelay.client import AsyncClient
from jobrelay.models import JobRef, JobStatus

__all__ = ["active_in_scope", "cancel_scope"]

log = logging.getLogger("jobrelay.integration")

# How many of the platform's most recent jobs are searched for a run's jobs.
DEFAULT_SEARCH = 500


async def active_in_scope(
    client: AsyncClient, prefix: str, *, search: int = DEFAULT_SEARCH
) -> list[JobStatus]:
    """The active (queued, starting, running) jobs whose key starts with ``prefix``,
    among the platform's ``search`` most recent jobs."""
    jobs = await client.list_jobs(limit=search)
    return [
        status
        for status in jobs
        if status.state.is_active and (status.ref.idempotency_key or "").startswith(prefix)
    ]


async def cancel_scope(
    client: AsyncClient,
    prefix: str,
    *,
    search: int = DEFAULT_SEARCH,
    logger: logging.Logger | Any = log,
) -> list[JobRef]:
    """Cancel every active job whose key starts with ``prefix``; returns their refs.

    Safe to run twice and next to the task's own cancel (a cancel is idempotent).
    """
    refs = [status.ref for status in await active_in_scope(client, prefix, search=search)]
    for ref in refs:
        logger.info("Cancelling job %s (%s): its run ended", ref.id, ref.idempotency_key)
    await asyncio.gather(*(client.cancel(ref) for ref in refs))
    return refs
