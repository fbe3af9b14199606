"""The waiter's own logic, against an in-memory status source whose states the test moves.

The platform contract suite checks the same behaviour end to end on real platforms; these
tests pin the parts that are pure logic: batching, phases, limits and updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from jobrelay import (
    AsyncClient,
    ConfigError,
    JobRef,
    JobState,
    JobStatus,
    JobTimeout,
    PollPolicy,
    WaitLimits,
)
from jobrelay.waiting import JobUpdate, StatusHub, wait_for_job

FAST = PollPolicy(initial_s=0.005, max_s=0.02, jitter=0)


class Jobs:
    """Holds each job's state; counts statuses() calls like a platform API would."""

    def __init__(self) -> None:
        self.state: dict[str, JobState] = {}
        self.position: dict[str, int | None] = {}
        self.calls: list[int] = []
        self.cancelled: list[str] = []
        self.started_at: dict[str, datetime] = {}

    def add(self, job_id: str, state: JobState = JobState.QUEUED) -> JobRef:
        self.state[job_id] = state
        return JobRef(platform="mem://", id=job_id)

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        self.calls.append(len(refs))
        return {
            r.id: JobStatus(
                ref=r,
                state=self.state[r.id],
                platform_state=self.state[r.id].lower(),
                queue_position=self.position.get(r.id),
                started_at=self.started_at.get(r.id),
            )
            for r in refs
            if r.id in self.state
        }

    async def cancel(self, ref: JobRef) -> None:
        self.cancelled.append(ref.id)
        self.state[ref.id] = JobState.CANCELLED


async def later(seconds: float, jobs: Jobs, job_id: str, state: JobState) -> None:
    await asyncio.sleep(seconds)
    jobs.state[job_id] = state


async def test_thousand_waiters_share_one_status_call_per_tick() -> None:
    jobs = Jobs()
    refs = [jobs.add(f"j{i}", JobState.RUNNING) for i in range(1000)]
    hub = StatusHub(jobs, FAST)

    async def finish_all() -> None:
        await asyncio.sleep(0.1)
        for ref in refs:
            jobs.state[ref.id] = JobState.SUCCEEDED

    finisher = asyncio.create_task(finish_all())
    results = await asyncio.gather(*(wait_for_job(hub, r, cancel=jobs.cancel) for r in refs))
    await finisher
    assert all(s.state is JobState.SUCCEEDED for s in results)
    assert jobs.calls, "the hub never polled"
    assert max(jobs.calls) == 1000, "every tick asks for all watched jobs at once"
    assert len(jobs.calls) == hub.ticks
    assert len(jobs.calls) < 60, f"{len(jobs.calls)} calls: waiters are not sharing ticks"
    await hub.aclose()


async def test_queue_timeout_cancels_and_names_the_queue_phase() -> None:
    jobs = Jobs()
    ref = jobs.add("j")
    with pytest.raises(JobTimeout) as info:
        await wait_for_job(
            StatusHub(jobs, FAST), ref, cancel=jobs.cancel, limits=WaitLimits(queue_timeout=0.1)
        )
    assert info.value.phase == "queue"
    assert jobs.cancelled == ["j"]
    assert info.value.status.state is JobState.CANCELLED


class StaysQueued(Jobs):
    """A platform whose cancel does not take a queued job off its queue (Ray, measured)."""

    async def cancel(self, ref: JobRef) -> None:
        self.cancelled.append(ref.id)


async def test_a_queue_timeout_on_a_platform_that_cannot_unqueue_does_not_claim_a_cancel() -> None:
    jobs = StaysQueued()
    ref = jobs.add("j")
    with pytest.raises(JobTimeout) as info:
        await wait_for_job(
            StatusHub(jobs, FAST),
            ref,
            cancel=jobs.cancel,
            limits=WaitLimits(queue_timeout=0.1),
            cancel_queued=False,
        )
    assert jobs.cancelled == ["j"]
    assert info.value.status.state is JobState.QUEUED  # what the platform reports, as it is
    assert "cancelled it" not in str(info.value)
    assert "cannot take a queued job off its queue" in str(info.value)


