"""The wandb platform against the emulator: states, outputs, logs, cancel, retries, errors.

Fixtures follow the wire format of ``reference/wandb.md`` (served by the emulator).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from jobrelay import AsyncClient, JobCancelled, JobFailed, JobSpec, JobState, PollPolicy
from jobrelay.errors import APIError, AuthError, ConfigError, NotFoundError, ServerError
from jobrelay.platforms.registry import open_platform as open_any
from jobrelay.platforms.wandb import WandbArtifactStore, WandbPlatform, open_platform
from jobrelay.waiting import JobUpdate
from jobrelay_emulators.wandb import Outcome, WandbEmulator

from .conftest import FAST_RETRY, platform_url

pytestmark = pytest.mark.timeout(60)
FAST = PollPolicy(initial_s=0.02, max_s=0.1)


def spec(**fields: object) -> JobSpec:
    return JobSpec(entrypoint="python train.py", **fields)  # type: ignore[arg-type]


def queue_items(emulator: WandbEmulator) -> int:
    return sum(len(q.items) for q in emulator.world.queues.values())


@pytest.mark.parametrize(
    ("outcome", "state", "raw"),
    [
        (Outcome("finished"), JobState.SUCCEEDED, "finished"),
        (Outcome("failed", exitcode=2), JobState.FAILED, "failed"),
        (Outcome("crashed"), JobState.FAILED, "crashed"),
        (Outcome("preempted"), JobState.FAILED, "preempted"),
        (Outcome("killed"), JobState.CANCELLED, "killed"),
        (
            Outcome("item_failed", message="image pull failed: no such image"),
            JobState.FAILED,
            "FAILED",
        ),
    ],
)
async def test_every_terminal_outcome_ends_the_wait(
    emulator: WandbEmulator, platform: WandbPlatform, outcome: Outcome, state: JobState, raw: str
) -> None:
    emulator.script(outcome, queue="default")
    async with AsyncClient(platform, poll=FAST) as client:
        ref = await client.submit(spec())
        result = await asyncio.wait_for(client.wait(ref, raise_on_failure=False), 20)
    assert result.state is state
    assert result.status.platform_state == raw
    if outcome.kind == "item_failed":
        assert result.status.message == "image pull failed: no such image"


async def test_failed_item_raises_job_failed_with_the_agent_message(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.script(Outcome("item_failed", message="no such image: nope:1"), queue="default")
    async with AsyncClient(platform, poll=FAST) as client:
        with pytest.raises(JobFailed, match="no such image: nope:1"):
            await asyncio.wait_for(client.run(spec()), 20)


async def test_killed_run_raises_job_cancelled(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.script(Outcome("killed"), queue="default")
    async with AsyncClient(platform, poll=FAST) as client:
        with pytest.raises(JobCancelled):
            await asyncio.wait_for(client.run(spec()), 20)


async def test_states_go_queued_starting_running_succeeded_with_summary_and_url(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    emulator.script(Outcome("finished", summary={"acc": 0.9}, duration_s=0.5), queue="default")
    ref = await platform.submit(spec())
    queued = await platform.status(ref)
    assert (queued.state, queued.platform_state, queued.queue_position) == (
        JobState.QUEUED,
        "PENDING",
        1,
    )
    seen: list[JobState] = []

    def watch(update: JobUpdate) -> None:
        seen.append(update.status.state)
        if len(seen) == 1:  # the wait saw it queued: now let the agent take it
            emulator.agent.release("default")

    async with AsyncClient(platform, poll=FAST) as client:
        result = await client.wait(ref, on_update=watch)
    assert seen[0] is JobState.QUEUED
    assert JobState.RUNNING in seen
    assert seen[-1] is JobState.SUCCEEDED
    assert result.status.metrics == {"acc": 0.9}
    run_id = ref.id.rsplit(":", 1)[1]
    assert result.status.url == f"{emulator.url}/{emulator.entity}/proj/runs/{run_id}"


async def test_claimed_item_without_a_run_row_is_starting(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.run_start_delay_s = 30  # acked (CLAIMED), run row not created yet
    ref = await platform.submit(spec())
    for _ in range(200):
        status = await platform.status(ref)
        if status.platform_state == "CLAIMED":
            break
        await asyncio.sleep(0.02)
    assert status.state is JobState.STARTING
    assert status.platform_state == "CLAIMED"


async def test_many_jobs_cost_one_graphql_request(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    emulator.create_queue("other")
    emulator.agent.hold("other")
    refs = [await platform.submit(spec(queue=q)) for q in ("default", "other", "default")]
    before = len(emulator.requests)
    found = await platform.statuses(refs)
    assert [r.operation for r in emulator.requests[before:]] == ["JobStatuses"]
    assert [found[r.id].queue_position for r in refs] == [1, 1, 2]


async def test_logged_artifacts_become_outputs(
    emulator: WandbEmulator, platform: WandbPlatform, store: WandbArtifactStore, tmp_path: Path
) -> None:
    emulator.script(Outcome("finished", duration_s=1.0), queue="default")
    (tmp_path / "model.pt").write_bytes(b"weights")
    ref = await platform.submit(spec())
    async with AsyncClient(platform, poll=FAST) as client:
        await client.wait(ref, until=JobState.RUNNING)
        logged = await store.put("model", tmp_path / "model.pt", type="model", producer=ref)
        result = await client.wait(ref)
    assert set(result.outputs) == {"model"}
    assert result.outputs["model"].uri == logged.uri
    assert result.outputs["model"].producer == ref


async def test_inputs_reach_the_launch_spec_as_artifacts(
    emulator: WandbEmulator, platform: WandbPlatform, store: WandbArtifactStore, tmp_path: Path
) -> None:
    import json

    emulator.agent.hold("default")
    (tmp_path / "d.csv").write_text("a,b\n")
    data = await store.put("data", tmp_path / "d.csv")
    await platform.submit(spec(inputs={"train": data, "val": "other/thing:best"}))
    item = next(iter(emulator.world.queues.values())).items
    run_spec = json.loads(next(iter(item.values())).run_spec)
    assert run_spec["overrides"]["artifacts"] == {
        "train": f"{emulator.entity}/proj/data:v0",
        "val": f"{emulator.entity}/other/thing:best",
    }


async def test_logs_follow_output_log_with_a_byte_cursor(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    lines = tuple(f"line {i}" for i in range(50))
    emulator.script(Outcome("finished", log_lines=lines), queue="default")
    async with AsyncClient(platform, poll=FAST) as client:
        ref = await client.submit(spec())
        await client.wait(ref)
        first = await client.logs(ref)
        again = await client.logs(ref, first.cursor)
    assert [line.text for line in first.lines] == list(lines)
    assert first.cursor == str(sum(len(t) + 1 for t in lines))
    assert again.lines == []
    assert again.done


async def test_cancel_deletes_a_pending_item_from_the_queue(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    ref = await platform.submit(spec())
    assert queue_items(emulator) == 1
    await platform.cancel(ref)
    await platform.cancel(ref)
    assert queue_items(emulator) == 0
    status = await platform.status(ref)
    assert (status.state, status.platform_state) == (JobState.CANCELLED, "deleted")


async def test_cancel_stops_a_running_run(emulator: WandbEmulator, platform: WandbPlatform) -> None:
    emulator.script(Outcome("finished", duration_s=30), queue="default")
    async with AsyncClient(platform, poll=FAST) as client:
        ref = await client.submit(spec())
        await client.wait(ref, until=JobState.RUNNING)
        await client.cancel(ref)
        result = await asyncio.wait_for(client.wait(ref, raise_on_failure=False), 10)
    assert result.status.platform_state == "killed"
    assert any(r.operation == "StopRun" for r in emulator.requests)


async def test_find_reattaches_by_the_deterministic_run_id(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.agent.hold("default")
    first = await platform.submit(spec(idempotency_key="train-2024-01-01"))
    found = await platform.find("train-2024-01-01")
    assert found is not None
    assert found.id == first.id
    assert await platform.find("another-key") is None


async def test_transient_5xx_and_429_are_retried_and_succeed(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.faults.add("pushToRunQueueByName", status=503, times=2)
    emulator.faults.add("pushToRunQueueByName", status=429, retry_after=1)
    emulator.faults.add("JobStatuses", status=502)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ref = await platform.submit(spec(idempotency_key="retry-me"))
    assert loop.time() - started >= 0.9  # Retry-After: 1 was honoured
    assert (await platform.status(ref)).state is not JobState.UNKNOWN
    assert queue_items(emulator) == 1
    pushes = [r for r in emulator.requests if r.operation == "pushToRunQueueByName"]
    assert len(pushes) == 4


async def test_persistent_5xx_surfaces_as_server_error(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.faults.add("JobStatuses", status=500, message="database on fire", times=None)
    ref = await platform.submit(spec())
    with pytest.raises(ServerError, match="database on fire"):
        await platform.status(ref)


async def test_dropped_and_slow_responses_are_retried(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    ref = await platform.submit(spec())
    emulator.faults.add("JobStatuses", "drop")
    emulator.faults.add("JobStatuses", "slow", delay_s=0.3)
    status = await platform.status(ref)
    assert status.ref == ref


async def test_graphql_errors_surface_with_message_and_operation(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    emulator.faults.add("pushToRunQueueByName", "graphql_error", message="queue is frozen")
    with pytest.raises(APIError, match="pushToRunQueueByName failed: queue is frozen") as info:
        await platform.submit(spec())
    assert info.value.operation == "pushToRunQueueByName"
    pushes = [r for r in emulator.requests if r.operation == "pushToRunQueueByName"]
    assert len(pushes) == 1  # errors in a 200 answer are never retried
    assert queue_items(emulator) == 0


async def test_unknown_queue_is_not_found_naming_it_and_leaves_no_item(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        await platform.submit(spec(queue="nope"))
    assert queue_items(emulator) == 0


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"job": "not-a-path"}, "job"),
        ({"job": "a/b/c"}, "job"),
        ({"job": "a/b/c:latest", "docker_image": "x"}, "config.job"),
        ({"run_config": [1, 2]}, "config.run_config"),
        ({"priority": "urgent"}, "config.priority"),
        ({"colour": "blue"}, "config.colour"),
        ({"run_config": {"lr": float("nan")}}, "config"),  # refused by JobSpec itself
        ({"run_config": {"when": object()}}, "config"),
    ],
)
async def test_bad_job_spec_is_a_config_error_naming_the_field_and_sends_nothing(
    emulator: WandbEmulator, platform: WandbPlatform, config: dict[str, object], field: str
) -> None:
    before = len(emulator.requests)
    with pytest.raises(ConfigError) as info:
        async with AsyncClient(platform) as client:
            await client.submit(spec(config=config, idempotency_key="bad-spec"))
    assert info.value.field == field
    assert len(emulator.requests) == before
    assert queue_items(emulator) == 0


async def test_missing_job_artifact_is_not_found_before_any_push(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    with pytest.raises(NotFoundError, match="emulator/proj/job-train:latest"):
        await platform.submit(spec(config={"job": "emulator/proj/job-train:latest"}))
    assert not any(r.operation == "pushToRunQueueByName" for r in emulator.requests)
    assert queue_items(emulator) == 0


async def test_job_artifact_spec_is_pushed_when_the_job_exists(
    emulator: WandbEmulator, platform: WandbPlatform, store: WandbArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "wandb-job.json").write_text('{"_version": "v0", "source_type": "image"}')
    await store.put("job-train", tmp_path / "wandb-job.json", type="job")
    emulator.agent.hold("default")
    await platform.submit(spec(config={"job": f"{emulator.entity}/proj/job-train:latest"}))
    assert queue_items(emulator) == 1


async def test_missing_api_key_is_a_config_error_naming_both_places(
    emulator: WandbEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"WANDB_API_KEY") as info:
        await open_platform(platform_url(emulator))
    assert info.value.field == "credential"


async def test_wrong_api_key_is_an_auth_error_without_the_key(emulator: WandbEmulator) -> None:
    key = "wrong-" + "k" * 40
    platform = await open_platform(platform_url(emulator), api_key=key, retry=FAST_RETRY)
    try:
        with pytest.raises(AuthError) as info:
            await platform.submit(spec(config={"docker_image": "python:3.11"}))
    finally:
        await platform.aclose()
    assert key not in str(info.value)
    assert key not in repr(platform.settings)


async def test_registry_opens_wandb_urls_and_keeps_secrets_out_of_the_url(
    emulator: WandbEmulator,
) -> None:
    platform = await open_any(platform_url(emulator), api_key=emulator.api_key)
    try:
        assert platform.name == "wandb"
        assert emulator.api_key not in platform.url
        assert platform.url.startswith(f"wandb://{emulator.entity}/proj?queue=default")
    finally:
        await platform.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "wandb://only-entity",
        "wandb://e/p/extra",
        "wandb://e/p?colour=red",
        "wandb://e/p?host=ftp://x",
        "wandb://e/p?queue=has space",
    ],
)
async def test_malformed_platform_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        await open_platform(url, api_key="k" * 40)


async def test_a_log_read_before_the_run_exists_never_ends_before_its_lines(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    # The status query is slow: by the time it answers, the run was made and has ended.
    emulator.faults.add("JobStatuses", "slow", delay_s=2.0, times=None)
    ref = await platform.submit(JobSpec(entrypoint="echo one; echo two; echo three"))
    lines: list[str] = []
    cursor = None
    for _ in range(200):
        page = await platform.logs(ref, cursor)
        lines.extend(line.text for line in page.lines)
        cursor = page.cursor
        if page.done:
            break
    assert [t for t in lines if t in ("one", "two", "three")] == ["one", "two", "three"]


async def test_an_item_enqueued_without_a_run_id_is_listed_followed_and_cancellable(
    emulator: WandbEmulator, platform: WandbPlatform
) -> None:
    """``launch_add`` without ``run_id`` and ``Job.call()`` enqueue items whose run id the
    agent picks; they were invisible to ``list_jobs`` and had no job id at all."""
    import json

    from jobrelay.platforms.wandb import operations as ops

    run_spec = {
        "entity": emulator.entity,
        "project": "proj",
        "docker": {"docker_image": "py"},
        "overrides": {"entry_point": ["python", "x.py"], "args": [], "run_config": {}},
    }
    push = {
        "entityName": emulator.entity,
        "projectName": "model-registry",
        "queueName": "default",
        "runSpec": json.dumps(run_spec),
        "priority": None,
        "templateVariableValues": None,
    }
    emulator.script(
        Outcome("finished", log_lines=("from the sdk",), duration_s=0.5), queue="default"
    )
    await platform.api.execute(
        ops.PUSH_TO_RUN_QUEUE_BY_NAME, push, operation="pushToRunQueueByName"
    )
    async with AsyncClient(platform, poll=FAST) as client:
        listed = await client.list_jobs()
        assert len(listed) == 1
        ref = listed[0].ref
        assert ref.id.startswith("default:")
        assert ref.id.endswith(":")  # no run id yet: QUEUE:ITEM:
        result = await client.wait(ref, follow_logs=True)
        assert result.state is JobState.SUCCEEDED
        assert "from the sdk" in [line.text for line in await client.tail_logs(ref)]
        assert "/runs/" in str(result.status.url)

        emulator.agent.hold("default")
        await platform.api.execute(
            ops.PUSH_TO_RUN_QUEUE_BY_NAME, push, operation="pushToRunQueueByName"
        )
        pending = [s for s in await client.list_jobs() if s.state is JobState.QUEUED]
        assert len(pending) == 1
        await client.cancel(pending[0].ref)
        assert (await client.status(pending[0].ref)).state is JobState.CANCELLED
