"""A task's ``timeout_seconds`` cancels its job: awaited or ``.submit()``-ed, async or sync
(Prefect enforces the limit in the flow-run process, so the flows run in this one), on local
and on the hosted platforms: there the limit is an anyio cancel scope, which cancels every
await after it, and the cancel request must still reach the platform before the task ends."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from jobrelay import ConfigError
from jobrelay_emulators.contract.processes import group_gone_within
from prefect import flow
from prefect_jobrelay import arun_job, run_job

from tests.platforms.local.conftest import job_pgid
from tests.prefect import runs
from tests.prefect.conftest import prefect_sync_client
from tests.prefect.flows import run_ticks_sync, ticking_job
from tests.prefect.hosted import HOSTED, hosted

pytestmark = pytest.mark.slow

LIMIT = 3.0


@flow(name="jobrelay-async-timeout")
async def async_timeout(
    credentials: str, mode: str, spec: dict[str, Any] | None = None, limit: float = LIMIT
) -> Any:
    limited = arun_job.with_options(timeout_seconds=limit)
    spec = spec or ticking_job("async-limited")
    if mode == "direct":
        return await limited(credentials, spec, poll_frequency_seconds=0.5)
    return limited.submit(credentials, spec, poll_frequency_seconds=0.5).result()


@flow(name="jobrelay-sync-timeout")
def sync_timeout(credentials: str, mode: str) -> Any:
    limited = run_ticks_sync.with_options(timeout_seconds=LIMIT)
    if mode == "direct":
        return limited(credentials)
    return limited.submit(credentials).result()


@pytest.mark.parametrize("mode", ["direct", "submit"])
async def test_an_async_task_timeout_cancels_its_job(
    prefect_api: dict[str, str], home: Path, mode: str
) -> None:
    with prefect_sync_client():
        state = await async_timeout(f"local://{home}", mode, return_state=True)
    await _job_cancelled(home, state, f"async/{mode}")


@pytest.mark.parametrize("mode", ["direct", "submit"])
def test_a_sync_task_timeout_cancels_its_job(
    prefect_api: dict[str, str], home: Path, mode: str
) -> None:
    # A sync flow on this thread, with no event loop running, as a runner starts it.
    state = sync_timeout(f"local://{home}", mode, return_state=True)
    asyncio.run(_job_cancelled(home, state, f"sync/{mode}"))


@pytest.mark.timeout(300)  # the first one starts Prefect's server (over 90 s on 2 busy cores)
@pytest.mark.parametrize("mode", ["direct", "submit"])
@pytest.mark.parametrize("platform", HOSTED)
async def test_an_async_task_timeout_cancels_its_job_on_a_hosted_platform(
    prefect_api: dict[str, str], tmp_path: Path, platform: str, mode: str
) -> None:
    async with hosted(platform, tmp_path) as target:
        with prefect_sync_client():
            state = await async_timeout(
                target.credentials, mode, target.spec, target.limit_s, return_state=True
            )
        # Sent and answered before the task ended, not left to a client being closed.
        cancels = None if target.cancels_seen is None else target.cancels_seen()
        assert state.name == "TimedOut", state
        (job,) = await target.flow_run_jobs(state.state_details.flow_run_id)
        status = await target.state_once(job, {"CANCELLED"}, timeout=15)
        print(f"{platform} async/{mode}: job {status.state.value} ({status.platform_state})")
        assert status.state.value == "CANCELLED", status
        if cancels is None:  # Ray keeps no request log: STOPPED is its answer to a stop
            assert status.platform_state == "STOPPED", status
        else:
            assert cancels >= 1


async def _job_cancelled(home: Path, state: Any, label: str) -> None:
    platform = f"local://{home}"
    assert state.name == "TimedOut", state
    (job,) = await runs.flow_run_jobs(platform, state.state_details.flow_run_id)
    status, took = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=5)
    print(f"{label}: job {status.state.value}, {took:.2f} s after the flow run ended")
    assert status.state.value == "CANCELLED"
    pgid = job_pgid(home, job.ref.id)
    assert await group_gone_within(pgid, 5)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_run_jobs_sync_body_on_a_running_loop_says_what_to_do_instead(home: Path) -> None:
    async def on_a_loop() -> None:
        run_job.fn(f"local://{home}", ticking_job())

    with pytest.raises(ConfigError, match="await arun_job"):
        asyncio.run(on_a_loop())
    assert not (home / "jobrelay.db").exists()  # nothing was sent
