"""A flow-run process killed outright (SIGKILL) while its job runs, then the flow run
rerun: never two running jobs. With the integration's ``on_crashed`` hook the orphan is
cancelled and the rerun submits one new job; without it the rerun reattaches to the job
still running."""

from __future__ import annotations

import signal
from pathlib import Path
from uuid import UUID

import pytest

from tests.prefect import runs
from tests.prefect.conftest import FLOWS, eventually, flow_run_logs

pytestmark = pytest.mark.slow


async def _kill_and_rerun(kind: str, platform: str, log: Path) -> tuple[UUID, runs.ActiveJobs, str]:
    deployment = await runs.deployment_id(f"{FLOWS[kind]}/served")
    flow_run = await runs.start_flow_run(deployment, credentials=platform, mode="direct")
    active = runs.ActiveJobs(platform, flow_run)
    async with active:
        first = await runs.wait_running_job(platform, flow_run)
        runs.flow_run_process(flow_run).send_signal(signal.SIGKILL)
        crashed = await runs.wait_flow_run_final(flow_run, timeout=30)
        assert crashed.name == "Crashed", (crashed, log.read_text()[-3000:])
        if kind != "bare":  # the crash hook cancels the orphan before anyone reruns
            status, _ = await runs.wait_job_state(platform, first, {"CANCELLED"}, timeout=10)
            assert status.state.value == "CANCELLED"

        await runs.retry_flow_run(flow_run)

        async def rerun_started() -> bool:
            state = await runs.flow_run_state(flow_run)
            logs = await flow_run_logs(flow_run)
            return state.is_running() and sum("job j-" in line for line in logs) > 1

        assert await eventually(rerun_started, timeout=60, every=0.5), log.read_text()[-3000:]
        second = await runs.wait_running_job(platform, flow_run)
    assert active.most == 1, active.samples  # never two
    return flow_run, active, second.ref.id if second.ref.id != first.ref.id else "same"


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_killed_flow_run_rerun_cancels_the_orphan_and_runs_one_new_job(
    served: Path, home: Path, kind: str
) -> None:
    platform = f"local://{home}"
    flow_run, _, second = await _kill_and_rerun(kind, platform, served)

    jobs = await runs.flow_run_jobs(platform, flow_run)
    assert second != "same"
    assert [job.state.value for job in jobs] == ["RUNNING", "CANCELLED"]  # newest first
    new, orphan = jobs
    assert new.ref.id == second
    # The rerun found the orphan by its key (same flow run, task and spec), and as it was
    # cancelled, submitted under the derived key.
    assert new.ref.idempotency_key == f"{orphan.ref.idempotency_key}#2"

    await runs.cancel_flow_run(flow_run)
    status, _ = await runs.wait_job_state(platform, new, {"CANCELLED"}, timeout=10)
    assert status.state.value == "CANCELLED"
    assert (await runs.wait_flow_run_final(flow_run, timeout=45)).name == "Cancelled"


async def test_a_killed_flow_run_rerun_without_hooks_reattaches_to_its_job(
    served: Path, home: Path
) -> None:
    platform = f"local://{home}"
    flow_run, _, second = await _kill_and_rerun("bare", platform, served)

    jobs = await runs.flow_run_jobs(platform, flow_run)
    assert second == "same", (jobs, served.read_text()[-3000:])
    (job,) = jobs
    assert job.state.value == "RUNNING"
    logs = await flow_run_logs(flow_run)
    assert f"Reattached to job {job.ref.id} on {platform}" in logs, logs
    assert sum(line.startswith("Submitted job") for line in logs) == 1

    await runs.cancel_flow_run(flow_run)
    status, _ = await runs.wait_job_state(platform, job, {"CANCELLED"}, timeout=10)
    assert status.state.value == "CANCELLED"
    assert (await runs.wait_flow_run_final(flow_run, timeout=45)).name == "Cancelled"
