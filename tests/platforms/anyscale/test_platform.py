"""The Anyscale platform against the emulator over real HTTP on loopback: what a user of
``anyscale://`` notices (one job per key whatever the faults, queue positions, log chunks
fetched without the CLI token, retries as runs, names resolved once)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from jobrelay import (
    AsyncClient,
    AuthError,
    JobFailed,
    JobRef,
    JobSpec,
    JobState,
    JobTimeout,
    PollPolicy,
)
from jobrelay.platforms.anyscale import KEY_TAG, AnyscalePlatform, open_platform
from jobrelay_emulators.anyscale import CHUNK_TOKEN, AnyscaleEmulator

from .conftest import FAST_RETRY

pytestmark = pytest.mark.timeout(120)
FAST = PollPolicy(initial_s=0.05, max_s=0.2)


def client_of(platform: AnyscalePlatform) -> AsyncClient:
    return AsyncClient(platform, poll=FAST)  # type: ignore[arg-type]


async def test_faults_on_create_leave_exactly_one_job_per_key_over_20_trials(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    faults = [
        {"kind": "after", "status": 503},  # the create was accepted, then a 503
        {"kind": "drop", "after": True},  # accepted, then the connection dropped
        {"kind": "drop"},  # dropped before it was handled
        {"kind": "status", "status": 503},  # refused before it was handled
    ]
    for trial in range(20):
        anyscale.add_fault("create", **faults[trial % len(faults)])
        key = f"fault-trial-{trial}"
        ref = await client.submit(JobSpec(entrypoint="true", idempotency_key=key))
        assert [job.id for job in anyscale.jobs_tagged(KEY_TAG, key)] == [ref.id]
    assert all(fault.hits == 1 for fault in anyscale.faults)
    assert len(anyscale.calls("create")) == 20 + 10  # refused creates were sent again, once


async def test_log_chunks_are_fetched_with_the_chunk_token_and_never_the_cli_token(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    result = await client.run(JobSpec(entrypoint="for i in $(seq 1 175); do echo l$i; done"))
    lines = [line.text for line in await client.tail_logs(result.ref, n=500)]
    assert lines == [f"l{i}" for i in range(1, 176)]
    chunks = anyscale.calls("chunk")
    assert len(chunks) >= 4  # 175 lines are 4 chunks of at most 50
    for request in chunks:
        assert "cookie" not in request.headers
        assert request.headers["authorization"] == f"Bearer {CHUNK_TOKEN}"
        assert anyscale.token not in str(request.headers)
    others = [r for r in anyscale.requests if r.operation != "chunk"]
    assert all(r.headers.get("cookie") == f"cli_token={anyscale.token}" for r in others)


async def test_a_job_in_a_full_job_queue_is_queued_with_its_position_and_a_queue_timeout_means_it_never_runs(  # noqa: E501
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform, tmp_path: Path
) -> None:
    client = client_of(platform)
    queue = {"max_concurrency": 1, "idle_timeout_sec": 60}
    blocker = await client.submit(
        JobSpec(entrypoint="sleep 30", queue="q1", config={"job_queue": queue})
    )
    await client.wait(blocker, until=JobState.RUNNING)
    markers = [tmp_path / "first", tmp_path / "second"]
    refs = [await client.submit(JobSpec(entrypoint=f"touch {m}", queue="q1")) for m in markers]
    statuses = [await client.status(ref) for ref in refs]
    assert [(s.state, s.queue, s.queue_position) for s in statuses] == [
        (JobState.QUEUED, "q1", 1),
        (JobState.QUEUED, "q1", 2),
    ]
    batched = await client.statuses(refs)
    assert [batched[r.id].queue_position for r in refs] == [1, 2]
    with pytest.raises(JobTimeout) as info:
        await client.wait(refs[0], queue_timeout=0.5)
    assert info.value.phase == "queue"
    assert (await client.status(refs[0])).state is JobState.CANCELLED
    assert (await client.status(refs[1])).queue_position == 1
    await client.cancel(blocker)  # the queue moves on: only the second job runs
    await client.wait(refs[1])
    assert markers[1].exists()
    assert not markers[0].exists()


async def test_max_retries_runs_the_job_again_and_its_log_has_every_attempt(
    platform: AnyscalePlatform,
) -> None:
    client = client_of(platform)
    with pytest.raises(JobFailed) as info:
        await client.run(
            JobSpec(entrypoint="echo attempt $ANYSCALE_JOB_RUN_ID; exit 4", max_retries=2)
        )
    status = info.value.status
    assert (status.platform_state, status.attempt, status.exit_code) == ("OUT_OF_RETRIES", 3, 4)
    lines = [line.text for line in await client.tail_logs(status.ref, n=50)]
    attempts = [line for line in lines if line.startswith("attempt ")]
    assert len(attempts) == 3
    assert len(set(attempts)) == 3  # one line from each run


async def test_timeout_s_stops_an_attempt_on_the_platform(platform: AnyscalePlatform) -> None:
    client = client_of(platform)
    started = time.monotonic()
    with pytest.raises(JobFailed):
        await client.run(JobSpec(entrypoint="sleep 30", timeout_s=1))
    assert time.monotonic() - started < 10


async def test_names_are_resolved_once_per_client(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    config = {
        "compute_config": "my-cc:1",
        "image_uri": "anyscale/image/my-img:1",
        "project": "default",
        "cloud": "emulator",
    }
    refs = await asyncio.gather(
        *(client.submit(JobSpec(entrypoint="true", config=config)) for _ in range(4))
    )
    for op in ("cloud_by_name", "compute_search", "project_search", "build_from_image"):
        assert len(anyscale.calls(op)) == 1, op
    create = anyscale.calls("create")[0].body
    assert create["config"]["compute_config_id"].startswith("cpt_")
    assert create["config"]["build_id"].startswith("bld_")
    assert "image_uri" not in create["config"]
    assert len(refs) == 4


async def test_names_past_the_remembered_sets_are_looked_up_again_and_still_right(
    anyscale: AnyscaleEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived process remembers a bounded number of name sets: one forgotten costs its
    lookups again and resolves to the same ids."""
    from jobrelay.platforms.anyscale import platform as module

    monkeypatch.setattr(module, "RESOLVED_NAMES", 1)
    platform = await open_platform(
        f"anyscale://?host={anyscale.url}", credential=anyscale.token, retry=FAST_RETRY
    )
    named = {"compute_config": "my-cc:1", "project": "default", "cloud": "emulator"}
    try:
        client = client_of(platform)
        for config in (named, {"cloud": "emulator"}, named):
            await client.submit(JobSpec(entrypoint="true", config=config))
    finally:
        await platform.aclose()
    assert len(anyscale.calls("compute_search")) == 2  # forgotten once, looked up again
    first, _, third = (call.body["config"] for call in anyscale.calls("create"))
    assert first["compute_config_id"] == third["compute_config_id"]
    assert first["compute_config_id"].startswith("cpt_")
    assert len(platform._resolved) == 1


