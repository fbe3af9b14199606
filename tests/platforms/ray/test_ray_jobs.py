"""The Ray platform against a real Ray head on loopback (one per session, ../ray_cluster.py).

Every request goes to the real dashboard; the ``Recorder`` transport only counts requests
or fails chosen ones before they are sent, as a flaky network would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from asyncio.subprocess import PIPE
from pathlib import Path

import httpx
import pytest
from jobrelay import (
    APIError,
    AsyncClient,
    ConflictError,
    JobRef,
    JobSpec,
    JobState,
)
from jobrelay.platforms.ray import submission_id_for
from jobrelay_emulators.ray_head import RayHead, ray_executable

from .conftest import Recorder, make_modules

pytestmark = pytest.mark.timeout(120)

HERE = Path(__file__).parent


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def texts(lines: list[object]) -> list[str]:
    return [getattr(line, "text", "") for line in lines]


# -- working dirs ----------------------------------------------------------------------------


async def test_job_reads_its_uploaded_working_dir_and_a_resubmit_uploads_nothing(
    client: AsyncClient, recorder: Recorder, tmp_path: Path
) -> None:
    workdir = tmp_path / "project"
    (workdir / "conf").mkdir(parents=True)
    token = uuid.uuid4().hex
    (workdir / "conf" / "settings.txt").write_text(f"token={token}\n")
    spec = JobSpec(entrypoint="cat conf/settings.txt", working_dir=str(workdir))

    first = await client.run(spec)
    assert f"token={token}" in texts(await client.tail_logs(first.ref, n=20))
    assert recorder.count("PUT", "/api/packages/gcs/") == 1

    second = await client.run(spec)
    assert second.state is JobState.SUCCEEDED
    assert second.ref.id != first.ref.id
    assert recorder.count("PUT", "/api/packages/gcs/") == 1, "the same folder was uploaded again"
    assert recorder.count("GET", "/api/packages/gcs/") == 2


async def test_what_gitignore_rayignore_and_excludes_name_stays_off_the_cluster(
    client: AsyncClient, tmp_path: Path
) -> None:
    workdir = tmp_path / "project"
    (workdir / "data").mkdir(parents=True)
    (workdir / "data" / "big.bin").write_bytes(b"0" * 1024)
    (workdir / ".gitignore").write_text("data/\n")
    (workdir / ".rayignore").write_text(".env\n")
    (workdir / ".env").write_text("TOKEN=s3cret\n")
    (workdir / "model.ckpt").write_text("weights\n")
    (workdir / "main.txt").write_text("kept\n")
    listing = "ls -A | sort | tr '\\n' ' '; echo"
    spec = JobSpec(
        entrypoint=listing,
        working_dir=str(workdir),
        config={"runtime_env": {"excludes": ["*.ckpt"]}},
    )

    result = await client.run(spec)

    listed = [t.split() for t in texts(await client.tail_logs(result.ref, n=20))]
    assert [".gitignore", ".rayignore", "main.txt"] in listed


async def test_local_py_modules_are_uploaded_and_importable_on_the_cluster(
    client: AsyncClient, recorder: Recorder, tmp_path: Path
) -> None:
    modules = make_modules(tmp_path)
    paths = [str(modules["folder"]), str(modules["file"]), str(modules["wheel"])]
    code = "import mypkg, helper, wheelmod; print(mypkg.VALUE, helper.VALUE, wheelmod.VALUE)"
    spec = JobSpec(entrypoint=["python", "-c", code], config={"runtime_env": {"py_modules": paths}})

    result = await client.run(spec)

    lines = texts(await client.tail_logs(result.ref, n=20))
    assert "from-folder from-file from-wheel" in lines
    assert recorder.count("PUT", "/api/packages/gcs/") == 3


# -- faults ----------------------------------------------------------------------------------


def is_status_call(request: httpx.Request) -> bool:
    path = request.url.path
    return request.method == "GET" and path.startswith("/api/jobs/") and not path.endswith("/logs")


async def test_resets_and_503s_on_status_calls_are_retried_and_the_wait_completes(
    ray_url: str,
) -> None:
    async with AsyncClient(ray_url) as healthy:
        refs = [await healthy.submit(JobSpec(entrypoint="sleep 1")) for _ in range(2)]
    faults: list[int | Exception] = [
        503,
        httpx.ReadError("connection reset by peer"),
        503,
        httpx.ConnectError("connection refused"),
    ]
    flaky = Recorder(faults=list(faults), matches=is_status_call)
    async with AsyncClient(ray_url, transport=flaky) as client:
        results = await asyncio.gather(*(client.wait(ref) for ref in refs))
    assert [r.state for r in results] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert flaky.injected == len(faults)
    assert flaky.count("GET", "/api/jobs/") > len(faults), "list calls went on after the faults"


async def test_a_4xx_is_not_retried_and_carries_rays_message(
    client: AsyncClient, recorder: Recorder
) -> None:
    spec = JobSpec(entrypoint="true", config={"entrypoint_label_selector": {"zone": 1}})
    with pytest.raises(APIError) as info:
        await client.submit(spec)
    assert info.value.status_code == 400
    assert "entrypoint_label_selector values must be strings" in str(info.value)
    assert recorder.count("POST", "/api/jobs/") == 1


async def test_unknown_job_is_not_found_for_status_logs_and_cancel(client: AsyncClient) -> None:
    from jobrelay import NotFoundError

    ref = JobRef(platform=(await client.platform()).url, id=unique("nope"))
    for call in (client.status(ref), client.logs(ref), client.cancel(ref)):
        with pytest.raises(NotFoundError, match="does not exist"):
            await call


# -- idempotency and reattach ------------------------------------------------------------------


async def test_a_duplicate_submission_id_is_a_conflict_and_the_client_reattaches(
    ray_url: str, client: AsyncClient
) -> None:
    key = unique("dup")
    spec = JobSpec(entrypoint="sleep 2", idempotency_key=key)
    first = await client.submit(spec)
    platform = await client.platform()
    with pytest.raises(ConflictError, match="already exists"):
        await platform.submit(spec)

    # Another process that looked before the first POST landed: find() sees nothing, its
    # POST hits the duplicate id, and the core attaches instead of failing.
    hide_once = Recorder(
        faults=[404],
        matches=lambda r: r.method == "GET" and r.url.path.endswith(first.id),
    )
    async with AsyncClient(ray_url, transport=hide_once) as racer:
        second = await racer.submit(spec)
        assert hide_once.injected == 1
        assert hide_once.count("POST", "/api/jobs/") == 1
        assert second.reattached
        assert second.id == first.id == submission_id_for(key)
        assert (await racer.wait(second)).state is JobState.SUCCEEDED


async def test_a_killed_waiter_is_replaced_by_one_that_reattaches_to_the_same_job(
    ray_url: str, ray_head: RayHead
) -> None:
    key = unique("killed")
    argv = [str(HERE / "reattach_worker.py"), ray_url, key, "sleep 4"]
    first = await asyncio.create_subprocess_exec(sys.executable, *argv, stdout=PIPE)
    assert first.stdout is not None
    ref = JobRef.model_validate_json(await first.stdout.readline())
    first.kill()
    assert await first.wait() == -9

    second = await asyncio.create_subprocess_exec(sys.executable, *argv, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(second.communicate(), 90)
    assert second.returncode == 0, err.decode()
    reattached = JobRef.model_validate_json(out.splitlines()[0])
    assert reattached.reattached
    assert reattached.id == ref.id

    async with AsyncClient(ray_url) as client:
        jobs = await client.list_jobs(limit=10_000)
    assert [s.ref.id for s in jobs if s.ref.idempotency_key == key] == [ref.id]


# -- interop with Ray's own CLI ----------------------------------------------------------------


def ray_cli(*args: str, env: dict[str, str], address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ray_executable()), "job", *args, "--address", address],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


async def test_jobrelay_waits_on_a_job_submitted_with_ray_job_submit(
    ray_head: RayHead, ray_url: str, cli_env: dict[str, str]
) -> None:
    submission_id = unique("from-ray-cli")
    done = await asyncio.to_thread(
        subprocess.run,
        [
            str(ray_executable()), "job", "submit", "--address", ray_head.dashboard_url,
            "--no-wait", "--submission-id", submission_id, "--", "echo", "made-by-ray-cli",
        ],
        capture_output=True, text=True, env=cli_env, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    async with AsyncClient(ray_url) as client:
        ref = JobRef(platform=(await client.platform()).url, id=submission_id)
        result = await client.wait(ref)
        assert result.state is JobState.SUCCEEDED
        assert "made-by-ray-cli" in texts(await client.tail_logs(ref, n=20))


async def test_ray_job_status_sees_a_job_submitted_by_jobrelay(
    ray_head: RayHead, client: AsyncClient, cli_env: dict[str, str]
) -> None:
    result = await client.run(JobSpec(entrypoint="echo via-jobrelay", name="interop"))
    done = await asyncio.to_thread(
        ray_cli, "status", result.ref.id, env=cli_env, address=ray_head.dashboard_url
    )
    assert done.returncode == 0, done.stderr
    assert f"Job '{result.ref.id}' succeeded" in done.stdout


# -- logs and statuses -----------------------------------------------------------------------


async def test_following_a_running_job_delivers_each_line_once_in_order(
    client: AsyncClient,
) -> None:
    ref = await client.submit(
        JobSpec(entrypoint="for i in 1 2 3 4 5; do echo tick-$i; sleep 0.3; done; printf end")
    )
    seen: list[str] = []
    async for page in client.follow_logs(ref):
        seen.extend(line.text for line in page.lines if line.stream == "stdout")
    assert [t for t in seen if t.startswith("tick-")] == [f"tick-{i}" for i in range(1, 6)]
    assert seen[-1] == "end" or any(t.startswith("end") for t in seen)


async def test_many_jobs_cost_one_list_call(client: AsyncClient, recorder: Recorder) -> None:
    refs = [await client.submit(JobSpec(entrypoint="true")) for _ in range(2)]
    before = len(recorder.requests)
    found = await client.statuses(refs)
    assert set(found) == {r.id for r in refs}
    assert [(r.method, r.url.path) for r in recorder.requests[before:]] == [("GET", "/api/jobs/")]


async def test_failure_status_carries_rays_reason(client: AsyncClient) -> None:
    result = await client.run(JobSpec(entrypoint="no-such-command-xyz"), raise_on_failure=False)
    assert result.state is JobState.FAILED
    assert result.status.exit_code == 127
    assert result.status.message is not None
    assert "JOB_ENTRYPOINT_COMMAND_ERROR" in result.status.message
    assert any("not found" in t for t in texts(await client.tail_logs(result.ref, n=20)))
    assert json.loads(result.status.model_dump_json())["platform_state"] == "FAILED"


# -- a queue timeout on a platform that cannot unqueue ---------------------------------------


async def test_a_queue_timeout_on_a_pending_ray_job_reports_what_ray_did_not_a_cancel(
    client: AsyncClient, tmp_path: Path
) -> None:
    """Ray's stop does not take a PENDING job off its queue (measured: a job Ray could not
    yet schedule ran its entrypoint once CPUs freed up, and only then was STOPPED). So a
    queue timeout must not claim the job was cancelled: it says a stop was asked for and
    carries the state Ray reports. This job asks for more CPUs than the head has, so its
    entrypoint (which would write a marker) cannot start while the test watches."""
    from jobrelay import JobTimeout

    marker = tmp_path / "ran"
    spec = JobSpec(entrypoint=f"touch {marker}", resources={"CPU": 64})
    ref = await client.submit(spec)
    with pytest.raises(JobTimeout) as info:
        await client.wait(ref, queue_timeout=2)
    assert info.value.phase == "queue"
    assert info.value.status.state in (JobState.QUEUED, JobState.STARTING)
    assert "cannot take a queued job off its queue" in str(info.value)
    assert "cancelled it" not in str(info.value)
    await asyncio.sleep(1)
    assert not marker.exists()
