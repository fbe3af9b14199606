"""A Ray job cancelled while PENDING never runs its entrypoint (issue 25, item 5).

Against the session's real Ray head (2 CPUs, ../ray_cluster.py). Ray's stop does not take a
PENDING job off its queue: once the job's supervisor actor starts, Ray runs the entrypoint
and only then delivers the stop. The entrypoints here write a marker file the test reads
(one node, so the file is visible here; the mechanism under test does not use files).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobRef, JobSpec, JobState, JobStatus, JobTimeout
from jobrelay.platforms.ray import guard

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

# Past Ray's own start timeout on the test head (RAY_JOB_START_TIMEOUT_SECONDS=60).
SETTLE_S = 90.0


async def terminal(client: AsyncClient, ref: JobRef, within_s: float = SETTLE_S) -> JobStatus:
    async with asyncio.timeout(within_s):
        while True:
            status = await client.status(ref)
            if status.state.is_terminal:
                return status
            await asyncio.sleep(0.3)


async def running(client: AsyncClient, ref: JobRef, within_s: float = 60) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if (await client.status(ref)).state is JobState.RUNNING:
                return
            await asyncio.sleep(0.2)


async def test_a_job_whose_queue_timeout_fired_never_runs_its_entrypoint_once_cpus_free(
    client: AsyncClient, tmp_path: Path
) -> None:
    """The job waits for CPUs another job holds; its queue timeout fires and jobrelay stops
    it; then the CPUs free up and Ray starts the job's supervisor. Its entrypoint must not
    run (before the guard: it ran, 2/2)."""
    blocker = await client.submit(JobSpec(entrypoint="sleep 120", resources={"CPU": 2}))
    try:
        await running(client, blocker)
        marker = tmp_path / "ran"
        ref = await client.submit(JobSpec(entrypoint=f"echo ran > {marker}", resources={"CPU": 1}))
        with pytest.raises(JobTimeout) as info:
            await client.wait(ref, queue_timeout=2)
        assert info.value.phase == "queue"
        assert info.value.status.state is JobState.QUEUED
    finally:
        await client.cancel(blocker)
    status = await terminal(client, ref)
    await asyncio.sleep(1)  # a started entrypoint has had time to write
    assert not marker.exists(), f"the cancelled job ran its entrypoint ({status.platform_state})"
    assert status.state in (JobState.CANCELLED, JobState.FAILED), status


async def test_a_job_cancelled_right_after_submit_never_runs_its_entrypoint(
    client: AsyncClient, tmp_path: Path
) -> None:
    """Cancelled while Ray still sets up its runtime env (PENDING, nothing to wait for)."""
    markers = [tmp_path / f"ran-{i}" for i in range(3)]
    refs = []
    for marker in markers:
        ref = await client.submit(
            JobSpec(entrypoint=f"echo ran > {marker}", env={"JR_TEST": uuid.uuid4().hex})
        )
        await client.cancel(ref)
        refs.append(ref)
    ended = [await terminal(client, ref) for ref in refs]
    await asyncio.sleep(1)
    ran = [m.name for m in markers if m.exists()]
    assert ran == [], f"cancelled jobs ran their entrypoint: {ran} ({ended})"
    assert all(s.state is not JobState.SUCCEEDED for s in ended), ended


async def test_the_guard_passes_a_job_nobody_cancelled_through_unchanged(
    client: AsyncClient, tmp_path: Path
) -> None:
    """Shell syntax, quoting, the exit code and stdout reach the job as they were."""
    out = tmp_path / "out"
    entrypoint = f"""printf '%s|' "a b" 'c"d' > {out} && echo "$0" >> {out}
exit 7"""
    result = await client.run(JobSpec(entrypoint=entrypoint), raise_on_failure=False)
    assert result.state is JobState.FAILED
    assert result.status.exit_code == 7
    assert out.read_text() == 'a b|c"d|/bin/sh\n'
    lines = [line.text for line in await client.tail_logs(result.ref, n=50)]
    assert not any(line.startswith("jobrelay:") for line in lines), lines
    header = [line for line in lines if line.startswith("Running entrypoint for job")]
    first_line = entrypoint.splitlines()[0]
    assert len(header) == 1, lines
    assert header[0].endswith(first_line), header
    guard_part = header[0][: -len(first_line)]  # what the guard adds to Ray's log: one line
    assert "JOBRELAY_RAY_GUARD" in guard_part, header
    assert len(guard_part) < 200, header


def test_the_guard_runs_the_job_when_it_cannot_reach_the_gcs(tmp_path: Path) -> None:
    """Fail open: a check that cannot be made never keeps a job from running."""
    command = guard.guarded_entrypoint("echo ran; exit 3", guard.mark_uri("s", "n"))
    env = {
        **os.environ,
        **guard.guard_env(),
        "RAY_ADDRESS": "127.0.0.1:1",  # nothing listens there
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert done.stdout == "ran\n"
    assert "jobrelay: could not check for a cancel" in done.stderr
