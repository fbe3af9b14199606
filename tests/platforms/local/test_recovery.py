"""Agent crashes: lost jobs are retried or failed, and none of their processes survive."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from jobrelay._procs import kill_job_group, pid_alive, proc_start_time
from jobrelay.models import JobSpec, JobState
from jobrelay.platforms.local import LocalPlatform
from jobrelay_emulators.contract.processes import group_gone_within

from .conftest import db_rows, job_pgid, running, wait_for

StartAgent = Callable[..., subprocess.Popen[bytes]]

pytestmark = pytest.mark.timeout(60)


async def test_a_job_leader_dies_with_its_agent_at_once(
    manual: LocalPlatform, home: Path, start_agent: StartAgent
) -> None:
    agent = start_agent()
    ref = await manual.submit(JobSpec(entrypoint=["sleep", "30"]))
    await wait_for(manual, ref, running)
    leader = job_pgid(home, ref.id)
    agent.kill()
    agent.wait()
    # No other agent runs: only the parent-death signal can have ended it.
    assert await group_gone_within(leader, 2)


@pytest.mark.parametrize(
    "entrypoint", ["sleep 30", "sleep 30 & sleep 30; wait"], ids=["leader", "grandchild"]
)
async def test_sigkilled_agent_job_is_failed_as_lost_without_retries(
    manual: LocalPlatform, home: Path, start_agent: StartAgent, entrypoint: str
) -> None:
    agent = start_agent()
    ref = await manual.submit(JobSpec(entrypoint=entrypoint))
    await wait_for(manual, ref, running)
    pgid = job_pgid(home, ref.id)
    agent.kill()
    agent.wait()
    start_agent()
    status = await wait_for(manual, ref, timeout=10)
    assert (status.state, status.platform_state) == (JobState.FAILED, "lost")
    assert status.message == "agent lost while running attempt 1 (no retries left)"
    assert await group_gone_within(pgid, 5)


@pytest.mark.parametrize(
    "entrypoint", ["sleep 30", "sleep 30 & sleep 30; wait"], ids=["leader", "grandchild"]
)
async def test_sigkilled_agent_job_is_requeued_as_the_next_attempt(
    manual: LocalPlatform, home: Path, start_agent: StartAgent, entrypoint: str
) -> None:
    agent = start_agent()
    ref = await manual.submit(JobSpec(entrypoint=entrypoint, max_retries=1))
    await wait_for(manual, ref, running)
    pgid = job_pgid(home, ref.id)
    agent.kill()
    agent.wait()
    start_agent()
    status = await wait_for(manual, ref, lambda s: s.attempt == 2 and s.state is JobState.RUNNING)
    assert job_pgid(home, ref.id) != pgid
    assert await group_gone_within(pgid, 5)
    attempts = db_rows(home, "SELECT attempt, state FROM attempts WHERE job_id = ?", ref.id)
    assert sorted(attempts) == [(1, "lost"), (2, "running")]
    assert status.message is not None
    assert "agent lost while running attempt 1" in status.message


async def test_a_waiter_restarts_a_crashed_agent(platform: LocalPlatform, home: Path) -> None:
    ref = await platform.submit(JobSpec(entrypoint="sleep 30 & sleep 30; wait"))
    await wait_for(platform, ref, running)
    pgid = job_pgid(home, ref.id)
    [(pid,)] = db_rows(home, "SELECT pid FROM agents")
    os.kill(int(str(pid)), signal.SIGKILL)
    # Only status polling from here on: the platform must notice no agent is alive.
    status = await wait_for(platform, ref, timeout=15)
    assert (status.state, status.platform_state) == (JobState.FAILED, "lost")
    assert await group_gone_within(pgid, 5)


async def test_cancel_requested_before_the_crash_ends_as_cancelled(
    manual: LocalPlatform, home: Path, start_agent: StartAgent
) -> None:
    agent = start_agent("--cancel-grace", "30")
    ref = await manual.submit(JobSpec(entrypoint="trap '' TERM; sleep 30", max_retries=3))
    await wait_for(manual, ref, running)
    await manual.cancel(ref)  # the job ignores SIGTERM and the grace period is long
    agent.kill()
    agent.wait()
    start_agent()
    status = await wait_for(manual, ref, timeout=10)
    assert status.state is JobState.CANCELLED


async def test_stopping_an_agent_hands_its_jobs_back(
    manual: LocalPlatform, home: Path, start_agent: StartAgent
) -> None:
    agent = start_agent()
    ref = await manual.submit(JobSpec(entrypoint="sleep 30 & sleep 30; wait"))
    await wait_for(manual, ref, running)
    pgid = job_pgid(home, ref.id)
    agent.terminate()
    assert agent.wait(timeout=10) == 0
    status = await manual.status(ref)
    assert (status.state, status.platform_state) == (JobState.FAILED, "lost")
    assert status.message == "agent stopped while running attempt 1 (no retries left)"
    assert await group_gone_within(pgid, 5)
    assert db_rows(home, "SELECT id FROM agents") == []


def test_a_reused_group_id_is_never_killed() -> None:
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        start = proc_start_time(other.pid)
        assert start is not None
        assert not kill_job_group(other.pid, start - 1)  # recorded for an older process
        assert pid_alive(other.pid)
        assert kill_job_group(other.pid, start)
        assert other.wait(timeout=5) == -signal.SIGKILL
    finally:
        other.kill()
        other.wait()