async def test_a_key_finds_its_job_from_another_client_and_cancel_is_idempotent(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    ref = await client.submit(JobSpec(entrypoint="sleep 30", idempotency_key="reattach-me"))
    other = await open_platform(
        f"anyscale://?host={anyscale.url}", credential=anyscale.token, retry=FAST_RETRY
    )
    try:
        found = await other.find("reattach-me")
        assert found is not None
        assert found.id == ref.id
        assert await other.find("reattach-me-not") is None
        await other.cancel(found)
        await other.cancel(found)
        final = await client.wait(ref, raise_on_failure=False)
        assert final.state is JobState.CANCELLED
        await other.cancel(found)  # finished: nothing is sent
        assert 1 <= len(anyscale.calls("terminate")) <= 2  # the 2nd may find it ended
        await other.archive(found)
        assert ref.id not in [s.ref.id for s in await other.list_jobs()]
        await other.delete(found)
        assert await other.find("reattach-me") is None
    finally:
        await other.aclose()


async def test_statuses_for_100_concurrent_waiters_cost_two_requests_per_tick(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    refs = [await client.submit(JobSpec(entrypoint="sleep 1")) for _ in range(100)]
    before = len(anyscale.requests)
    await asyncio.gather(*(client.wait(ref) for ref in refs))
    during = anyscale.requests[before:]
    lists = sum(1 for r in during if r.operation == "list_jobs")
    runs = sum(1 for r in during if r.operation == "runs_search")
    print(f"100 waiters: {lists} list calls, {runs} runs searches, {len(during)} requests")
    assert lists == runs
    assert {r.operation for r in during} <= {"list_jobs", "runs_search"}
    asked = [len(r.body["ha_job_ids"]) for r in during if r.operation == "runs_search"]
    assert max(asked) == 100  # one search answered for every waiter


async def test_an_unreachable_job_queue_name_is_an_error_naming_it(
    platform: AnyscalePlatform,
) -> None:
    client = client_of(platform)
    with pytest.raises(Exception, match="no-such-queue"):
        await client.submit(JobSpec(entrypoint="true", queue="no-such-queue"))


async def test_a_local_working_dir_is_uploaded_once_per_content_and_the_job_runs_in_it(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    (code / ".venv").mkdir(parents=True)
    (code / ".venv" / "big").write_text("left out")
    (code / "data.txt").write_text("from the working dir\n")
    spec = JobSpec(
        entrypoint="cat data.txt; ls -a; echo $A",
        working_dir=str(code),
        env={"A": "env-ok"},
        config={"requirements": ["requests==2.32.3"]},
    )
    client = client_of(platform)
    first = await client.run(spec)
    lines = [line.text for line in await client.tail_logs(first.ref, n=20)]
    assert "from the working dir" in lines
    assert ".venv" not in lines
    assert "env-ok" in lines
    await client.run(spec)  # same content, same client: no second upload request at all
    other = await open_platform(
        f"anyscale://?host={anyscale.url}", credential=anyscale.token, retry=FAST_RETRY
    )
    try:  # another client: the cloud says the file exists, so nothing is sent
        await client_of(other).run(spec)
    finally:
        await other.aclose()
    assert len(anyscale.calls("presigned_url")) == 2
    puts = anyscale.calls("storage_put")
    assert len(puts) == 1
    assert "cookie" not in puts[0].headers
    runtime_env = anyscale.calls("create")[0].body["config"]["runtime_env"]
    assert runtime_env["working_dir"].startswith("s3://emulator-bucket/runtime_env_packages/pkg_")
    assert runtime_env["user_provided_working_dir"] == str(code)
    assert runtime_env["pip"] == ["requests==2.32.3"]


async def test_a_429_with_retry_after_on_create_is_waited_out_and_makes_one_job(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    anyscale.add_fault("create", status=429, retry_after=0.3)
    anyscale.add_fault("runs_search", status=500, times=2)
    anyscale.add_fault("list_jobs", "slow", delay_s=0.5)
    client = client_of(platform)
    result = await client.run(JobSpec(entrypoint="true", idempotency_key="rate-limited"))
    assert result.state is JobState.SUCCEEDED
    assert len(anyscale.jobs_tagged(KEY_TAG, "rate-limited")) == 1
    assert all(fault.hits for fault in anyscale.faults)


@pytest.mark.parametrize(
    ("wire", "state"),
    [
        ("BROKEN", JobState.FAILED),
        ("SOMETHING_NEW", JobState.UNKNOWN),
        ("ERRORED", JobState.RUNNING),
    ],
)
async def test_a_scripted_platform_state_reads_as_the_table_says_and_keeps_its_raw_value(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform, wire: str, state: JobState
) -> None:
    client = client_of(platform)
    ref = await client.submit(JobSpec(entrypoint="sleep 30"))
    await client.wait(ref, until=JobState.RUNNING)
    anyscale.force_state(ref.id, wire, error="the cluster went away")
    for status in (await client.status(ref), (await client.statuses([ref]))[ref.id]):
        assert (status.state, status.platform_state) == (state, wire)
        assert status.message == "the cluster went away"


async def test_statuses_leave_out_a_job_that_is_gone_and_do_not_hide_other_errors(
    anyscale: AnyscaleEmulator, platform: AnyscalePlatform
) -> None:
    client = client_of(platform)
    ref = await client.submit(JobSpec(entrypoint="true"))
    gone = JobRef(platform=platform.url, id="prodjob_gone")  # not listed: read alone
    assert list(await client.statuses([ref, gone])) == [ref.id]
    anyscale.add_fault("get_job", status=403)  # a refused read is no missing job
    with pytest.raises(AuthError):
        await client.statuses([ref, gone])


def test_the_emulator_command_serves_a_platform_jobrelay_can_use(tmp_path: Path) -> None:
    import subprocess
    import sys

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobrelay",
            "emulator",
            "anyscale",
            "--port",
            "0",
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = [server.stdout.readline() for _ in range(4)]
        url = banner[0].split(" on ")[1].strip()
        token = banner[2].split("=", 1)[1].strip()
        from jobrelay import Client

        with Client(f"anyscale://?host={url}", credential=token) as client:
            result = client.run(JobSpec(entrypoint="echo served"))
            assert result.state is JobState.SUCCEEDED
            lines = [line.text for page in client.iter_logs(result.ref) for line in page.lines]
            assert lines == ["served"]
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


async def test_the_cli_token_comes_from_the_environment_and_never_shows(
    anyscale: AnyscaleEmulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from jobrelay.errors import AuthError

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ANYSCALE_CLI_TOKEN", anyscale.token)
    async with AsyncClient(f"anyscale://?host={anyscale.url}", poll=FAST) as client:
        result = await client.run(JobSpec(entrypoint="echo ok"))
        shown = [repr(await client.platform()), str(result.ref), result.model_dump_json()]
    wrong = "aph0_wrong-token-value"
    async with AsyncClient(f"anyscale://?host={anyscale.url}", credential=wrong) as client:
        with pytest.raises(AuthError) as info:
            await client.submit(JobSpec(entrypoint="true"))
        shown += [str(info.value), repr(info.value), repr(await client.platform())]
    shown.append(caplog.text)
    for secret in (anyscale.token, wrong):
        assert all(secret not in text for text in shown)