async def test_run_timeout_counts_from_running_not_from_submit() -> None:
    jobs = Jobs()
    ref = jobs.add("j")
    asyncio.get_running_loop().create_task(later(0.3, jobs, "j", JobState.RUNNING))
    with pytest.raises(JobTimeout) as info:
        # The queue phase (0.3 s) is longer than run_timeout: only running time counts.
        await wait_for_job(
            StatusHub(jobs, FAST), ref, cancel=jobs.cancel, limits=WaitLimits(run_timeout=0.2)
        )
    assert info.value.phase == "run"
    assert jobs.cancelled == ["j"]


async def test_timeout_without_cancel_leaves_the_job_alone() -> None:
    jobs = Jobs()
    ref = jobs.add("j", JobState.RUNNING)
    with pytest.raises(JobTimeout) as info:
        await wait_for_job(
            StatusHub(jobs, FAST),
            ref,
            cancel=jobs.cancel,
            limits=WaitLimits(timeout=0.05, cancel_on_timeout=False),
        )
    assert info.value.phase == "total"
    assert jobs.cancelled == []
    assert "left it running" in str(info.value)


async def test_until_running_returns_once_the_queue_phase_is_over() -> None:
    jobs = Jobs()
    ref = jobs.add("j")
    asyncio.get_running_loop().create_task(later(0.05, jobs, "j", JobState.RUNNING))
    status = await wait_for_job(
        StatusHub(jobs, FAST), ref, until=JobState.RUNNING, cancel=jobs.cancel
    )
    assert status.state is JobState.RUNNING


async def test_updates_report_state_and_position_changes_once_each() -> None:
    jobs = Jobs()
    ref = jobs.add("j")
    jobs.position["j"] = 2
    seen: list[tuple[JobState, int | None]] = []

    async def script() -> None:
        await asyncio.sleep(0.05)
        jobs.position["j"] = 1
        await asyncio.sleep(0.05)
        jobs.state["j"], jobs.position["j"] = JobState.RUNNING, None
        await asyncio.sleep(0.05)
        jobs.state["j"] = JobState.FAILED

    def on_update(update: JobUpdate) -> None:
        seen.append((update.status.state, update.status.queue_position))

    task = asyncio.get_running_loop().create_task(script())
    status = await wait_for_job(StatusHub(jobs, FAST), ref, cancel=jobs.cancel, on_update=on_update)
    await task
    assert status.state is JobState.FAILED
    assert seen == [
        (JobState.QUEUED, 2),
        (JobState.QUEUED, 1),
        (JobState.RUNNING, None),
        (JobState.FAILED, None),
    ]


async def test_polling_backs_off_while_nothing_changes() -> None:
    policy = PollPolicy(initial_s=0.01, max_s=0.08, backoff=2, jitter=0)
    intervals = [0.01]
    for _ in range(5):
        intervals.append(policy.next_interval(intervals[-1], changed=False))
    assert intervals == [0.01, 0.02, 0.04, 0.08, 0.08, 0.08]
    assert policy.next_interval(0.08, changed=True) == 0.01


def test_nonpositive_limits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="queue_timeout"):
        WaitLimits(queue_timeout=0)


# A wait that continues an earlier one (``since``): a restarted Airflow trigger. The limits
# are long and the resumed wait is bounded by a few seconds, so a restart that granted the
# job fresh limits fails these tests instead of passing slowly.
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def _resumed_wait(jobs: Jobs, ref: JobRef, since: datetime, limits: WaitLimits) -> JobStatus:
    hub = StatusHub(jobs, FAST)
    try:
        return await asyncio.wait_for(
            wait_for_job(
                hub, ref, cancel=jobs.cancel, limits=limits, since=since, wall=lambda: NOW
            ),
            timeout=5,
        )
    finally:
        await hub.aclose()


