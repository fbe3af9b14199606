"""Flows the acceptance tests run in other processes (a served runner, a process worker).

Each flow runs one long job (a Python loop that prints a tick every 0.1 s) on the local
platform home it is given, through the integration, in one of the ways a user writes it:

- ``async_job_flow``: the async task ``arun_job``, awaited directly or ``.submit()``-ed;
- ``sync_job_flow``: a sync task around ``run_job.fn`` (the sync task's body), called
  directly or ``.submit()``-ed.

Both carry the integration's hook for ``on_cancellation`` and ``on_crashed``; it finds the
flow run's jobs through the ``credentials`` parameter. ``bare_async_job_flow`` has none.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_jobrelay import arun_job, cancel_flow_run_jobs, run_job

Mode = Literal["direct", "submit"]

TICKS = """import time
for i in range(100000):
    print('tick', i, flush=True)
    time.sleep(0.1)
"""


def ticking_job(name: str = "ticks") -> dict[str, Any]:
    """A job that runs until it is stopped, printing as it goes."""
    return {"entrypoint": [sys.executable, "-c", TICKS], "name": name}


@task(cache_policy=NO_CACHE)
def run_ticks_sync(credentials: str, timeout: float | None = None) -> dict[str, Any]:
    record: dict[str, Any] = run_job.fn(
        credentials, ticking_job("sync-ticks"), timeout=timeout, poll_frequency_seconds=0.5
    )
    return record


hooks: dict[str, Any] = {
    "on_cancellation": [cancel_flow_run_jobs()],
    "on_crashed": [cancel_flow_run_jobs()],
}


async def _run_ticks(credentials: str, mode: Mode) -> dict[str, Any]:
    spec = ticking_job("async-ticks")
    if mode == "direct":
        record: dict[str, Any] = await arun_job(credentials, spec, poll_frequency_seconds=0.5)
        return record
    future = arun_job.submit(credentials, spec, poll_frequency_seconds=0.5)
    submitted: dict[str, Any] = future.result()
    return submitted


@flow(name="jobrelay-async-job", **hooks)
async def async_job_flow(credentials: str, mode: Mode = "direct") -> dict[str, Any]:
    return await _run_ticks(credentials, mode)


@flow(name="jobrelay-async-job-bare")
async def bare_async_job_flow(credentials: str, mode: Mode = "direct") -> dict[str, Any]:
    """The same, without the hooks: nothing cancels a job when the flow-run process dies.
    (``with_options(on_crashed=[])`` keeps the hooks in Prefect 3.7.7: ``[] or hooks``.)"""
    return await _run_ticks(credentials, mode)


@flow(name="jobrelay-sync-job", **hooks)
def sync_job_flow(credentials: str, mode: Mode = "direct") -> dict[str, Any]:
    if mode == "direct":
        return run_ticks_sync(credentials)
    return run_ticks_sync.submit(credentials).result()
