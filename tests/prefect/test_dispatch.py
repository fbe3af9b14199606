"""``run_job`` follows Prefect's ``foo``/``afoo`` convention (``@async_dispatch``): in an
async flow it is ``arun_job`` (awaited, an ``arun_job`` task run); in a sync flow it is a
sync task run that returns the record, called directly or ``.submit()``-ed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from jobrelay import AsyncClient
from jobrelay.integration import Owner
from prefect import flow
from prefect_jobrelay import run_job

from tests.prefect.conftest import prefect_sync_client

pytestmark = pytest.mark.slow


@flow(name="jobrelay-dispatch-async")
async def in_async_flow(platform: str) -> dict[str, Any]:
    record: dict[str, Any] = await run_job(platform, {"entrypoint": ["echo", "async"]})  # type: ignore[misc]
    return record


@flow(name="jobrelay-dispatch-sync")
def in_sync_flow(platform: str) -> list[dict[str, Any]]:
    direct = run_job(platform, {"entrypoint": ["echo", "direct"]})
    submitted = run_job.submit(platform, {"entrypoint": ["echo", "submitted"]}).result()
    return [direct, submitted]


async def _task_run_names(platform: str) -> dict[str, str]:
    """Each job's entrypoint's last word -> the name of the task run that owns it."""
    from prefect.client.orchestration import get_client

    async with AsyncClient(platform) as client:
        jobs = await client.list_jobs(limit=10)
    names: dict[str, str] = {}
    async with get_client() as prefect:
        for job in jobs:
            task_run_id = Owner.parse(job.owner or "").unit[1]
            task_run = await prefect.read_task_run(uuid.UUID(task_run_id))
            names[job.ref.id] = task_run.name
    return names


async def test_run_job_in_an_async_flow_is_arun_job(
    prefect_api: dict[str, str], home: Path
) -> None:
    platform = f"local://{home}"
    with prefect_sync_client():
        record = await in_async_flow(platform)
    assert record["state"] == "SUCCEEDED"
    names = await _task_run_names(platform)
    assert [name.split("-")[0] for name in names.values()] == ["arun_job"]


async def test_run_job_in_a_sync_flow_is_a_sync_task_direct_or_submitted(
    prefect_api: dict[str, str], home: Path
) -> None:
    platform = f"local://{home}"
    with prefect_sync_client():
        # On a thread of its own, as a sync flow runs: this test's loop is not the flow's.
        records = await asyncio.to_thread(in_sync_flow, platform)
    assert [record["state"] for record in records] == ["SUCCEEDED", "SUCCEEDED"]
    names = await _task_run_names(platform)
    assert sorted(name.split("-")[0] for name in names.values()) == ["run_job", "run_job"]
