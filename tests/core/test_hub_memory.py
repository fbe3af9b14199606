"""A status hub in a long-lived process (a triggerer watching thousands of jobs for days)
keeps state only for the jobs someone is watching: a waiter that leaves while a tick's
``statuses()`` is in flight leaves nothing behind, and a later waiter still gets its job's
status at once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from jobrelay import JobRef, JobState, JobStatus, PollPolicy
from jobrelay.waiting import StatusHub

FAST = PollPolicy(initial_s=0.005, max_s=0.02, jitter=0)


class SlowJobs:
    """Every job running; each statuses() call waits until the test lets it answer."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.asked = asyncio.Event()

    async def statuses(self, refs: Sequence[JobRef]) -> Mapping[str, JobStatus]:
        self.asked.set()
        await self.answer.wait()
        return {
            r.id: JobStatus(ref=r, state=JobState.RUNNING, platform_state="running") for r in refs
        }


async def test_waiters_that_leave_during_a_tick_leave_no_state_behind() -> None:
    jobs = SlowJobs()
    hub = StatusHub(jobs, FAST)
    refs = [JobRef(platform="mem://", id=f"j{i}") for i in range(500)]
    in_flight = asyncio.Event()

    async def watch_until_the_tick_is_in_flight(ref: JobRef) -> None:
        async with hub.watch(ref):
            await in_flight.wait()  # leaves while statuses() has not answered

    watchers = [asyncio.create_task(watch_until_the_tick_is_in_flight(r)) for r in refs]
    await jobs.asked.wait()
    in_flight.set()
    await asyncio.gather(*watchers)
    jobs.answer.set()
    await asyncio.sleep(0.05)  # the tick ends with no one watching

    assert hub._watches == {}
    assert hub._last == {}, f"{len(hub._last)} jobs nobody watches are remembered"

    async with hub.watch(refs[0]) as again:  # a later waiter gets the job's status at once
        status = await again.next(5)
    assert status is not None
    assert status.state is JobState.RUNNING
    await hub.aclose()
    assert hub._last == {}
