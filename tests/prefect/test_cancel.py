"""Cancelling a flow run through the API cancels its job: the flow served by a real runner,
and run by a process worker from a deployment, each in other processes than the test."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from jobrelay_emulators.contract.processes import group_gone_within

from tests.platforms.local.conftest import job_pgid
from tests.prefect import runs
from tests.prefect.conftest import FLOWS

pytestmark = pytest.mark.slow


async def _cancel_and_check(
    deployment: str, home: Path, mode: str, runner_log: Path, label: str
) -> None:
    platform = f"local://{home}"
    flow_run = await runs.start_flow_run(
        await runs.deployment_id(deployment), credentials=platform, mode=mode
    )
    job = await runs.wait_running_job(platform, flow_run)
    pgid = job_pgid(home, job.ref.id)

    await runs.cancel_flow_run(flow_run)
    cancelled = time.monotonic()

    status, took = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=10)
    print(f"{label}: job {status.state.value} {took:.2f} s after the cancel")
    assert status.state.value == "CANCELLED", (status, runner_log.read_text()[-4000:])
    assert await group_gone_within(pgid, 2)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    state = await runs.wait_flow_run_final(flow_run, timeout=45)
    print(f"{label}: flow run {state.name} {time.monotonic() - cancelled:.2f} s after the cancel")
    assert state.name == "Cancelled", (state, runner_log.read_text()[-4000:])
    assert len(await runs.flow_run_jobs(platform, flow_run)) == 1


@pytest.fixture(params=["served", "worker"])
def runner(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """``served``: ``serve()`` runs the flow runs; ``worker``: a process worker does, from
    deployments on its pool (both name their deployments after themselves). Its log."""
    log: Path = request.getfixturevalue(request.param)
    return request.param, log


@pytest.mark.parametrize("mode", ["direct", "submit"])
@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_cancelling_the_flow_run_cancels_its_job(
    runner: tuple[str, Path], home: Path, kind: str, mode: str
) -> None:
    name, log = runner
    await _cancel_and_check(f"{FLOWS[kind]}/{name}", home, mode, log, f"{name} {kind}/{mode}")
