"""The agent end to end, with real processes: results, timeouts, retries, cancel, order."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from jobrelay.models import JobSpec, JobState, QueueMode
from jobrelay.platforms.local import LocalPlatform
from jobrelay_emulators.contract.processes import group_gone_within

from .conftest import db_rows, eventually, job_pgid, running, wait_for

StartAgent = Callable[..., subprocess.Popen[bytes]]


async def test_success_records_exit_code_times_and_env(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    spec = JobSpec(
        entrypoint=[
            "sh",
            "-c",
            f'echo "$GREETING $JOBRELAY_JOB_ID" > {out.name}; pwd >> {out.name}',
        ],
        env={"GREETING": "hi"},
        working_dir=str(tmp_path),
    )
    ref = await platform.submit(spec)
    status = await wait_for(platform, ref)
    assert (status.state, status.platform_state, status.exit_code) == (
        JobState.SUCCEEDED,
        "succeeded",
        0,
    )
    assert out.read_text().splitlines() == [f"hi {ref.id}", str(tmp_path)]
    assert status.submitted_at
    assert status.started_at
    assert status.ended_at
    assert status.submitted_at <= status.started_at <= status.ended_at
    assert status.ended_at.tzinfo is not None


async def test_without_working_dir_the_job_runs_where_it_was_submitted(
    platform: LocalPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status = await wait_for(platform, await platform.submit(JobSpec(entrypoint="pwd > here")))
    assert status.state is JobState.SUCCEEDED
    assert (tmp_path / "here").read_text().strip() == str(tmp_path)


async def test_failure_reports_the_exit_code(platform: LocalPlatform) -> None:
    status = await wait_for(platform, await platform.submit(JobSpec(entrypoint="exit 3")))
    assert (status.state, status.exit_code, status.message) == (
        JobState.FAILED,
        3,
        "exited with code 3",
    )


async def test_timeout_kills_the_job_and_says_so(platform: LocalPlatform) -> None:
    started = time.monotonic()
    ref = await platform.submit(JobSpec(entrypoint="sleep 30", timeout_s=0.5))
    status = await wait_for(platform, ref, timeout=10)
    assert time.monotonic() - started < 5
    assert status.state is JobState.FAILED
    assert status.message == "timed out after 0.5s"


async def test_failed_attempts_are_retried_and_each_is_recorded(
    platform: LocalPlatform, home: Path
) -> None:
    ref = await platform.submit(
        JobSpec(entrypoint="echo attempt $JOBRELAY_ATTEMPT; exit 4", max_retries=2)
    )
    status = await wait_for(platform, ref)
    assert (status.state, status.attempt, status.exit_code) == (JobState.FAILED, 3, 4)
    attempts = db_rows(
        home,
        "SELECT attempt, state, exit_code FROM attempts WHERE job_id = ? ORDER BY attempt",
        ref.id,
    )
    assert attempts == [(1, "failed", 4), (2, "failed", 4), (3, "failed", 4)]
    lines = [
        line.text for line in (await platform.logs(ref, None)).lines if line.stream == "stdout"
    ]
    assert lines == ["attempt 1", "attempt 2", "attempt 3"]


async def test_a_retry_can_succeed(platform: LocalPlatform, tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    spec = JobSpec(entrypoint=f"test -e {marker} || {{ touch {marker}; exit 1; }}", max_retries=1)
    status = await wait_for(platform, await platform.submit(spec))
    assert (status.state, status.attempt) == (JobState.SUCCEEDED, 2)


async def test_cancel_running_job_kills_its_whole_group(
    platform: LocalPlatform, home: Path
) -> None:
    ref = await platform.submit(JobSpec(entrypoint="sleep 30 & sleep 30; wait"))
    await wait_for(platform, ref, running)
    pgid = job_pgid(home, ref.id)
    await platform.cancel(ref)
    status = await wait_for(platform, ref, timeout=5)
    assert (status.state, status.platform_state) == (JobState.CANCELLED, "cancelled")
    assert await group_gone_within(pgid, 5)


async def test_cancel_escalates_to_sigkill_after_the_grace_period(
    manual: LocalPlatform, home: Path, start_agent: StartAgent
) -> None:
    start_agent("--cancel-grace", "0.5")
    ref = await manual.submit(JobSpec(entrypoint="trap '' TERM; sleep 30 & sleep 30; wait"))
    await wait_for(manual, ref, running)
    pgid = job_pgid(home, ref.id)
    await asyncio.sleep(0.1)  # let the shell install its trap
    await manual.cancel(ref)
    status = await wait_for(manual, ref, timeout=5)
    assert status.state is JobState.CANCELLED
    assert await group_gone_within(pgid, 3)


async def test_cancel_queued_job_takes_it_off_the_queue(manual: LocalPlatform) -> None:
    ref = await manual.submit(JobSpec(entrypoint="true"))
    await manual.cancel(ref)
    status = await manual.status(ref)
    assert (status.state, status.queue_position) == (JobState.CANCELLED, None)
    assert (await manual.list_queues())[0].queued == 0


async def test_cancel_finished_job_changes_nothing(platform: LocalPlatform) -> None:
    ref = await platform.submit(JobSpec(entrypoint="true"))
    before = await wait_for(platform, ref)
    await platform.cancel(ref)
    await platform.cancel(ref)
    assert await platform.status(ref) == before


async def test_priority_queue_runs_jobs_in_priority_order(
    manual: LocalPlatform, start_agent: StartAgent, tmp_path: Path
) -> None:
    order = tmp_path / "order"
    await manual.create_queue("prio", max_concurrency=1, mode=QueueMode.PRIORITY)
    refs = []
    for name, priority in [("low", 1), ("high", 9), ("mid", 5), ("high-later", 9)]:
        spec = JobSpec(
            entrypoint=f"echo {name} >> {order}", name=name, queue="prio", priority=priority
        )
        refs.append(await manual.submit(spec))
    positions = {s.ref.id: s.queue_position for s in (await manual.statuses(refs)).values()}
    assert [positions[r.id] for r in refs] == [4, 1, 3, 2]
    start_agent()
    for ref in refs:
        await wait_for(manual, ref)
    assert order.read_text().split() == ["high", "high-later", "mid", "low"]


async def test_max_concurrency_is_respected_by_a_real_agent(
    manual: LocalPlatform, start_agent: StartAgent, home: Path
) -> None:
    await manual.create_queue("pair", max_concurrency=2)
    refs = [await manual.submit(JobSpec(entrypoint="sleep 0.3", queue="pair")) for _ in range(6)]
    start_agent()
    for ref in refs:
        assert (await wait_for(manual, ref)).state is JobState.SUCCEEDED
    spans = [
        (datetime.fromisoformat(str(a)), datetime.fromisoformat(str(b)))
        for a, b in db_rows(home, "SELECT started_at, ended_at FROM attempts")
    ]
    overlap = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert overlap == 2


async def test_claim_follows_a_submit_within_milliseconds(platform: LocalPlatform) -> None:
    await wait_for(platform, await platform.submit(JobSpec(entrypoint="true")))  # agent is up
    latencies = []
    for _ in range(10):
        status = await wait_for(platform, await platform.submit(JobSpec(entrypoint="true")))
        assert status.started_at
        assert status.submitted_at
        latencies.append((status.started_at - status.submitted_at).total_seconds())
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.05, latencies


async def test_an_idle_agent_exits_and_the_next_submit_starts_another(home: Path) -> None:
    from jobrelay.platforms.local import open_platform

    platform = await open_platform(f"local://{home}?idle_timeout=0.3")
    try:
        await wait_for(platform, await platform.submit(JobSpec(entrypoint="true")))
        assert await eventually(lambda: db_rows(home, "SELECT id FROM agents") == [])
        status = await wait_for(platform, await platform.submit(JobSpec(entrypoint="true")))
        assert status.state is JobState.SUCCEEDED
    finally:
        await platform.aclose()