@pytest.mark.parametrize(
    ("state", "started_ago", "limits", "phase"),
    [
        (JobState.QUEUED, None, WaitLimits(queue_timeout=60), "queue"),
        (JobState.RUNNING, None, WaitLimits(timeout=60), "total"),
        # Found running: the run phase counts from the platform's start, 70 s ago.
        (JobState.RUNNING, 70, WaitLimits(run_timeout=60), "run"),
    ],
    ids=["queue", "total", "run"],
)
async def test_a_resumed_wait_counts_its_limits_from_when_the_wait_began(
    state: JobState, started_ago: float | None, limits: WaitLimits, phase: str
) -> None:
    jobs = Jobs()
    ref = jobs.add("j", state)
    if started_ago is not None:
        jobs.started_at["j"] = NOW - timedelta(seconds=started_ago)
    with pytest.raises(JobTimeout) as info:
        await _resumed_wait(jobs, ref, NOW - timedelta(seconds=90), limits)
    assert info.value.phase == phase
    assert jobs.cancelled == ["j"]


async def test_a_platform_clock_far_behind_cannot_end_a_resumed_run_early() -> None:
    jobs = Jobs()
    ref = jobs.add("j", JobState.RUNNING)
    jobs.started_at["j"] = NOW - timedelta(hours=3)  # before the wait began: not believed
    asyncio.get_running_loop().create_task(later(0.2, jobs, "j", JobState.SUCCEEDED))
    status = await _resumed_wait(
        jobs, ref, NOW - timedelta(seconds=30), WaitLimits(queue_timeout=60, run_timeout=60)
    )
    assert status.state is JobState.SUCCEEDED
    assert jobs.cancelled == []


async def test_a_resumed_wait_within_its_limits_waits_on() -> None:
    jobs = Jobs()
    ref = jobs.add("j", JobState.QUEUED)
    asyncio.get_running_loop().create_task(later(0.1, jobs, "j", JobState.RUNNING))
    asyncio.get_running_loop().create_task(later(0.2, jobs, "j", JobState.SUCCEEDED))
    limits = WaitLimits(queue_timeout=60, run_timeout=60)
    status = await _resumed_wait(jobs, ref, NOW - timedelta(seconds=50), limits)
    assert status.state is JobState.SUCCEEDED


async def test_a_naive_since_is_refused_before_waiting() -> None:
    async with AsyncClient("local://") as client:
        ref = JobRef(platform="local://", id="j-none")
        with pytest.raises(ConfigError, match="timezone-aware") as info:
            await client.wait(ref, since=datetime(2026, 11, 22, 12, 0))
    assert info.value.field == "since"


class Flaky(Jobs):
    """Fails the first ``failures`` status calls with ``error``."""

    def __init__(self, error: Exception, failures: int) -> None:
        super().__init__()
        self.error = error
        self.failures = failures

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        if self.failures:
            self.failures -= 1
            raise self.error
        return await super().statuses(refs)


async def test_a_wait_outlives_a_short_outage_of_the_platform() -> None:
    from jobrelay.errors import ServerError

    jobs = Flaky(ServerError("get status failed with HTTP 503"), failures=10)
    ref = jobs.add("j", JobState.RUNNING)
    asyncio.get_running_loop().create_task(later(0.1, jobs, "j", JobState.SUCCEEDED))
    status = await asyncio.wait_for(wait_for_job(StatusHub(jobs, FAST), ref, cancel=jobs.cancel), 5)
    assert status.state is JobState.SUCCEEDED


@pytest.mark.parametrize(
    "error", [ValueError("a bug in a platform"), ConfigError("bad cursor", field="cursor")]
)
async def test_an_error_that_will_not_go_away_reaches_the_waiter_at_once(
    error: Exception,
) -> None:
    jobs = Flaky(error, failures=1000)
    ref = jobs.add("j", JobState.RUNNING)
    with pytest.raises(type(error)):
        await asyncio.wait_for(wait_for_job(StatusHub(jobs, FAST), ref, cancel=jobs.cancel), 5)


async def test_an_outage_longer_than_the_policy_allows_ends_the_wait() -> None:
    from jobrelay.errors import TransportError

    jobs = Flaky(TransportError("could not reach 127.0.0.1:8265"), failures=10_000)
    ref = jobs.add("j", JobState.RUNNING)
    policy = PollPolicy(initial_s=0.005, max_s=0.02, jitter=0, outage_s=0.2)
    with pytest.raises(TransportError):
        await asyncio.wait_for(wait_for_job(StatusHub(jobs, policy), ref, cancel=jobs.cancel), 5)
