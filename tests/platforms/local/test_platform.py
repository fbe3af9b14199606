"""LocalPlatform's API: URLs, validation before any write, idempotency, batch status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jobrelay.errors import ConfigError, ConflictError, NotFoundError
from jobrelay.models import JobRef, JobSpec, JobState, QueueMode
from jobrelay.platforms.base import Platform, QueueAdmin
from jobrelay.platforms.local import LocalPlatform, open_platform
from jobrelay.platforms.registry import open_platform as open_any

from .conftest import db_rows


async def test_url_names_the_home_and_the_home_is_created_private(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    platform = await open_any(f"local://{home}?autostart=0&idle_timeout=5")
    try:
        assert isinstance(platform, LocalPlatform)
        assert isinstance(platform, Platform)
        assert isinstance(platform, QueueAdmin)
        assert platform.url == f"local://{home}"
        assert (home.stat().st_mode & 0o777) == 0o700
        assert (platform.autostart_agent, platform.agent_idle_timeout) == (False, 5.0)
    finally:
        await platform.aclose()


async def test_bare_local_url_uses_jobrelay_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBRELAY_HOME", str(tmp_path / "envhome"))
    platform = await open_platform("local://")
    try:
        assert platform.url == f"local://{tmp_path / 'envhome'}"
    finally:
        await platform.aclose()


@pytest.mark.parametrize(
    ("url", "field", "says"),
    [
        ("local://foo", "platform", "local:///absolute/path"),
        ("local:///tmp/x?colour=red", "colour", "not an option of the local platform"),
        ("local:///tmp/x?autostart=maybe", "autostart", "valid boolean"),
        ("local:///tmp/x?idle_timeout=-1", "idle_timeout", "positive number of seconds"),
    ],
)
async def test_bad_urls_are_config_errors_naming_the_option(
    url: str, field: str, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        await open_platform(url)
    assert info.value.field == field
    assert says in str(info.value)


async def test_submit_to_unknown_queue_writes_nothing(manual: LocalPlatform, home: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        await manual.submit(JobSpec(entrypoint="true", queue="gpu"))
    assert "queue 'gpu' does not exist" in str(info.value)
    assert "jobrelay queue create gpu" in str(info.value)
    assert db_rows(home, "SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_missing_working_dir_writes_nothing_and_starts_no_agent(
    platform: LocalPlatform, home: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        await platform.submit(JobSpec(entrypoint="true", working_dir=str(tmp_path / "nope")))
    assert info.value.field == "working_dir"
    assert db_rows(home, "SELECT COUNT(*) FROM jobs") == [(0,)]
    assert db_rows(home, "SELECT COUNT(*) FROM agents") == [(0,)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "q", "mode": "RANDOM"}, "mode"),
        ({"name": "q", "max_concurrency": 0}, "max_concurrency"),
        ({"name": "bad name"}, "name"),
    ],
)
async def test_bad_queue_settings_write_nothing(
    manual: LocalPlatform, home: Path, kwargs: dict[str, object], field: str
) -> None:
    name = kwargs.pop("name")
    with pytest.raises(ConfigError) as info:
        await manual.create_queue(str(name), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert db_rows(home, "SELECT COUNT(*) FROM queues") == [(0,)]


async def test_queues_are_created_updated_and_listed_with_counts(manual: LocalPlatform) -> None:
    await manual.create_queue("gpu", max_concurrency=1, mode="lifo")
    info = await manual.create_queue("gpu", max_concurrency=3, mode=QueueMode.PRIORITY)
    assert (info.max_concurrency, info.mode) == (3, QueueMode.PRIORITY)
    with pytest.raises(ConflictError):
        await manual.create_queue("gpu", exist_ok=False)
    await manual.submit(JobSpec(entrypoint="true", queue="gpu"))
    queues = {q.name: q for q in await manual.list_queues()}
    assert sorted(queues) == ["default", "gpu"]
    assert (queues["gpu"].queued, queues["gpu"].running) == (1, 0)
    assert queues["default"].mode is QueueMode.FIFO


async def test_duplicate_idempotency_key_conflicts_and_find_returns_the_job(
    manual: LocalPlatform,
) -> None:
    ref = await manual.submit(JobSpec(entrypoint="true", idempotency_key="dag.task.1"))
    with pytest.raises(ConflictError):
        await manual.submit(JobSpec(entrypoint="false", idempotency_key="dag.task.1"))
    found = await manual.find("dag.task.1")
    assert found is not None
    assert (found.id, found.idempotency_key) == (ref.id, "dag.task.1")
    assert await manual.find("dag.task") is None


async def test_unknown_job_is_not_found(manual: LocalPlatform) -> None:
    ghost = JobRef(platform=manual.url, id="j-000000000000")
    with pytest.raises(NotFoundError):
        await manual.status(ghost)
    with pytest.raises(NotFoundError):
        await manual.cancel(ghost)
    assert await manual.statuses([ghost]) == {}


async def test_statuses_of_a_thousand_jobs_in_one_query(
    manual: LocalPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read of the store for 1,000 jobs (its speed: benchmarks/waiters.py)."""
    refs = [await manual.submit(JobSpec(entrypoint="true")) for _ in range(1000)]
    reads: list[int] = []
    real = manual._store.job_rows

    def counted(ids: list[str]) -> Any:
        reads.append(len(ids))
        return real(ids)

    monkeypatch.setattr(manual._store, "job_rows", counted)
    statuses = await manual.statuses(refs)
    assert reads == [1000]
    assert len(statuses) == 1000
    assert [statuses[r.id].queue_position for r in refs] == list(range(1, 1001))
    assert all(s.state is JobState.QUEUED and s.queue == "default" for s in statuses.values())


async def test_list_jobs_is_newest_first_and_filters_by_queue(manual: LocalPlatform) -> None:
    await manual.create_queue("other")
    first = await manual.submit(JobSpec(entrypoint="true", name="first"))
    await manual.submit(JobSpec(entrypoint="true", name="elsewhere", queue="other"))
    last = await manual.submit(JobSpec(entrypoint="true", name="last"))
    newest = await manual.list_jobs(limit=2)
    assert len(newest) == 2
    assert newest[0].ref.id == last.id
    assert [s.ref.id for s in await manual.list_jobs(queue="default")] == [last.id, first.id]
