"""The deployed reaper (``cancel_orphaned_jobs``, served by a real runner) against flow runs
killed outright (SIGKILL) while their job runs, in flows WITHOUT the ``on_crashed`` hook:

- what happens without the reaper: the runner (``serve()``, or a process worker) marks the
  flow run Crashed within about a second, and the job runs on (checked here before the
  reaper runs);
- one run of the reaper (grace 0) cancels the job;
- a flow run retried after the kill reattaches to its job by key, and the reaper leaves
  that job running.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from uuid import UUID

import pytest
from jobrelay.models import JobStatus

from tests.prefect import runs
from tests.prefect.conftest import FLOWS, eventually, flow_run_logs

pytestmark = pytest.mark.slow


async def _killed_bare_flow_run(
    platform: str, log: Path, runner: str = "served"
) -> tuple[UUID, JobStatus, float]:
    """A flow run without hooks (run by ``runner``: served, or a process worker), its job
    running, then SIGKILLed: the flow run, its job, and when it was killed (monotonic)."""
    deployment = await runs.deployment_id(f"{FLOWS['bare']}/{runner}")
    flow_run = await runs.start_flow_run(deployment, credentials=platform, mode="direct")
    job = await runs.wait_running_job(platform, flow_run)
    runs.flow_run_process(flow_run).send_signal(signal.SIGKILL)
    killed = time.monotonic()
    crashed = await runs.wait_flow_run_final(flow_run, timeout=30)
    print(f"{runner}: flow run {crashed.name} {time.monotonic() - killed:.2f} s after the SIGKILL")
    assert crashed.name == "Crashed", (crashed, log.read_text()[-3000:])
    return flow_run, job, killed


async def _run_reaper(platform: str, log: Path) -> tuple[list[str], float]:
    """One run of the deployed reaper with grace 0: its log lines, and how long the flow
    run took from its creation to its final state."""
    deployment = await runs.deployment_id(f"{FLOWS['reaper']}/served")
    start = time.monotonic()
    reaper = await runs.start_flow_run(deployment, credentials=platform, grace_period=0)
    state = await runs.wait_flow_run_final(reaper, timeout=60)
    took = time.monotonic() - start
    assert state.name == "Completed", (state, log.read_text()[-3000:])

    async def swept() -> list[str]:
        logs = await flow_run_logs(reaper)
        return logs if any(line.startswith("Swept ") for line in logs) else []

    return await eventually(swept, timeout=10, every=0.3), took


@pytest.fixture(params=["served", "worker"])
def runner(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """What runs the killed flow run: ``serve()`` or a process worker; its log. (The
    reaper is always the served one: one Prefect server, either way.)"""
    log: Path = request.getfixturevalue(request.param)
    return request.param, log


async def test_the_deployed_reaper_cancels_the_job_of_a_killed_flow_run(
    served: Path, home: Path, runner: tuple[str, Path]
) -> None:
    platform = f"local://{home}"
    name, log = runner
    flow_run, job, killed = await _killed_bare_flow_run(platform, log, name)
    await asyncio.sleep(1)
    status, _ = await runs.wait_job_state(platform, job, {"RUNNING"}, timeout=1)
    assert status.state.value == "RUNNING"  # nothing else stops it

    logs, reaper_took = await _run_reaper(platform, served)
    status, after = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=10)
    print(
        f"{name}: reaper flow run {reaper_took:.2f} s; job {status.state.value} "
        f"{after:.2f} s after it ended, {time.monotonic() - killed:.2f} s after the SIGKILL"
    )
    assert status.state.value == "CANCELLED"
    cancels = [line for line in logs if line.startswith("Cancelling job")]
    assert len(cancels) == 1, logs
    assert f"job {job.ref.id} (owner prefect:" in cancels[0]
    assert f":{flow_run}:" in cancels[0]
    assert "(Crashed)" in cancels[0]


async def test_the_reaper_leaves_the_job_of_a_retried_flow_run_that_reattached(
    served: Path, home: Path
) -> None:
    platform = f"local://{home}"
    flow_run, job, _ = await _killed_bare_flow_run(platform, served)
    await runs.retry_flow_run(flow_run)

    async def reattached() -> bool:
        state = await runs.flow_run_state(flow_run)
        logs = await flow_run_logs(flow_run)
        return state.is_running() and f"Reattached to job {job.ref.id} on {platform}" in logs

    assert await eventually(reattached, timeout=60, every=0.5), served.read_text()[-3000:]

    logs, _ = await _run_reaper(platform, served)
    assert not any(line.startswith("Cancelling job") for line in logs), logs
    await asyncio.sleep(1)
    status, _ = await runs.wait_job_state(platform, job, {"RUNNING"}, timeout=1)
    assert status.state.value == "RUNNING"
    (only,) = await runs.flow_run_jobs(platform, flow_run)
    assert only.ref.id == job.ref.id

    await runs.cancel_flow_run(flow_run)  # the flow run still owns it: its cancel stops it
    status, _ = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=10)
    assert status.state.value == "CANCELLED"
