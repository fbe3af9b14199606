"""Prefect's ``arun_job``, ``submit_job``, ``wait_for_job`` and ``JobRelayJob`` refuse every
bad argument before anything is sent (hypothesis): a ``ConfigError`` naming the argument,
never another exception type, and the local platform (a temp home) has no job.

The tasks' bodies are called (``task.fn``): the checks are theirs, not Prefect's, and a
Prefect run of a task fails with the exception its body raised.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobrelay import AsyncClient, ConfigError
from prefect_jobrelay import JobRelayCredentials, JobRelayJob
from prefect_jobrelay._tasks import arun_job, submit_job, wait_for_job

from tests.core.test_validation_fuzz import bad_flags, bad_seconds, bad_spec_fields, bad_specs

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

BAD_WAIT: dict[str, st.SearchStrategy[Any]] = {
    "queue_timeout": bad_seconds,
    "run_timeout": bad_seconds,
    "timeout": bad_seconds,
    "poll_frequency_seconds": bad_seconds,
    "follow_logs": bad_flags,
    "cancel_on_kill": bad_flags,
    # Prefect's artifact keys: lowercase letters, digits and dashes only
    "artifact_key": st.one_of(
        st.sampled_from(["UPPER", "has space", "under_score", "", "dot.ted"]), st.integers()
    ),
}
BAD_RUN: dict[str, st.SearchStrategy[Any]] = {
    **BAD_WAIT,
    "spec": bad_specs,
    "inputs": st.one_of(st.integers(), st.just({"m": 3}), st.just({"i" * 300: "m:latest"})),
    # ("" is no key: the Prefect identity's key is used)
    "idempotency_key": st.one_of(st.just("k" * 201), st.just("a\0b")),
}


def _url(tmp_path: Path) -> str:
    return f"local://{tmp_path}/home?autostart=0"


async def _jobs(url: str) -> int:
    async with AsyncClient(url) as client:
        return len(await client.list_jobs(limit=1000))


def _field_of(exc: ConfigError) -> str:
    return (exc.field or "").split(".")[0]


@SETTINGS
@given(data=st.data(), argument=st.sampled_from(sorted(BAD_RUN)))
async def test_arun_job_refuses_every_bad_argument_before_the_submit(
    data: st.DataObject, argument: str, tmp_path: Path
) -> None:
    value = data.draw(BAD_RUN[argument])
    kwargs: dict[str, Any] = {"spec": {"entrypoint": "true"}, argument: value}
    with pytest.raises(ConfigError) as info:
        # bounded: an accepted value would wait on a job no agent runs
        await asyncio.wait_for(arun_job.fn(_url(tmp_path), **kwargs), 20)
    assert _field_of(info.value) == argument, info.value
    assert await _jobs(_url(tmp_path)) == 0


@SETTINGS
@given(data=st.data())
async def test_submit_job_refuses_a_bad_spec_or_field(data: st.DataObject, tmp_path: Path) -> None:
    if data.draw(st.booleans()):
        spec, names = data.draw(bad_specs), ("spec",)
    else:
        fields = data.draw(bad_spec_fields)
        spec, names = {"entrypoint": "true", **fields}, tuple(fields)
    with pytest.raises(ConfigError) as info:
        await submit_job.fn(_url(tmp_path), spec)
    assert _field_of(info.value) in names, info.value
    assert await _jobs(_url(tmp_path)) == 0


@SETTINGS
@given(data=st.data(), argument=st.sampled_from([*sorted(BAD_WAIT), "job"]))
async def test_wait_for_job_refuses_every_bad_argument_before_reading_the_job(
    data: st.DataObject, argument: str, tmp_path: Path
) -> None:
    job: Any = {"platform": f"local://{tmp_path}/home", "id": "j-1"}
    kwargs: dict[str, Any] = {}
    if argument == "job":
        job = data.draw(st.one_of(st.none(), st.integers(), st.just({"id": 1})))
    else:
        kwargs[argument] = data.draw(BAD_WAIT[argument])
    with pytest.raises(ConfigError) as info:
        await asyncio.wait_for(wait_for_job.fn(_url(tmp_path), job, **kwargs), 20)
    # job_ref_from names what it could not read (``job`` or one of its parts)
    assert _field_of(info.value) in (argument, "job", "ref"), info.value


BAD_BLOCK: dict[str, st.SearchStrategy[Any]] = {
    "queue_timeout": bad_seconds,
    "run_timeout": bad_seconds,
    "timeout": bad_seconds,
    "poll_frequency_seconds": bad_seconds,
    "follow_logs": bad_flags,
    "cancel_on_kill": bad_flags,
    "priority": st.one_of(st.integers(min_value=1001), st.just(-(2**63) - 1)),
    "job_name": st.just("n" * 201),
    "max_retries": st.integers(min_value=1001),
    "inputs": st.just({"i" * 300: "m:latest"}),
    "env": st.one_of(st.just(["A=B"]), st.just({"A": None})),
}
BLOCK_FIELD = {"job_name": "name"}


@SETTINGS
@given(data=st.data(), argument=st.sampled_from(sorted(BAD_BLOCK)))
async def test_a_job_block_refuses_a_bad_field_before_its_trigger_submits(
    data: st.DataObject, argument: str, tmp_path: Path
) -> None:
    value = data.draw(BAD_BLOCK[argument])

    async def trigger() -> None:
        block = JobRelayJob(
            credentials=JobRelayCredentials(platform=_url(tmp_path)),
            entrypoint="true",
            **{argument: value},
        )
        await block.trigger()

    with pytest.raises(ConfigError) as info:
        await trigger()
    assert _field_of(info.value) in (argument, BLOCK_FIELD.get(argument)), info.value
    assert await _jobs(_url(tmp_path)) == 0
