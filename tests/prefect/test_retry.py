"""A Prefect task retry reattaches to the job its first attempt submitted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_jobrelay import arun_job

from tests.prefect import runs
from tests.prefect.conftest import flow_run_logs, flush_logs, prefect_sync_client

pytestmark = pytest.mark.slow

attempts: list[dict[str, Any]] = []


@task(retries=1, retry_delay_seconds=0, cache_policy=NO_CACHE)
async def train_then_fail_once(platform: str) -> dict[str, Any]:
    record: dict[str, Any] = await arun_job.fn(platform, {"entrypoint": ["echo", "trained"]})
    attempts.append(record)
    if len(attempts) == 1:
        raise RuntimeError("the task failed after its job succeeded")
    return record


@flow(name="jobrelay-retry")
async def retried(platform: str) -> dict[str, Any]:
    return await train_then_fail_once(platform)


async def test_a_task_retry_reattaches_to_its_job(prefect_api: dict[str, str], home: Path) -> None:
    platform = f"local://{home}"
    attempts.clear()
    with prefect_sync_client():
        state = await retried(platform, return_state=True)

    assert state.is_completed(), state
    first, second = attempts
    assert (first["reattached"], second["reattached"]) == (False, True)
    assert second["job_id"] == first["job_id"]
    flow_run_id = state.state_details.flow_run_id
    assert len(await runs.flow_run_jobs(platform, flow_run_id)) == 1
    await flush_logs()
    assert f"Reattached to job {first['job_id']} on {platform}" in await flow_run_logs(flow_run_id)
