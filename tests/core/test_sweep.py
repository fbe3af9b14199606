"""The sweep (jobrelay.integration.sweep): it cancels exactly the active jobs of its
installation whose owner ended (or is gone) longer than the grace period ago, and nothing
else: not a job whose owner is alive, unknown, unreadable, of another installation or
orchestrator, not a finished job, not an owner that ended "in the future" (clock skew).

The property tests drive the sweep over a platform that keeps its jobs in memory (what is
under test is the sweep's decisions, thousands of them); the last test runs it end to end
on the real local platform, with real processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, JobSpec
from jobrelay.errors import ConfigError, ServerError
from jobrelay.integration import Owner, OwnerReport, OwnerState, sweep
from jobrelay.models import JobRef, JobState, JobStatus, LogPage
from jobrelay.platforms.base import Capabilities

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
MINE = ("airflow", "inst-a")


class MemoryPlatform:
    """Jobs in a list; ``cancel`` records what it was asked (and ends the job)."""

    name = "memory"
    url = "memory://"
    capabilities = Capabilities(owners=True)

    def __init__(self, jobs: list[JobStatus]) -> None:
        self.jobs = {job.ref.id: job for job in jobs}
        self.cancelled: list[str] = []
        self.list_calls = 0
        self.fail_cancel: set[str] = set()

    async def submit(self, spec: JobSpec) -> JobRef:
        raise NotImplementedError

    async def find(self, idempotency_key: str) -> JobRef | None:
        raise NotImplementedError

    async def status(self, ref: JobRef) -> JobStatus:
        return self.jobs[ref.id]

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        return {r.id: self.jobs[r.id] for r in refs if r.id in self.jobs}

    async def logs(
        self, ref: JobRef, cursor: str | None, *, terminal: bool | None = None
    ) -> LogPage:
        return LogPage(lines=[], cursor="", done=True)

    async def cancel(self, ref: JobRef) -> None:
        if ref.id in self.fail_cancel:
            raise ServerError("the platform answered 503", status_code=503)
        self.cancelled.append(ref.id)
        job = self.jobs[ref.id]
        if job.state.is_active:
            self.jobs[ref.id] = job.model_copy(update={"state": JobState.CANCELLED})

    async def list_jobs(self, *, limit: int = 50, queue: str | None = None) -> Sequence[JobStatus]:
        self.list_calls += 1
        return list(self.jobs.values())[:limit]

    async def aclose(self) -> None:
        return None


class Lookup:
    """Answers from a table; may raise instead, like an orchestrator API that is down."""

    def __init__(
        self,
        answers: Mapping[Owner, OwnerReport],
        *,
        error: BaseException | None = None,
        orchestrator: str = MINE[0],
        installation: str = MINE[1],
    ) -> None:
        self.orchestrator = orchestrator
        self.installation = installation
        self.answers = answers
        self.error = error
        self.asked: list[list[Owner]] = []

    async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]:
        self.asked.append(list(owners))
        if self.error is not None:
            raise self.error
        return {o: self.answers[o] for o in owners if o in self.answers}


owners = st.builds(
    Owner,
    orchestrator=st.sampled_from(["airflow", "prefect"]),
    installation=st.sampled_from(["inst-a", "inst-b"]),
    unit=st.tuples(st.sampled_from(["run-1", "run-2", "run:3", "run%4", "run-5"])),
)
reports = st.one_of(
    st.builds(
        OwnerReport,
        state=st.just(OwnerState.ENDED),
        # ended minutes ago, just now, or "in the future" (the orchestrator's clock ahead)
        ended_at=st.one_of(
            st.none(),
            st.integers(-600, 3600).map(lambda s: NOW - timedelta(seconds=s)),
        ),
        detail=st.sampled_from(["failed", "success", "CRASHED"]),
    ),
    st.builds(OwnerReport, state=st.sampled_from(list(OwnerState))),
)
jobs = st.lists(
    st.tuples(
        st.one_of(st.none(), owners, st.just("not an owner")),
        st.sampled_from(list(JobState)),
    ),
    max_size=25,
)


def _statuses(drawn: list[tuple[Owner | str | None, JobState]]) -> list[JobStatus]:
    return [
        JobStatus(
            ref=JobRef(platform="memory://", id=f"j{n}"),
            state=state,
            platform_state=state.value,
            owner=None if owner is None else str(owner),
        )
        for n, (owner, state) in enumerate(drawn)
    ]


def _expected(
    statuses: list[JobStatus],
    answers: Mapping[Owner, OwnerReport],
    grace_s: float,
    memory: Mapping[str, datetime],
    lookup_fails: bool,
) -> set[str]:
    """The jobs the sweep must cancel, written as the rule, independently of the code."""
    if lookup_fails:
        return set()
    wanted = set()
    for job in statuses:
        owner = Owner.read(job.owner)
        if owner is None or (owner.orchestrator, owner.installation) != MINE:
            continue
        if not job.state.is_active or owner not in answers:
            continue
        report = answers[owner]
        if report.state not in (OwnerState.ENDED, OwnerState.GONE):
            continue
        since = report.ended_at or memory.get(str(owner), NOW)
        age = (NOW - since).total_seconds()
        if age >= grace_s and age >= 0:
            wanted.add(job.ref.id)
    return wanted


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=jobs,
    answers=st.dictionaries(owners, reports, max_size=10),
    grace_s=st.sampled_from([0.0, 30.0, 60.0, 600.0]),
    remembered=st.dictionaries(
        owners.map(str), st.integers(0, 3600).map(lambda s: NOW - timedelta(seconds=s))
    ),
    lookup_fails=st.booleans(),
)
async def test_the_sweep_cancels_exactly_the_jobs_whose_owner_ended_past_the_grace(
    drawn: list[tuple[Owner | str | None, JobState]],
    answers: dict[Owner, OwnerReport],
    grace_s: float,
    remembered: dict[str, datetime],
    lookup_fails: bool,
) -> None:
    statuses = _statuses(drawn)
    platform = MemoryPlatform(statuses)
    error = ServerError("Airflow answered 500", status_code=500) if lookup_fails else None
    lookup = Lookup(answers, error=error)
    async with AsyncClient(platform) as client:
        report = await sweep(
            client,
            lookup,
            grace_s=grace_s,
            now=NOW,
            memory={k: v.isoformat() for k, v in remembered.items()},
        )
    expected = _expected(statuses, answers, grace_s, remembered, lookup_fails)
    assert set(platform.cancelled) == expected
    assert {ref.id for ref in report.cancelled} == expected
    # One job list and at most one owner query per sweep, whatever the jobs.
    assert platform.list_calls == 1
    assert len(lookup.asked) <= 1
    asked = {o for batch in lookup.asked for o in batch}
    assert all((o.orchestrator, o.installation) == MINE for o in asked)
    if lookup_fails and lookup.asked:
        assert report.lookup_error is not None


@settings(max_examples=100, deadline=None)
@given(drawn=jobs, answers=st.dictionaries(owners, reports, max_size=10))
async def test_a_dry_run_cancels_nothing_and_lists_what_a_sweep_would(
    drawn: list[tuple[Owner | str | None, JobState]], answers: dict[Owner, OwnerReport]
) -> None:
    statuses = _statuses(drawn)
    dry, real = MemoryPlatform(statuses), MemoryPlatform(statuses)
    async with AsyncClient(dry) as client:
        listed = await sweep(client, Lookup(answers), grace_s=0, now=NOW, dry_run=True)
    async with AsyncClient(real) as client:
        await sweep(client, Lookup(answers), grace_s=0, now=NOW)
    assert dry.cancelled == []
    assert {ref.id for ref in listed.cancelled} == set(real.cancelled)


async def test_an_owner_without_an_end_time_is_cancelled_one_grace_after_first_seen() -> None:
    owner = Owner(*MINE, ("dag", "run", "task", "-1", "1"))
    platform = MemoryPlatform(_statuses([(owner, JobState.RUNNING)]))
    lookup = Lookup({owner: OwnerReport(OwnerState.ENDED, detail="failed")})
    async with AsyncClient(platform) as client:
        first = await sweep(client, lookup, grace_s=60, now=NOW)
        assert platform.cancelled == []
        assert first.memory == {str(owner): NOW.isoformat()}
        early = await sweep(
            client, lookup, grace_s=60, now=NOW + timedelta(seconds=59), memory=first.memory
        )
        assert platform.cancelled == []
        await sweep(
            client, lookup, grace_s=60, now=NOW + timedelta(seconds=61), memory=early.memory
        )
    assert platform.cancelled == ["j0"]


async def test_an_owner_alive_again_after_a_clear_keeps_its_job_and_restarts_the_grace() -> None:
    owner = Owner(*MINE, ("dag", "run", "task", "-1", "1"))
    platform = MemoryPlatform(_statuses([(owner, JobState.RUNNING)]))
    async with AsyncClient(platform) as client:
        ended = await sweep(
            client, Lookup({owner: OwnerReport(OwnerState.ENDED)}), grace_s=60, now=NOW
        )
        cleared = await sweep(
            client,
            Lookup({owner: OwnerReport(OwnerState.ALIVE, detail="running")}),
            grace_s=60,
            now=NOW + timedelta(seconds=120),
            memory=ended.memory,
        )
        assert cleared.memory == {}
        await sweep(
            client,
            Lookup({owner: OwnerReport(OwnerState.ENDED)}),
            grace_s=60,
            now=NOW + timedelta(seconds=150),
            memory=cleared.memory,
        )
    assert platform.cancelled == []


async def test_a_failed_cancel_is_reported_and_the_rest_are_still_cancelled() -> None:
    a, b = Owner(*MINE, ("a",)), Owner(*MINE, ("b",))
    platform = MemoryPlatform(_statuses([(a, JobState.RUNNING), (b, JobState.QUEUED)]))
    platform.fail_cancel = {"j0"}
    ended = OwnerReport(OwnerState.GONE)
    async with AsyncClient(platform) as client:
        report = await sweep(client, Lookup({a: ended, b: ended}), grace_s=0, now=NOW)
    assert platform.cancelled == ["j1"]
    assert "503" in report.failed["j0"]


async def test_a_lookup_that_hangs_leaves_every_job() -> None:
    owner = Owner(*MINE, ("a",))

    class Hanging(Lookup):
        async def states(self, owners: Sequence[Owner]) -> Mapping[Owner, OwnerReport]:
            await asyncio.sleep(30)
            return {}

    platform = MemoryPlatform(_statuses([(owner, JobState.RUNNING)]))
    async with AsyncClient(platform) as client:
        report = await sweep(client, Hanging({}), grace_s=0, now=NOW, lookup_timeout_s=0.2)
    assert platform.cancelled == []
    assert report.lookup_error is not None
    assert "Timeout" in report.lookup_error


@pytest.mark.parametrize("grace", [-1, float("nan"), float("inf"), "60", True])
async def test_a_bad_grace_period_is_refused_before_anything_is_listed(grace: Any) -> None:
    platform = MemoryPlatform([])
    async with AsyncClient(platform) as client:
        with pytest.raises(ConfigError) as raised:
            await sweep(client, Lookup({}), grace_s=grace)
    assert raised.value.field == "grace_s"
    assert platform.list_calls == 0


@pytest.mark.slow
async def test_on_the_local_platform_only_the_ended_owners_job_is_cancelled(
    tmp_path: Path,
) -> None:
    alive, ended = Owner(*MINE, ("alive",)), Owner(*MINE, ("ended",))
    other = Owner("airflow", "inst-b", ("ended",))
    async with AsyncClient(f"local://{tmp_path}") as client:
        refs = {
            name: await client.submit(JobSpec(entrypoint="sleep 60", owner=str(owner)))
            for name, owner in (("alive", alive), ("ended", ended), ("other", other))
        }
        try:
            listed = {s.ref.id: s.owner for s in await client.list_jobs()}
            assert listed[refs["ended"].id] == str(ended)
            report = await sweep(
                client,
                Lookup(
                    {
                        alive: OwnerReport(OwnerState.ALIVE),
                        ended: OwnerReport(OwnerState.ENDED, ended_at=datetime.now(UTC)),
                    }
                ),
                grace_s=0,
            )
            assert [r.id for r in report.cancelled] == [refs["ended"].id]
            final = await client.wait(refs["ended"], raise_on_failure=False, timeout=30)
            assert final.state is JobState.CANCELLED
            for name in ("alive", "other"):
                assert (await client.status(refs[name])).state.is_active, name
        finally:
            for ref in refs.values():
                await client.cancel(ref)
