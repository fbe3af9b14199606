"""Every job the integration submits records its Prefect owner, and the reaper's lookup
reads owners' states from a real Prefect server (the harness's), in process.

The deployed reaper against killed flow runs is in ``test_reaper.py``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jobrelay import AsyncClient, ConfigError, JobSpec
from jobrelay.integration import Owner, OwnerState, sweep
from jobrelay.models import JobRef
from jobrelay.platforms.local.schema import DB_FILENAME
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_jobrelay import (
    JobRelayCredentials,
    JobRelayJob,
    PrefectOwnerLookup,
    arun_job,
    cancel_orphaned_jobs,
    installation_id,
    run_job,
    submit_job,
)
from prefect_jobrelay._ownership import INSTALLATION_ENV
from prefect_jobrelay._reaper import memory_variable

from tests.prefect.conftest import prefect_sync_client
from tests.prefect.flows import TICKS


def test_the_installation_is_a_digest_of_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INSTALLATION_ENV, raising=False)
    one = installation_id("http://127.0.0.1:4200/api")
    assert one == installation_id("http://127.0.0.1:4200/api/")
    assert one != installation_id("http://127.0.0.1:4201/api")
    cloud = "https://api.prefect.cloud/api/accounts/{a}/workspaces/{w}"
    assert installation_id(cloud.format(a=1, w=2)) != installation_id(cloud.format(a=1, w=3))
    Owner("prefect", one, ("-",))  # a valid installation


def test_an_explicit_installation_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INSTALLATION_ENV, "prod-prefect")
    assert installation_id("http://127.0.0.1:4200/api") == "prod-prefect"
    monkeypatch.setenv(INSTALLATION_ENV, "prod prefect:1")
    with pytest.raises(ConfigError, match=INSTALLATION_ENV):
        installation_id()


def _ticks(name: str) -> dict[str, Any]:
    return {"entrypoint": [sys.executable, "-c", TICKS], "name": name}


@task(cache_policy=NO_CACHE)
def sync_task(platform: str) -> dict[str, Any]:
    record: dict[str, Any] = run_job.fn(platform, {"entrypoint": ["echo", "sync"]})
    return record


@flow(name="jobrelay-owners")
async def every_submitter(platform: str) -> dict[str, Any]:
    ran = await arun_job(platform, {"entrypoint": ["echo", "run"]}, run_timeout=30)
    ref = await submit_job(platform, {"entrypoint": ["echo", "submit"], "name": "submitted"})
    block = JobRelayJob(
        credentials=JobRelayCredentials(platform=platform),
        entrypoint=["echo", "block"],
        job_name="block",
        run_timeout=10,
    )
    await (await block.trigger()).wait_for_completion()
    synced = sync_task.submit(platform).result()
    return {"run": ran["job_id"], "submit": ref["id"], "sync": synced["job_id"]}


@pytest.mark.slow
async def test_every_job_records_its_flow_run_and_task_run(
    prefect_api: dict[str, str], home: Path
) -> None:
    from prefect.client.orchestration import get_client

    platform = f"local://{home}"
    with prefect_sync_client():
        state = await every_submitter(platform, return_state=True)
    assert state.is_completed(), state
    ids = await state.result()
    flow_run_id = str(state.state_details.flow_run_id)
    async with AsyncClient(platform) as client:
        jobs = {job.ref.id: job for job in await client.list_jobs(limit=20)}
    with contextlib.closing(sqlite3.connect(home / DB_FILENAME)) as db:
        timeouts = dict(db.execute("SELECT id, timeout_s FROM jobs").fetchall())
    assert len(jobs) == 4
    owners = {job_id: Owner.parse(job.owner or "") for job_id, job in jobs.items()}
    installation = installation_id(prefect_api["url"])
    assert {o.installation for o in owners.values()} == {installation}
    assert {o.orchestrator for o in owners.values()} == {"prefect"}
    assert {o.unit[0] for o in owners.values()} == {flow_run_id}
    (block,) = [job_id for job_id in jobs if job_id not in ids.values()]
    assert owners[block].unit == (flow_run_id, "-")  # submitted by the flow itself
    async with get_client() as prefect:
        for kind in ("run", "submit", "sync"):
            task_run = await prefect.read_task_run(uuid.UUID(owners[ids[kind]].unit[1]))
            assert task_run.flow_run_id == uuid.UUID(flow_run_id)
    # The platform's own deadline follows the wait's run_timeout (+60 s) on local.
    assert timeouts[ids["run"]] == 90
    assert timeouts[block] == 70
    assert timeouts[ids["submit"]] is None


async def _flow_run(prefect: Any, state: Any) -> uuid.UUID:
    @flow(name="jobrelay-owner-state")
    def owner_state() -> None: ...

    run = await prefect.create_flow_run(owner_state, state=state)
    return uuid.UUID(str(run.id))


@pytest.mark.slow
async def test_the_lookup_reads_flow_run_states_in_one_batch(
    prefect_api: dict[str, str],
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import (
        AwaitingRetry,
        Cancelled,
        Cancelling,
        Completed,
        Crashed,
        Failed,
        Paused,
        Pending,
        Running,
        Scheduled,
    )

    alive = [Scheduled, AwaitingRetry, Pending, Running, Paused, Cancelling]
    ended = [Completed, Failed, Crashed, Cancelled]
    lookup = PrefectOwnerLookup()
    async with get_client() as prefect:
        runs = {make.__name__: await _flow_run(prefect, make()) for make in alive + ended}
        read = {name: await prefect.read_flow_run(run) for name, run in runs.items()}
    owners = {
        name: Owner("prefect", lookup.installation, (str(run), "-")) for name, run in runs.items()
    }
    deleted = Owner("prefect", lookup.installation, (str(uuid.uuid4()), str(uuid.uuid4())))
    foreign = Owner("prefect", lookup.installation, ("not-a-uuid", "-"))

    states = await lookup.states([*owners.values(), deleted, foreign])

    for make in alive:
        report = states[owners[make.__name__]]
        assert report.state is OwnerState.ALIVE, (make.__name__, report)
        assert report.ended_at is None
    for make in ended:
        report = states[owners[make.__name__]]
        assert report.state is OwnerState.ENDED, (make.__name__, report)
        final = read[make.__name__].state
        assert final is not None
        assert report.ended_at == final.timestamp
        assert report.detail == final.name
    assert states[deleted].state is OwnerState.GONE
    assert foreign not in states  # unknown: the sweep leaves its job


async def _owned_job(client: AsyncClient, owner: Owner, name: str) -> JobRef:
    return await client.submit(JobSpec(**_ticks(name), owner=str(owner)))


@pytest.mark.slow
async def test_an_unreadable_prefect_api_leaves_every_job(
    prefect_api: dict[str, str], home: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    lookup = PrefectOwnerLookup()
    ended = Owner("prefect", lookup.installation, (str(uuid.uuid4()), "-"))
    async with AsyncClient(f"local://{home}") as client:
        job = await _owned_job(client, ended, "unreadable")
        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            report = await sweep(client, lookup, grace_s=0)
        assert report.lookup_error is not None
        assert report.cancelled == []
        assert (await client.status(job)).state.is_active


@pytest.mark.slow
async def test_the_reaper_flow_remembers_deleted_flow_runs_between_runs(
    prefect_api: dict[str, str], home: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableUpdate
    from prefect.states import Running

    platform = f"local://{home}"
    installation = installation_id()
    gone = Owner("prefect", installation, (str(uuid.uuid4()), "-"))
    other = Owner("prefect", "another-server", (str(uuid.uuid4()), "-"))
    async with get_client() as prefect:
        running = await _flow_run(prefect, Running())
    alive = Owner("prefect", installation, (str(running), "-"))
    async with AsyncClient(platform) as client:
        jobs = {
            "gone": await _owned_job(client, gone, "gone"),
            "other": await _owned_job(client, other, "other"),
            "alive": await _owned_job(client, alive, "alive"),
        }
    name = memory_variable(platform, installation)

    async def remembered() -> Any:
        async with get_client() as prefect:
            variable = await prefect.read_variable_by_name(name)
        return None if variable is None else variable.value

    with prefect_sync_client():
        first = await cancel_orphaned_jobs(platform, grace_period=3600)
        assert first["cancelled"] == []
        assert first["kept"] == 2
        seen = await remembered()
        assert isinstance(seen, dict)
        assert list(seen) == [str(gone)]
        # An hour later, as the next scheduled run would find it:
        hour_ago = (datetime.now(UTC) - timedelta(hours=1, seconds=5)).isoformat()
        async with get_client() as prefect:
            await prefect.update_variable(VariableUpdate(name=name, value={str(gone): hour_ago}))
        dry = await cancel_orphaned_jobs(platform, grace_period=3600, dry_run=True)
        assert [c["job"] for c in dry["would_cancel"]] == [jobs["gone"].id]
        second = await cancel_orphaned_jobs(platform, grace_period=3600)

    (cancelled,) = second["cancelled"]
    assert cancelled["job"] == jobs["gone"].id
    assert cancelled["owner"] == str(gone)
    assert cancelled["ended_for_s"] >= 3600
    assert await remembered() == {}
    async with AsyncClient(platform) as client:
        states = {kind: (await client.status(job)).state for kind, job in jobs.items()}
    assert states["other"].is_active
    assert states["alive"].is_active
    assert states["gone"].value in {"CANCELLING", "CANCELLED"}


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=0)
def retried_task() -> list[bool]:
    from prefect_jobrelay._running import retry_follows

    seen.append(retry_follows())
    if len(seen) < 3:
        raise RuntimeError("once more")
    return list(seen)


seen: list[bool] = []


@flow(name="jobrelay-retry-follows")
def retrying() -> list[bool]:
    return retried_task()


@flow(name="jobrelay-not-owned")
async def not_owned(platform: str) -> str:
    ran = await arun_job(platform, {"entrypoint": ["echo", "free"]}, cancel_on_kill=False)
    return str(ran["job_id"])


@pytest.mark.slow
async def test_a_retry_follows_every_attempt_but_the_last(prefect_api: dict[str, str]) -> None:
    # An error of an attempt a retry follows leaves its job for the retry (which reattaches
    # by key); the last attempt's error cancels it.
    seen.clear()
    with prefect_sync_client():
        assert retrying() == [True, True, False]


@pytest.mark.slow
async def test_cancel_on_kill_false_leaves_the_job_unowned(
    prefect_api: dict[str, str], home: Path
) -> None:
    # Such a job is meant to outlive its run: the orphan sweep must not cancel it later.
    platform = f"local://{home}"
    with prefect_sync_client():
        job_id = await not_owned(platform)
    async with AsyncClient(platform) as client:
        (job,) = [j for j in await client.list_jobs(limit=5) if j.ref.id == job_id]
    assert job.owner is None
