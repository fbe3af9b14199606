"""The brisk phase of a poll policy: short intervals for a while after a job joins or
anything changes, then the usual backoff, so short jobs are seen to end at once and long
ones cost little (the hosted platforms' defaults use it)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobrelay import ConfigError, JobState, PollPolicy
from jobrelay.waiting import StatusHub

from tests.core.test_waiting import Jobs

seconds = st.floats(min_value=0.01, max_value=30, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    initial=seconds,
    extra=st.floats(min_value=0, max_value=30),
    brisk_extra=st.floats(min_value=0, max_value=1),
    backoff=st.floats(min_value=1, max_value=10),
    brisk_s=st.floats(min_value=0, max_value=120),
    quiet=st.lists(st.floats(min_value=0, max_value=240), min_size=1, max_size=20),
)
def test_intervals_stay_within_the_brisk_cap_while_brisk_and_within_max_after(
    initial: float,
    extra: float,
    brisk_extra: float,
    backoff: float,
    brisk_s: float,
    quiet: list[float],
) -> None:
    longest = initial + extra
    brisk_max = initial + brisk_extra * extra
    policy = PollPolicy(
        initial_s=initial, max_s=longest, backoff=backoff, brisk_s=brisk_s, brisk_max_s=brisk_max
    )
    interval = initial
    for q in sorted(quiet):
        interval = policy.next_interval(interval, changed=False, quiet_s=q)
        assert initial <= interval <= (brisk_max if q < brisk_s else longest)
    assert policy.next_interval(interval, changed=True, quiet_s=0) == initial


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"brisk_s": -1.0}, "brisk_s"),
        ({"brisk_s": float("nan")}, "brisk_s"),
        ({"brisk_s": 10.0, "brisk_max_s": 0.1}, "brisk_max_s"),  # shorter than initial_s
        ({"brisk_s": 10.0, "brisk_max_s": 9.0}, "brisk_max_s"),  # longer than max_s
        ({"brisk_s": True}, "brisk_s"),
    ],
)
def test_a_brisk_phase_that_cannot_work_is_refused_naming_the_field(
    fields: dict[str, float], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        PollPolicy(initial_s=0.25, max_s=2.0, **fields)
    assert field in str(caught.value)


async def _ticks_between(hub: StatusHub, start: float, end: float) -> int:
    await asyncio.sleep(start)
    before = hub.ticks
    await asyncio.sleep(end - start)
    return hub.ticks - before


async def test_the_hub_polls_briskly_after_a_job_joins_then_backs_off() -> None:
    # backoff 10 jumps straight to the cap: 0.02 s while brisk, then 1 s. Without the
    # brisk phase the hub would tick about twice in the first 0.8 s, not ~40 times.
    policy = PollPolicy(
        initial_s=0.02, max_s=1.0, backoff=10, jitter=0, brisk_s=1.0, brisk_max_s=0.02
    )
    jobs = Jobs()
    ref = jobs.add("j1", JobState.RUNNING)
    hub = StatusHub(jobs, policy)
    async with hub.watch(ref):
        brisk = await _ticks_between(hub, 0.0, 0.8)
        after = await _ticks_between(hub, 0.4, 2.4)  # from 1.2 s to 3.2 s after joining
    await hub.aclose()
    assert brisk >= 8, f"{brisk} ticks in the brisk phase"
    assert after <= 3, f"{after} ticks after it"
